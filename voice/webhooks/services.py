"""Stand-ins for the webhook services, on the `ui` branch only, so the Settings -> Webhooks
page has something to call: the `events` branch's module of the same name replaces this one
whole at merge. No secret is stored and nothing is sent.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import timedelta
from typing import NamedTuple

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account
from voice.models import Webhook, WebhookDelivery, WebhookEvent

TEST_EVENT_TYPE = "webhook.test"


class CreatedWebhook(NamedTuple):
    webhook: Webhook
    secret: str


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@transaction.atomic
def create_webhook(
    *, account: Account, livemode: bool, url: str, events: list[str]
) -> CreatedWebhook:
    webhook = Webhook.objects.create(account=account, livemode=livemode, url=url, events=events)
    return CreatedWebhook(webhook, new_secret())


@transaction.atomic
def update_webhook(*, webhook: Webhook, url: str, events: list[str]) -> Webhook:
    webhook.url = url
    webhook.events = events
    webhook.save(update_fields=["url", "events"])
    return webhook


@transaction.atomic
def delete_webhook(*, webhook: Webhook) -> None:
    webhook.delete()


@transaction.atomic
def rotate_secret(*, webhook: Webhook) -> str:
    webhook.previous_secret_expires_at = timezone.now() + timedelta(hours=24)
    webhook.save(update_fields=["previous_secret_expires_at"])
    return new_secret()


@transaction.atomic
def enable_webhook(*, webhook: Webhook) -> Webhook:
    webhook.status = Webhook.Status.ENABLED
    webhook.failing_since = webhook.disabled_at = None
    webhook.disabled_reason = ""
    webhook.save(update_fields=["status", "failing_since", "disabled_at", "disabled_reason"])
    return webhook


@transaction.atomic
def send_test_event(*, webhook: Webhook) -> WebhookDelivery:
    now = timezone.now()
    public_id = f"evt_{uuid.uuid4().hex}"
    event = WebhookEvent.objects.create(
        account=webhook.account,
        livemode=webhook.livemode,
        public_id=public_id,
        event_type=TEST_EVENT_TYPE,
        payload={
            "id": public_id,
            "type": TEST_EVENT_TYPE,
            "created": int(now.timestamp()),
            "livemode": webhook.livemode,
            "data": {"webhook": webhook.pk},
        },
    )
    return WebhookDelivery.objects.create(event=event, webhook=webhook, next_attempt_at=now)


@transaction.atomic
def redeliver_delivery(*, delivery: WebhookDelivery) -> WebhookDelivery:
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.save(update_fields=["status", "next_attempt_at"])
    return delivery


def recent_deliveries(webhook: Webhook) -> QuerySet[WebhookDelivery]:
    return webhook.deliveries.select_related("event").prefetch_related("log")[:50]
