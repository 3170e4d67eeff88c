"""Deploy checks for webhooks (`manage.py check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


@register(Tags.security, deploy=True)
def check_encryption_keys(**kwargs: Any) -> list[CheckMessage]:
    if settings.WEBHOOK_ENCRYPTION_KEYS or settings.DEBUG:
        return []
    return [
        Warning(
            "WEBHOOK_ENCRYPTION_KEYS is not set: webhook signing secrets are encrypted with a key "
            "derived from SECRET_KEY.",
            hint="Set WEBHOOK_ENCRYPTION_KEYS to a Fernet key (README: Webhooks), so a leaked "
            "SECRET_KEY does not reveal them and rotating SECRET_KEY keeps them readable.",
            id="voice.W001",
        )
    ]
