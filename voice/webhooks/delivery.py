"""Stand-in for the delivery branch's delivery job (its version replaces this file): the two
calls the event services make, each queueing a delivery's next attempt."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone
from django_tasks import task

from voice.models import WebhookDelivery


@task(queue_name="webhooks")
def deliver_webhook(delivery_id: int) -> None:
    """Make the delivery's next attempt (the delivery branch's job sends it)."""


def enqueue_delivery(delivery: WebhookDelivery, *, run_after: datetime | None = None) -> None:
    """Queue the delivery's next attempt, in the caller's transaction."""
    deliver_webhook.using(run_after=run_after).enqueue(delivery.pk)


def redeliver(delivery: WebhookDelivery) -> None:
    """Queue a new attempt now, whatever the delivery's status."""
    delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.PENDING, timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    enqueue_delivery(delivery)
