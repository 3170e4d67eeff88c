"""The signed-in request: what accounts.middleware and django-htmx add, for views to rely on."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
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


def safe_next_url(request: HttpRequest) -> str:
    """Return the request's `next` (POST, else GET) if it is a URL of this site, else the
    dashboard's: a page that sends people on must not send them to another site."""
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return reverse("dashboard")
