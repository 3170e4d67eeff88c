"""Second-factor throttle: `LOGIN_FAILURE_LIMIT` wrong codes per user and IP address lock the
step for `LOGIN_LOCKOUT_MINUTES` after the latest one.

Six-digit codes are guessable online if nothing slows the guessing: a million codes, three
accepted at any moment (the previous, current and next step). So each attempt is counted
*before* its code is checked, as the password lockout does (accounts/lockout.py): reserving it
locks the (user, address) row, refuses the attempt if the count already reaches the limit, else
adds one, and commits before the check. However many requests race, at most the limit of codes
get checked. A right code then clears the count; a wrong one just keeps its reservation.
Attempts refused during a lock are not counted, so the lock ends when its page says it will.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import SecondFactorAttempts, User

# Requests with no client address (none reached Django) share one counter: failing closed.
UNKNOWN_ADDRESS = "0.0.0.0"


@dataclass(frozen=True, slots=True)
class Reservation:
    """The outcome of asking to check a code: allowed, or locked until `retry_at`."""

    allowed: bool
    retry_at: datetime | None = None

    def retry_after_seconds(self) -> int:
        """Seconds until the lock ends, for the Retry-After header (at least 1)."""
        if self.retry_at is None:
            return 1
        return max(1, math.ceil((self.retry_at - timezone.now()).total_seconds()))


def lockout_period() -> timedelta:
    return timedelta(minutes=settings.LOGIN_LOCKOUT_MINUTES)


@transaction.atomic
def reserve_attempt(*, user: User, ip_address: str | None) -> Reservation:
    """Count one second-factor attempt unless the count already locks the step."""
    now = timezone.now()
    attempts, _ = SecondFactorAttempts.objects.get_or_create(
        user=user, ip_address=ip_address or UNKNOWN_ADDRESS, defaults={"latest_at": now}
    )
    # Re-read under a row lock: concurrent reservations for this pair now wait for each other.
    attempts = SecondFactorAttempts.objects.select_for_update().get(pk=attempts.pk)
    retry_at = attempts.latest_at + lockout_period()
    if retry_at <= now:
        attempts.failures = 0
    if attempts.failures >= settings.LOGIN_FAILURE_LIMIT:
        return Reservation(allowed=False, retry_at=retry_at)
    attempts.failures += 1
    attempts.latest_at = now
    attempts.save(update_fields=["failures", "latest_at"])
    return Reservation(allowed=True)


@transaction.atomic
def clear_attempts(*, user: User, ip_address: str | None) -> None:
    """Forget the attempts counted for this user from this address: a code was right."""
    SecondFactorAttempts.objects.filter(
        user=user, ip_address=ip_address or UNKNOWN_ADDRESS
    ).delete()
