"""Checking an authenticator code or a recovery code against what the user enrolled."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import RecoveryCode, User
from accounts.twofactor.factors import recovery_code_digest, recovery_codes_left
from activity.events import RequestContext


@transaction.atomic
def verify_totp_code(user: User, code: str) -> bool:
    """Whether `code` is the user's authenticator code now; each code is accepted once.

    The device row is locked so that two requests with one code cannot both pass the replay
    check (django-otp remembers the last step used, `last_t`).
    """
    device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
    return device is not None and bool(device.verify_token(code))


@transaction.atomic
def use_recovery_code(user: User, code: str, context: RequestContext) -> int | None:
    """Use up one of the user's recovery codes; return how many remain, or None if not theirs."""
    used = RecoveryCode.objects.filter(
        user=user, digest=recovery_code_digest(code), used_at__isnull=True
    ).update(used_at=timezone.now())
    return recovery_codes_left(user) if used else None
