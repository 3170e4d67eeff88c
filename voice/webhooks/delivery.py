"""Delivering one event to one endpoint: a job per attempt, retried on the Standard Webhooks
schedule, at least once.

`deliver_webhook(delivery_id, attempt_number)` makes attempt `attempt_number` of a delivery, or
nothing if that attempt was already made (a duplicate job, or one overtaken by a redelivery):
a job whose worker was killed runs again, and every attempt carries the event's `webhook-id`,
so the receiver deduplicates. An attempt is recorded, unfinished, before the POST: a killed
worker's attempt stays visible, and counts as in flight for IN_FLIGHT_LEASE, which is how at
most WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT deliveries run against one endpoint at once without a
counter that a killed worker could leave raised.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django_tasks import task

from accounts.notifications import manager_emails, send_to_each
from voice.models import Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent
from voice.webhooks import transport
from voice.webhooks.secrets import SecretUnreadable, signing_secrets
from voice.webhooks.signing import signed_headers
from voxkeys import metrics
from voxkeys.safetext import replace_unsafe

# The wait after each failed attempt: the first attempt is at once, the tenth a day after the
# ninth, about three days after the first.
RETRY_DELAYS = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# Spread retries by this share either way, so endpoints that failed together do not all
# retry in the same second.
JITTER = 0.1
# A receiver's Retry-After is honoured up to the schedule's longest wait.
RETRY_AFTER_LIMIT = RETRY_DELAYS[-1]
RETRY_AFTER_STATUSES = frozenset({429, 503})
# When an endpoint already has its most deliveries in flight, look again this much later.
BUSY_DELAY = timedelta(seconds=2)


class WebhookDisabled(Exception):
    """The endpoint is disabled: it must be enabled again before anything is sent to it."""

    def __init__(self, webhook: Webhook) -> None:
        super().__init__(f"Webhook {webhook.pk} is disabled.")
        self.webhook = webhook


@dataclass(frozen=True, slots=True)
class Claim:
    """An attempt recorded as started, and what to send for it."""

    attempt_id: int
    url: str
    body: bytes
    headers: dict[str, str]
    error: str  # why nothing can be sent (no readable secret); empty when it can


def in_flight_lease() -> timedelta:
    """How long an unfinished attempt counts as running: past it, its worker is gone."""
    return timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 60)


def request_body(event: WebhookEvent) -> bytes:
    """The bytes every attempt of the event sends (and signs)."""
    return json.dumps(event.payload, separators=(",", ":"), ensure_ascii=False).encode()


def enqueue_delivery(delivery: WebhookDelivery, *, run_after: datetime | None = None) -> None:
    """Enqueue the delivery's next attempt, in the caller's transaction."""
    schedule_attempt(delivery.pk, delivery.attempts + 1, run_after)


def schedule_attempt(delivery_id: int, attempt_number: int, run_after: datetime | None) -> None:
    job = deliver_webhook.using(run_after=run_after) if run_after else deliver_webhook
    job.enqueue(delivery_id, attempt_number)


@task(queue_name="webhooks")
def deliver_webhook(delivery_id: int, attempt_number: int = 1) -> str:
    """Make one attempt of a delivery, and schedule what follows; returns what it did."""
    claim = claim_attempt(delivery_id=delivery_id, attempt_number=attempt_number)
    if isinstance(claim, str):
        return claim
    if claim.error:
        result = transport.PostResult(None, b"", None, claim.error, 0)
    else:
        result = transport.post(url=claim.url, body=claim.body, headers=claim.headers)
    return record_attempt(attempt_id=claim.attempt_id, result=result)


@transaction.atomic
def claim_attempt(*, delivery_id: int, attempt_number: int) -> Claim | str:
    """Record attempt `attempt_number` as started, or say why it is not made now."""
    now = timezone.now()
    webhook_id = (
        WebhookDelivery.objects.filter(pk=delivery_id).values_list("webhook_id", flat=True).first()
    )
    if webhook_id is None:
        return "The delivery no longer exists."
    # The endpoint's row is the lock every attempt against it takes: the in-flight count below
    # is exact across workers and machines.
    webhook = Webhook.objects.select_for_update().get(pk=webhook_id)
    delivery = (
        WebhookDelivery.objects.select_for_update().select_related("event").get(pk=delivery_id)
    )
    if delivery.status != WebhookDelivery.Status.PENDING:
        return "The delivery is already finished."
    if webhook.status == Webhook.Status.DISABLED:
        finish_delivery(delivery, WebhookDelivery.Status.FAILED)
        return "The endpoint is disabled."
    lease = in_flight_lease()
    if delivery.attempts >= attempt_number:
        made = delivery.log.filter(number=delivery.attempts).first()
        if made is None or made.duration_ms is not None:
            return "This attempt was already made."
        if made.started_at > now - lease:
            # Maybe still running elsewhere; if its worker died, this job takes over then.
            schedule_attempt(delivery.pk, attempt_number, made.started_at + lease)
            return "This attempt is in flight."
    in_flight = WebhookAttempt.objects.filter(
        delivery__webhook=webhook, duration_ms__isnull=True, started_at__gt=now - lease
    ).count()
    if in_flight >= settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT:
        schedule_attempt(delivery.pk, attempt_number, now + jittered(BUSY_DELAY))
        return "The endpoint has its most deliveries in flight."
    number = delivery.attempts + 1
    attempt = WebhookAttempt.objects.create(delivery=delivery, number=number, started_at=now)
    delivery.attempts = number
    delivery.last_attempt_at = now
    delivery.next_attempt_at = None
    delivery.save(update_fields=["attempts", "last_attempt_at", "next_attempt_at"])
    body = request_body(delivery.event)
    try:
        secrets = signing_secrets(webhook, now)
    except SecretUnreadable:
        secrets = []
    if not secrets:
        # Never send unsigned: a receiver that checks would refuse it, one that does not
        # would trust anyone.
        unsigned = "The endpoint has no readable signing secret."
        return Claim(attempt.pk, webhook.url, body, {}, unsigned)
    headers = signed_headers(
        secrets=secrets,
        message_id=delivery.event.public_id,
        timestamp=int(now.timestamp()),
        body=body,
    )
    return Claim(attempt.pk, webhook.url, body, headers, "")


@transaction.atomic
def record_attempt(*, attempt_id: int, result: transport.PostResult) -> str:
    """Record what an attempt came to, and succeed, retry, fail or disable accordingly."""
    now = timezone.now()
    attempt = WebhookAttempt.objects.select_related("delivery").get(pk=attempt_id)
    webhook = Webhook.objects.select_for_update().get(pk=attempt.delivery.webhook_id)
    delivery = WebhookDelivery.objects.select_for_update().get(pk=attempt.delivery_id)
    attempt.duration_ms = result.duration_ms
    attempt.status_code = result.status_code
    attempt.error = result.error or redirect_note(result)
    attempt.response_body = replace_unsafe(
        result.body.decode("utf-8", "replace").replace("\x00", ""), keep="\n\t"
    )[: settings.WEBHOOK_RESPONSE_EXCERPT]
    attempt.save(update_fields=["duration_ms", "status_code", "error", "response_body"])
    delivered = result.status_code is not None and 200 <= result.status_code < 300
    metrics.count_webhook_delivery("delivered" if delivered else "failed")
    if delivered:
        if delivery.status == WebhookDelivery.Status.PENDING:
            finish_delivery(delivery, WebhookDelivery.Status.SUCCEEDED)
        if webhook.status == Webhook.Status.FAILING:
            webhook.status = Webhook.Status.ENABLED
            webhook.failing_since = None
            webhook.save(update_fields=["status", "failing_since"])
        return "Delivered."
    if result.status_code == 410:
        disable_webhook(webhook=webhook, reason="The endpoint answered 410 Gone.", now=now)
        return "The endpoint is gone; it is disabled."
    if webhook.status == Webhook.Status.ENABLED:
        webhook.status = Webhook.Status.FAILING
        webhook.failing_since = now
        webhook.save(update_fields=["status", "failing_since"])
    failing_for = now - (webhook.failing_since or now)
    if webhook.status == Webhook.Status.FAILING and failing_for >= timedelta(
        days=settings.WEBHOOK_DISABLE_AFTER_DAYS
    ):
        days = settings.WEBHOOK_DISABLE_AFTER_DAYS
        disable_webhook(webhook=webhook, reason=f"Every delivery failed for {days} days.", now=now)
        return "The endpoint kept failing; it is disabled."
    if delivery.status != WebhookDelivery.Status.PENDING or delivery.next_attempt_at:
        return "Failed; the delivery was redelivered or finished meanwhile."
    if delivery.attempts >= MAX_ATTEMPTS:
        finish_delivery(delivery, WebhookDelivery.Status.FAILED)
        metrics.count_webhook_delivery("gave_up")
        return "Failed; that was the last attempt."
    delay = jittered(RETRY_DELAYS[delivery.attempts - 1])
    if result.status_code in RETRY_AFTER_STATUSES:
        delay = max(delay, retry_after(result.retry_after, now) or timedelta(0))
    delivery.next_attempt_at = now + delay
    delivery.save(update_fields=["next_attempt_at"])
    schedule_attempt(delivery.pk, delivery.attempts + 1, delivery.next_attempt_at)
    return "Failed; retrying."


def redirect_note(result: transport.PostResult) -> str:
    if result.status_code is not None and 300 <= result.status_code < 400:
        return "Redirects are not followed: give the endpoint's final address."
    return ""


def finish_delivery(delivery: WebhookDelivery, status: str) -> None:
    delivery.status = status
    delivery.next_attempt_at = None
    delivery.save(update_fields=["status", "next_attempt_at"])


def jittered(delay: timedelta) -> timedelta:
    return delay * random.uniform(1 - JITTER, 1 + JITTER)


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header (seconds, or an HTTP date) as a wait, at most RETRY_AFTER_LIMIT."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        wait = timedelta(seconds=int(value))
    else:
        try:
            wait = parsedate_to_datetime(value) - now
        except (TypeError, ValueError):
            return None
    return min(max(wait, timedelta(0)), RETRY_AFTER_LIMIT)


def disable_webhook(*, webhook: Webhook, reason: str, now: datetime) -> None:
    """Disable the endpoint (its row locked by the caller), fail what was still to be sent to
    it, and tell the account's owners and admins."""
    webhook.status = Webhook.Status.DISABLED
    webhook.disabled_at = now
    webhook.disabled_reason = reason
    webhook.save(update_fields=["status", "disabled_at", "disabled_reason"])
    webhook.deliveries.filter(status=WebhookDelivery.Status.PENDING).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None
    )
    account = webhook.account
    body = render_to_string(
        "voice/email/webhook_disabled.txt",
        {
            "webhook": webhook,
            "account": account,
            "link": f"{settings.SITE_URL}/settings/webhooks/",
        },
    )
    send_to_each(
        f"[VoxPria] Webhook endpoint disabled in {account.name}", body, manager_emails(account)
    )


@transaction.atomic
def redeliver(delivery: WebhookDelivery) -> None:
    """Make a new attempt of the delivery now, whatever became of the earlier ones."""
    webhook = Webhook.objects.select_for_update().get(pk=delivery.webhook_id)
    if webhook.status == Webhook.Status.DISABLED:
        raise WebhookDisabled(webhook)
    locked = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
    locked.status = WebhookDelivery.Status.PENDING
    locked.next_attempt_at = timezone.now()
    locked.save(update_fields=["status", "next_attempt_at"])
    schedule_attempt(locked.pk, locked.attempts + 1, None)
    delivery.refresh_from_db()
