"""Webhook signing secrets: made, encrypted at rest, and the ones that sign at a given moment.

A secret is stored encrypted with MultiFernet over WEBHOOK_ENCRYPTION_KEYS: the first key
encrypts, every key decrypts. Rotating the encryption key is: prepend a new key, run
`manage.py rotate_webhook_encryption` (re-encrypts every secret with the first key), then drop
the old key. Without the variable a key derived from SECRET_KEY is used, so development and
tests need no setup; production sets it (a deploy check warns), so that a leaked SECRET_KEY
alone does not reveal the secrets, and the secrets survive a SECRET_KEY rotation.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from voice.models import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


class SecretUnreadable(Exception):
    """No key in WEBHOOK_ENCRYPTION_KEYS decrypts this secret (a key was dropped too early)."""


def new_signing_secret() -> str:
    """Return a fresh Standard Webhooks secret: "whsec_" and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def encryption() -> MultiFernet:
    keys = settings.WEBHOOK_ENCRYPTION_KEYS or [derived_key()]
    return MultiFernet([Fernet(key) for key in keys])


def derived_key() -> str:
    """A Fernet key from SECRET_KEY, for when WEBHOOK_ENCRYPTION_KEYS is not set."""
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"voxkeys webhook secrets"
    ).derive(settings.SECRET_KEY.encode())
    return base64.urlsafe_b64encode(key).decode()


def encrypt_secret(secret: str) -> str:
    return encryption().encrypt(secret.encode()).decode()


def decrypt_secret(token: str) -> str:
    try:
        return encryption().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable from None


def reencrypt_secret(token: str) -> str:
    """Return `token` encrypted again with the first key (for an encryption-key rotation)."""
    try:
        return encryption().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable from None


def signing_secrets(webhook: Webhook, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous until it expires."""
    found = [decrypt_secret(webhook.secret_encrypted)] if webhook.secret_encrypted else []
    expires_at = webhook.previous_secret_expires_at
    if webhook.previous_secret_encrypted and expires_at is not None and now < expires_at:
        found.append(decrypt_secret(webhook.previous_secret_encrypted))
    return found
