"""What signing in starts: the sudo-mode confirmation, the idle clock and the session's end."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from accounts.idle import record_activity
from accounts.sudo import confirm_sudo
from accounts.twofactor.factors import has_two_factor
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
