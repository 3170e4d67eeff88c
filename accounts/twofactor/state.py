"""What a session knows about its second factor.

Signing in with the password (any login: the dashboard's, the admin's) marks the session
*pending* when its user has a second factor: `TwoFactorMiddleware` then holds it on the
verification page until the factor is given, or signs it out after
`TWO_FACTOR_PENDING_SECONDS`. Giving the factor marks the session *verified*, with the time, so
the policy can ask for a recent one.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.dispatch import Signal
from django.http import HttpRequest
from django.utils import timezone

# A module import: accounts.sudo imports this module too.
from accounts import sudo

PENDING_SESSION_KEY = "two_factor_pending_since"
VERIFIED_SESSION_KEY = "two_factor_verified_at"
METHOD_SESSION_KEY = "two_factor_method"
RECOVERY_CODES_SESSION_KEY = "recovery_codes_to_show"

# Sent (request=, user=) when a session becomes usable: at sign-in for a user without a second
# factor, when the second factor is given for one with. New-browser alerts listen to it.
sign_in_completed = Signal()


def _age(session: SessionBase, key: str) -> float | None:
    """Seconds since the time stored under `key`, or None if none (or one from the future)."""
    stored = session.get(key)
    if not isinstance(stored, int | float):
        return None
    age = timezone.now().timestamp() - stored
    return age if age >= 0 else None


def mark_pending(session: SessionBase) -> None:
    """The password was right; the second factor is still to come."""
    session[PENDING_SESSION_KEY] = timezone.now().timestamp()
    session.pop(VERIFIED_SESSION_KEY, None)
    session.pop(METHOD_SESSION_KEY, None)


def is_pending(session: SessionBase) -> bool:
    return PENDING_SESSION_KEY in session


def pending_has_expired(session: SessionBase) -> bool:
    age = _age(session, PENDING_SESSION_KEY)
    return age is None or age > settings.TWO_FACTOR_PENDING_SECONDS


def mark_verified(request: HttpRequest, method: str) -> None:
    """The second factor was given (`method`: "totp", "passkey" or "recovery_code").

    It confirms sudo mode as well, as the password does.
    """
    was_pending = request.session.pop(PENDING_SESSION_KEY, None) is not None
    request.session[VERIFIED_SESSION_KEY] = timezone.now().timestamp()
    request.session[METHOD_SESSION_KEY] = method
    sudo.confirm_sudo(request)
    if was_pending:
        sign_in_completed.send(sender=None, request=request, user=request.user)


def verified_within(session: SessionBase, seconds: float) -> bool:
    age = _age(session, VERIFIED_SESSION_KEY)
    return age is not None and age <= seconds


def verified_recently(session: SessionBase) -> bool:
    """Whether the second factor was given in the last `TWO_FACTOR_RECENT_HOURS`."""
    return verified_within(session, settings.TWO_FACTOR_RECENT_HOURS * 3600)


def show_recovery_codes_once(session: SessionBase, codes: list[str]) -> None:
    """Keep new recovery codes for the next Security page, which shows them and forgets them.

    Enrolling a passkey ends in JavaScript, enrolling an app in a form post: either way the
    codes are shown by one page, once.
    """
    session[RECOVERY_CODES_SESSION_KEY] = codes


def take_recovery_codes_to_show(session: SessionBase) -> list[str]:
    codes = session.pop(RECOVERY_CODES_SESSION_KEY, None)
    return [code for code in codes if isinstance(code, str)] if isinstance(codes, list) else []
