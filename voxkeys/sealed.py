"""Text sealed at rest: encrypted with MultiFernet over WEBHOOK_ENCRYPTION_KEYS.

The first key encrypts, every key decrypts. Without the variable a key derived from SECRET_KEY
is used, so development and tests need no setup; production sets it (a deploy check warns).
What is sealed: webhook signing secrets, and the bodies and links of queued emails (a
password-reset or invitation link must not sit readable in the job table).
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


class Unreadable(Exception):
    """No key in WEBHOOK_ENCRYPTION_KEYS opens this token (a key was dropped too early)."""


def encryption() -> MultiFernet:
    keys = settings.WEBHOOK_ENCRYPTION_KEYS or [derived_key()]
    return MultiFernet([Fernet(key) for key in keys])


def derived_key() -> str:
    """A Fernet key from SECRET_KEY, for when WEBHOOK_ENCRYPTION_KEYS is not set."""
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"voxkeys webhook secrets"
    ).derive(settings.SECRET_KEY.encode())
    return base64.urlsafe_b64encode(key).decode()


def seal(text: str) -> str:
    return encryption().encrypt(text.encode()).decode()


def unseal(token: str) -> str:
    try:
        return encryption().decrypt(token.encode()).decode()
    except InvalidToken:
        raise Unreadable from None


def reseal(token: str) -> str:
    """Return `token` encrypted again with the first key (for an encryption-key rotation)."""
    try:
        return encryption().rotate(token.encode()).decode()
    except InvalidToken:
        raise Unreadable from None
