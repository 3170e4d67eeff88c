"""Webhook signing secrets: made, sealed at rest, and the ones that sign at a given moment.

A secret is stored sealed (voxkeys/sealed.py: MultiFernet over WEBHOOK_ENCRYPTION_KEYS). Rotating
the encryption key is: prepend a new key, run `manage.py rotate_webhook_encryption` (re-encrypts
every secret with the first key), then drop the old key. Production sets the variable (a deploy
check warns), so that a leaked SECRET_KEY alone does not reveal the secrets, and the secrets
survive a SECRET_KEY rotation.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime

from voice.models import Webhook
from voxkeys import sealed

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


class SecretUnreadable(Exception):
    """No key in WEBHOOK_ENCRYPTION_KEYS decrypts this secret (a key was dropped too early)."""


def new_signing_secret() -> str:
    """Return a fresh Standard Webhooks secret: "whsec_" and base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def encrypt_secret(secret: str) -> str:
    return sealed.seal(secret)


def decrypt_secret(token: str) -> str:
    try:
        return sealed.unseal(token)
    except sealed.Unreadable:
        raise SecretUnreadable from None


def reencrypt_secret(token: str) -> str:
    """Return `token` encrypted again with the first key (for an encryption-key rotation)."""
    try:
        return sealed.reseal(token)
    except sealed.Unreadable:
        raise SecretUnreadable from None


def signing_secrets(webhook: Webhook, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous until it expires."""
    found = [decrypt_secret(webhook.secret_encrypted)] if webhook.secret_encrypted else []
    expires_at = webhook.previous_secret_expires_at
    if webhook.previous_secret_encrypted and expires_at is not None and now < expires_at:
        found.append(decrypt_secret(webhook.previous_secret_encrypted))
    return found
