"""Cron job: delete webhook events older than WEBHOOK_RETENTION_DAYS, with their deliveries and
attempts.

Idempotent and safe on several machines at once: batches of a few thousand rows, so no single
DELETE holds its locks for long; a second copy deletes what the first has not reached yet.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from voice.models import WebhookAttempt, WebhookDelivery, WebhookEvent

BATCH_SIZE = 1000


class Command(BaseCommand):
    help = (
        "Delete webhook events, deliveries and attempts older than WEBHOOK_RETENTION_DAYS (30). "
        "Safe to run from cron on several machines at once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.WEBHOOK_RETENTION_DAYS
        cutoff = timezone.now() - timedelta(days=days)
        events = 0
        while batch := list(
            WebhookEvent.objects.filter(created_at__lt=cutoff)
            .order_by("created_at")
            .values_list("pk", flat=True)[:BATCH_SIZE]
        ):
            events += delete_events(batch)
        self.stdout.write(f"Webhook events older than {days} days deleted: {events}.")


@transaction.atomic
def delete_events(event_ids: list[int]) -> int:
    """Delete these events, their deliveries and their attempts; return how many events."""
    # Children first, each one DELETE by foreign key, rather than the cascade's collection.
    WebhookAttempt.objects.filter(delivery__event_id__in=event_ids).delete()
    WebhookDelivery.objects.filter(event_id__in=event_ids).delete()
    return WebhookEvent.objects.filter(pk__in=event_ids).delete()[1].get("voice.WebhookEvent", 0)
