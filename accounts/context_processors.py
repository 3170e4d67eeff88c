from __future__ import annotations

from accounts.models import Membership
from accounts.requests import AccountRequest


def current_account(request: AccountRequest) -> dict[str, object]:
    membership = getattr(request, "membership", None)
    if membership is None:
        return {}
    return {
        "current_membership": membership,
        "current_account": membership.account,
        # A queryset, so pages that don't render the switcher don't pay for it.
        "switchable_memberships": Membership.objects.for_user(request.user),
    }
