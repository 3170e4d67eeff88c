"""Re-encrypt every webhook signing secret with the first of WEBHOOK_ENCRYPTION_KEYS.

Run after prepending a new key; drop the old key only once this has printed no unreadable
secret. Idempotent, and safe to run twice at once (each row is rewritten under its lock).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from voice.models import Webhook
from voice.webhooks.secrets import SecretUnreadable, reencrypt_secret


class Command(BaseCommand):
    help = (
        "Re-encrypt webhook signing secrets with the first key of WEBHOOK_ENCRYPTION_KEYS "
        "(after prepending a new key; then drop the old one)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        unreadable: list[int] = []
        for webhook_id in Webhook.objects.order_by("pk").values_list("pk", flat=True):
            try:
                rotated += reencrypt_webhook(webhook_id)
            except SecretUnreadable:
                unreadable.append(webhook_id)
        self.stdout.write(f"Webhook signing secrets re-encrypted: {rotated}.")
        if unreadable:
            raise CommandError(
                "No key in WEBHOOK_ENCRYPTION_KEYS decrypts the secrets of webhooks "
                f"{', '.join(map(str, unreadable))}: keep the key that encrypted them."
            )


@transaction.atomic
def reencrypt_webhook(webhook_id: int) -> int:
    """Re-encrypt one webhook's secrets; return 1 if it had any, else 0."""
    webhook = Webhook.objects.select_for_update().filter(pk=webhook_id).first()
    if webhook is None or not webhook.secret_encrypted:
        return 0
    webhook.secret_encrypted = reencrypt_secret(webhook.secret_encrypted)
    if webhook.previous_secret_encrypted:
        webhook.previous_secret_encrypted = reencrypt_secret(webhook.previous_secret_encrypted)
    webhook.save(update_fields=["secret_encrypted", "previous_secret_encrypted"])
    return 1
