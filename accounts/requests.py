"""The signed-in request: what accounts.middleware and django-htmx add, for views to rely on."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django_htmx.middleware import HtmxDetails

from accounts.models import Account, Membership, User


class AccountRequest(HttpRequest):
    """What accounts.middleware and django-htmx add to every signed-in request."""

    htmx: HtmxDetails
    user: User
    account: Account | None
    membership: Membership | None
    # The account whose policy holds this member on Settings -> Security, if one does.
    two_factor_required_by: Account | None


def current_account(request: AccountRequest) -> Account:
    if request.account is None:
        raise Http404("This login is not a member of any account.")
    return request.account


def staff_user(request: HttpRequest) -> User:
    """Return the admin request's user: the admin lets only signed-in staff in."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied
    return user
