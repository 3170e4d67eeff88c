"""Settings -> Security's session list: what it shows, and signing sessions out."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import UserSession
from accounts.requests import AccountRequest
from accounts.twofactor.sessions import end_other_sessions, end_session, live_sessions


def sessions_context(request: AccountRequest) -> dict[str, object]:
    """The Security page's session list (templates/accounts/security/_sessions.html)."""
    listed = live_sessions(user=request.user, current_session_key=request.session.session_key)
    return {
        "signed_in_sessions": listed,
        "has_other_sessions": any(not session.is_current for session in listed),
    }


def _back_to_sessions() -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("security") + "#sessions")


# Signing a session out needs no sudo mode: it can only take access away.
@require_POST
def end_one_session(request: AccountRequest, session_id: int) -> HttpResponse:
    try:
        ended_key = end_session(user=request.user, session_id=session_id)
    except UserSession.DoesNotExist:
        raise Http404("No such session.") from None
    if ended_key == request.session.session_key:
        logout(request)
        return HttpResponseRedirect(reverse("login"))
    messages.success(request, "The session was signed out.")
    return _back_to_sessions()


@require_POST
def end_all_other_sessions(request: AccountRequest) -> HttpResponse:
    ended = end_other_sessions(user=request.user, current_session_key=request.session.session_key)
    if ended == 1:
        messages.success(request, "1 other session was signed out.")
    else:
        messages.success(request, f"{ended} other sessions were signed out.")
    return _back_to_sessions()
