"""What a user has enrolled as a second factor."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Account, Passkey, RecoveryCode, User

RECOVERY_CODE_COUNT = 10
# Lower-case letters and digits without the look-alikes 0/o, 1/l/i.
RECOVERY_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 10  # 31**10: 49.5 bits
LAST_FACTOR_REFUSED = (
    "{accounts} requires two-factor authentication, so you cannot remove your last method. "
    "Add another method first, or ask an owner to turn the requirement off."
)


def confirmed_totp_device(user: User) -> TOTPDevice | None:
    """The user's authenticator app, once enrolment confirmed it (one per user)."""
    device: TOTPDevice | None = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    return device


def method_count(user: User) -> int:
    """How many second factors the user has: their passkeys plus their authenticator app."""
    apps: int = TOTPDevice.objects.filter(user=user, confirmed=True).count()
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


def new_recovery_code() -> str:
    """Return a code as shown: ten characters in two groups, "abcde-23456"."""
    code = "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return f"{code[:5]}-{code[5:]}"


@transaction.atomic
def issue_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes with ten new ones; return them (they exist only here).

    Recording and emailing the change is the caller's (enrolment records a factor added,
    regeneration its own event).
    """
    RecoveryCode.objects.filter(user=user).delete()
    codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, digest=recovery_code_digest(code)) for code in codes
    )
    return codes


def accounts_requiring_two_factor(user: User) -> list[Account]:
    return list(
        Account.objects.filter(memberships__user=user, require_two_factor=True).order_by("name")
    )


def last_factor_refusal(user: User) -> str | None:
    """The reason the user may not remove their last second factor now, or None if they may.

    Call with the factor about to be removed still in place.
    """
    if method_count(user) > 1:
        return None
    accounts = accounts_requiring_two_factor(user)
    if not accounts:
        return None
    return LAST_FACTOR_REFUSED.format(accounts=", ".join(account.name for account in accounts))
