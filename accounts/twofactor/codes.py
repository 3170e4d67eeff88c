"""Checking a second-factor code: an authenticator app's, or a recovery code.

Both are single-use, and both must stay so when the same code arrives twice at once: a TOTP
check locks the device row before django-otp compares the step with `last_t`, and a recovery
code is spent by one conditional UPDATE, which only one of two concurrent requests can win.
Throttling wrong codes is the caller's (the sign-in step counts attempts before checking).
"""

from __future__ import annotations

import re

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import RecoveryCode, User
from accounts.twofactor.events import record_two_factor_change
from accounts.twofactor.factors import (
    RECOVERY_CODE_ALPHABET,
    RECOVERY_CODE_LENGTH,
    recovery_code_digest,
    recovery_codes_left,
)
from activity.events import RequestContext
from activity.models import ActivityEvent

TOTP_CODE = re.compile(r"[0-9]{6}")
# From this many codes left on, the email and the Security page suggest new ones.
FEW_RECOVERY_CODES = 3


def normalized_totp_code(code: str) -> str | None:
    """The six digits of a code as typed ("123 456" too), or None if it is not six digits."""
    digits = "".join(code.split())
    return digits if TOTP_CODE.fullmatch(digits) else None


def is_well_formed_recovery_code(code: str) -> bool:
    """Whether `code` could be a recovery code (any case, spaces and dashes ignored)."""
    normalized = "".join(code.split()).replace("-", "").lower()
    return len(normalized) == RECOVERY_CODE_LENGTH and set(normalized) <= set(
        RECOVERY_CODE_ALPHABET
    )


@transaction.atomic
def verify_device_code(*, device: TOTPDevice, code: str) -> bool:
    """Whether `code` is the device's for the current, previous or next 30 s step, unused.

    An accepted code moves the device's `last_t` past its step, so it never works again.
    """
    digits = normalized_totp_code(code)
    if digits is None:
        return False
    locked = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    verified: bool = locked.verify_token(digits)
    return verified


@transaction.atomic
def verify_totp_code(*, user: User, code: str) -> bool:
    """Whether `code` is right for the user's authenticator app (confirmed), and unused."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device is not None and verify_device_code(device=device, code=code)


@transaction.atomic
def use_recovery_code(*, user: User, code: str, context: RequestContext | None) -> int | None:
    """Spend one of the user's recovery codes; return how many are left, or None if refused.

    A used, unknown or another user's code is refused. A code spent is emailed to the owner with
    the count left: if it was not them, their set was stolen.
    """
    if not is_well_formed_recovery_code(code):
        return None
    spent = RecoveryCode.objects.filter(
        user=user, digest=recovery_code_digest(code), used_at__isnull=True
    ).update(used_at=timezone.now())
    if not spent:
        return None
    left = recovery_codes_left(user)
    record_two_factor_change(
        user=user,
        event_type=ActivityEvent.Type.RECOVERY_CODE_USED,
        subject="A recovery code was used to sign in",
        template="accounts/email/two_factor_recovery_code_used.txt",
        context=context,
        details={"codes_left": left},
        email_context={"few_left": left <= FEW_RECOVERY_CODES},
    )
    return left
