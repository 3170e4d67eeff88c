"""The idle timeout: a session unused for `SESSION_IDLE_TIMEOUT` seconds is signed out.

The session keeps when it was last used. Writing it on every request would cost a database write
per page, so the time is refreshed at most once a `ACTIVITY_RESOLUTION`: a session may end up to
that much sooner than the timeout after its real last use.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone

LAST_SEEN_SESSION_KEY = "last_seen_at"
ACTIVITY_RESOLUTION = 60  # seconds


def session_is_idle(session: SessionBase) -> bool:
    last_seen = session.get(LAST_SEEN_SESSION_KEY)
    if not isinstance(last_seen, int | float):
        # Signed in before the timeout existed: it starts counting now.
        return False
    return timezone.now().timestamp() - last_seen > settings.SESSION_IDLE_TIMEOUT


def record_activity(session: SessionBase) -> bool:
    """Note that the session is in use, unless it was noted less than a minute ago; return
    whether it was noted."""
    now = timezone.now().timestamp()
    last_seen = session.get(LAST_SEEN_SESSION_KEY)
    if not isinstance(last_seen, int | float) or now - last_seen >= ACTIVITY_RESOLUTION:
        session[LAST_SEEN_SESSION_KEY] = now
        return True
    return False


def idle_timeout_in_words() -> str:
    """Return the timeout as people say it: "2 hours", "1 hour 30 minutes", "20 minutes"."""
    hours, seconds = divmod(settings.SESSION_IDLE_TIMEOUT, 3600)
    minutes = seconds // 60
    parts = [
        f"{count} {unit}{'' if count == 1 else 's'}"
        for count, unit in ((hours, "hour"), (minutes, "minute"))
        if count
    ]
    return " ".join(parts) or f"{settings.SESSION_IDLE_TIMEOUT} seconds"
