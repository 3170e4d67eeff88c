"""Signatures as the Standard Webhooks specification defines them, so that its libraries (and
any receiver following it) can check where a delivery came from and when it was signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from voice.webhooks.secrets import SECRET_PREFIX


def signature(*, secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """Return "v1,<base64 HMAC-SHA256 of id.timestamp.body>" keyed with the secret's bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signed_headers(
    *, secrets: list[str], message_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """The three headers of a delivery; one signature per secret during a rotation."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            signature(secret=secret, message_id=message_id, timestamp=timestamp, body=body)
            for secret in secrets
        ),
    }
