"""What signing in starts: the sudo-mode confirmation, the idle clock, the session's end and its
place in the session list; and what signing out ends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from accounts.idle import record_activity
from accounts.sudo import confirm_sudo
from accounts.twofactor.browsers import note_sign_in_browser
from accounts.twofactor.factors import has_two_factor
from accounts.twofactor.sessions import forget_session, record_session
from accounts.twofactor.state import mark_pending, sign_in_completed


@receiver(user_logged_in)
def start_signed_in_session(sender: type, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    # Typing the password to sign in is as good a confirmation as sudo mode asks for.
    confirm_sudo(request)
    record_activity(request.session)
    # A fixed end, SESSION_COOKIE_AGE after signing in: without it every save of the session
    # (the idle clock saves it once a minute) would push its expiry further.
    request.session.set_expiry(timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE))
    # A user with a second factor is only half signed in until they give it (accounts.twofactor).
    if has_two_factor(user):
        mark_pending(request.session)
    else:
        sign_in_completed.send(sender=None, request=request, user=user)


# After start_signed_in_session (receivers run in the order they connect), which sets the expiry.
@receiver(user_logged_in)
def list_signed_in_session(sender: type, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    record_session(request=request, user=user)


@receiver(user_logged_out)
def unlist_signed_out_session(sender: type, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    forget_session(request.session)


@receiver(sign_in_completed)
def alert_on_new_browser(sender: object, request: HttpRequest, user: Any, **kwargs: Any) -> None:
    note_sign_in_browser(request=request, user=user)
