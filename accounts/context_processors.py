from __future__ import annotations

from django.http import HttpRequest

from accounts.models import Membership


def current_account(request: HttpRequest) -> dict[str, object]:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return {
        "current_membership": membership,
        "current_account": membership.account,
        # A queryset, so pages that don't render the switcher don't pay for it.
        "switchable_memberships": Membership.objects.for_user(request.user),
    }
