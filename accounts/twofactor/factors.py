"""What a user has enrolled as a second factor."""

from __future__ import annotations

import hashlib

from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Passkey, RecoveryCode, User


def confirmed_totp_device(user: User) -> TOTPDevice | None:
    """The user's authenticator app, once enrolment confirmed it (one per user)."""
    device: TOTPDevice | None = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device


def method_count(user: User) -> int:
    """How many second factors the user has: their passkeys plus their authenticator app."""
    apps = TOTPDevice.objects.filter(user=user, confirmed=True).count()
    return apps + Passkey.objects.filter(user=user).count()


def has_two_factor(user: User) -> bool:
    """Whether the user has a second factor (recovery codes alone are not one)."""
    return (
        TOTPDevice.objects.filter(user=user, confirmed=True).exists()
        or Passkey.objects.filter(user=user).exists()
    )


def recovery_code_digest(code: str) -> str:
    """The SHA-256 of a recovery code as people type it: any case, spaces and dashes ignored.

    A code is 50 random bits, so a fast hash is enough: no one can try 2**50 codes online, and
    a stolen table of digests cannot be reversed by guessing either.
    """
    normalized = "".join(code.split()).replace("-", "").lower()
    return hashlib.sha256(normalized.encode()).hexdigest()


def recovery_codes_left(user: User) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
