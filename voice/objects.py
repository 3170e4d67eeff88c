"""The resources as the API shows them: the answers of voice.views and the `data` of the
webhook events their changes fire, one shape for both (voice.schemas declares it)."""

from __future__ import annotations

from datetime import datetime

from voice import schemas
from voice.models import Call, Campaign, Contact, Webhook, WebhookAttempt, WebhookDelivery


def timestamp(value: datetime) -> str:
    return value.isoformat()


def optional_timestamp(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def contact_json(contact: Contact) -> schemas.Contact:
    return {
        "id": contact.pk,
        "livemode": contact.livemode,
        "name": contact.name,
        "phone": contact.phone,
        "email": contact.email or None,
        "created_at": timestamp(contact.created_at),
        "updated_at": timestamp(contact.updated_at),
    }


def campaign_json(campaign: Campaign) -> schemas.Campaign:
    return {
        "id": campaign.pk,
        "livemode": campaign.livemode,
        "name": campaign.name,
        "status": campaign.status,
        "created_at": timestamp(campaign.created_at),
        "updated_at": timestamp(campaign.updated_at),
    }


def call_json(call: Call) -> schemas.Call:
    return {
        "id": call.pk,
        "livemode": call.livemode,
        "to": call.to_number,
        "status": call.status,
        "contact_id": call.contact_id,
        "campaign_id": call.campaign_id,
        "created_at": timestamp(call.created_at),
    }


def webhook_json(webhook: Webhook) -> schemas.Webhook:
    return {
        "id": webhook.pk,
        "livemode": webhook.livemode,
        "url": webhook.url,
        "events": webhook.events,
        "status": webhook.status,
        "failing_since": optional_timestamp(webhook.failing_since),
        "disabled_reason": webhook.disabled_reason or None,
        "created_at": timestamp(webhook.created_at),
    }


def attempt_json(attempt: WebhookAttempt) -> schemas.WebhookAttempt:
    return {
        "number": attempt.number,
        "started_at": timestamp(attempt.started_at),
        "duration_ms": attempt.duration_ms,
        "status_code": attempt.status_code,
        "error": attempt.error or None,
        "response_body": attempt.response_body,
    }


def delivery_json(delivery: WebhookDelivery) -> schemas.WebhookDelivery:
    """The delivery with its event and attempts (prefetch `log` when listing several)."""
    return {
        "id": delivery.pk,
        "livemode": delivery.event.livemode,
        "webhook_id": delivery.webhook_id,
        "event": delivery.event.payload,
        "status": delivery.status,
        "next_attempt_at": optional_timestamp(delivery.next_attempt_at),
        "last_attempt_at": optional_timestamp(delivery.last_attempt_at),
        "created_at": timestamp(delivery.created_at),
        "attempts": [attempt_json(attempt) for attempt in delivery.log.all()],
    }
