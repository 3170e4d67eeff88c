"""Checking a second-factor code typed at sign-in or in sudo mode, throttled.

One path for both places: the attempt is reserved (accounts.twofactor.throttle) before the code
is looked at, and a right code clears the count. What the session then becomes (verified, sudo
confirmed) is the view's to decide, from the result.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from accounts.models import User
from accounts.twofactor.codes import use_recovery_code, verify_totp_code
from accounts.twofactor.throttle import clear_attempts, reserve_attempt
from activity.events import RequestContext


class CodeKind(enum.StrEnum):
    """What the person typed; the value is the method `mark_verified` records."""

    TOTP = "totp"
    RECOVERY_CODE = "recovery_code"


@dataclass(frozen=True, slots=True)
class CodeCheck:
    """A code's verdict: accepted, wrong, or not checked because the step is locked."""

    accepted: bool
    retry_at: datetime | None = None
    retry_after_seconds: int = 0
    # After a recovery code was used: how many the user has left.
    recovery_codes_left: int | None = None

    @property
    def locked(self) -> bool:
        return self.retry_at is not None


def check_code(*, user: User, kind: CodeKind, code: str, context: RequestContext) -> CodeCheck:
    """Check a well-formed code of `user`'s, counting the attempt first."""
    reservation = reserve_attempt(user=user, ip_address=context.ip_address)
    if not reservation.allowed:
        return CodeCheck(
            accepted=False,
            retry_at=reservation.retry_at,
            retry_after_seconds=reservation.retry_after_seconds(),
        )
    left = None
    if kind is CodeKind.TOTP:
        accepted = verify_totp_code(user=user, code=code)
    else:
        left = use_recovery_code(user=user, code=code, context=context)
        accepted = left is not None
    if accepted:
        clear_attempts(user=user, ip_address=context.ip_address)
    return CodeCheck(accepted=accepted, recovery_codes_left=left)
