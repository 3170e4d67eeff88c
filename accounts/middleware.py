from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse

from accounts.forms import MAX_ID
from accounts.idle import idle_timeout_in_words, record_activity, session_is_idle
from accounts.models import Membership
from accounts.requests import AccountRequest
from accounts.twofactor.browsers import set_browser_cookie
from accounts.twofactor.sessions import follow_rotated_key, note_session_seen

SESSION_ACCOUNT_KEY = "current_account_id"


def resolve_membership(request: AccountRequest) -> Membership | None:
    """Return the signed-in user's membership in the account chosen in the session.

    An id in the session that is not one of the user's own accounts (stale or forged)
    is never trusted: the user's first account is used instead.
    """
    memberships = Membership.objects.for_user(request.user)
    account_id = request.session.get(SESSION_ACCOUNT_KEY)
    membership = None
    if isinstance(account_id, int) and 0 < account_id <= MAX_ID:
        membership = memberships.filter(account_id=account_id).first()
    if membership is None:
        membership = memberships.first()
        if membership is None:
            request.session.pop(SESSION_ACCOUNT_KEY, None)
        else:
            request.session[SESSION_ACCOUNT_KEY] = membership.account_id
    return membership


class CurrentAccountMiddleware:
    """Set request.membership and request.account for signed-in pages.

    API requests are authenticated by key in api.middleware and never by session.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: AccountRequest) -> HttpResponse:
        if not request.path_info.startswith("/api/"):
            membership = None
            if request.user.is_authenticated:
                membership = resolve_membership(request)
            request.membership = membership
            request.account = membership.account if membership else None
        return self.get_response(request)


class IdleTimeoutMiddleware:
    """Sign out a session unused for SESSION_IDLE_TIMEOUT (accounts.idle), saying why.

    After AuthenticationMiddleware and MessageMiddleware, before LoginRequiredMiddleware, which
    then sends the signed-out request to the login page, where the message shows.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # API requests have no session: their key is their authentication.
        if not request.path_info.startswith("/api/") and request.user.is_authenticated:
            if session_is_idle(request.session):
                logout(request)
                messages.info(
                    request,
                    f"You were signed out after {idle_timeout_in_words()} without activity. "
                    "Log in again to continue.",
                )
            elif record_activity(request.session):
                # The session list's "last seen" moves with the idle clock: once a minute.
                note_session_seen(request.session)
        return self.get_response(request)


class SignedInSessionMiddleware:
    """Keep the session list on the session's key when it was rotated (before the view, and
    after it for a view that rotates it), and give a browser seen for the first time at sign-in
    its cookie (accounts.twofactor.browsers).

    After SessionMiddleware, which saves the session after it, and AuthenticationMiddleware;
    outside every middleware that may answer in the view's place.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # API requests have no session.
        if request.path_info.startswith("/api/"):
            return self.get_response(request)
        follow_rotated_key(request)
        response = self.get_response(request)
        follow_rotated_key(request)
        set_browser_cookie(request, response)
        return response
