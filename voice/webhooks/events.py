"""Firing webhook events: an action's change becomes one WebhookEvent and a delivery to each
endpoint that listens for it, written in the action's transaction.

So a rolled-back action fires nothing and a committed one loses nothing: the event, its
deliveries and their queued jobs commit with the change. The payload is what the receiver gets,
`{"id", "type", "created", "livemode", "data"}`; `data.object` is the thing that changed, as
the API shows it (an API key by its masked form: no payload ever holds a secret).

Test mode is a separate world here too: an object made with a test key fires with
`livemode: false`, to the account's endpoints made with test keys only.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account
from voice.models import WEBHOOK_EVENT_CATALOGUE, WEBHOOK_EVENTS, Webhook, WebhookDelivery
from voice.models import WebhookEvent as WebhookEventModel
from voice.webhooks.delivery import enqueue_delivery
from voxkeys.db.prepared import PreparedQuery

__all__ = ["WEBHOOK_EVENTS", "WEBHOOK_EVENT_CATALOGUE", "TEST_EVENT", "emit", "emit_each"]

# Sent by "Send test event" to one endpoint, whatever it subscribes to; not subscribable, so
# a receiver can tell a test from anything real by its type alone.
TEST_EVENT = "webhook.test"
EVENT_ID_PREFIX = "evt_"
# Endpoints still sent to: a failing one keeps getting events, a disabled one gets none.
RECEIVING = (Webhook.Status.ENABLED, Webhook.Status.FAILING)


def new_event_id() -> str:
    return EVENT_ID_PREFIX + secrets.token_hex(16)


def _any_webhook_query(account_id: int) -> QuerySet[Webhook, tuple[Any, ...]]:
    return Webhook.objects.filter(account_id=account_id).values_list("pk")[:1]


# Most accounts have no endpoint, and every API write asks: a prepared query (planned once per
# connection, no queryset built) answers them for less than the ORM query below would cost.
_any_webhook = PreparedQuery(Webhook, _any_webhook_query, 0)


def listening_endpoints(*, account: Account, livemode: bool, event_type: str) -> list[Webhook]:
    """The account's endpoints in `livemode` that receive `event_type`.

    One prepared query when the account has no endpoint at all; a second when it has some.
    """
    if _any_webhook(account.pk) is None:
        return []
    candidates = Webhook.objects.filter(
        account_id=account.pk, livemode=livemode, status__in=RECEIVING
    ).only("pk", "events")
    # The subscription is a short JSON list; matching it here works on SQLite and PostgreSQL.
    return [webhook for webhook in candidates if event_type in webhook.events]


def emit(
    *, account: Account, livemode: bool, event_type: str, data: Mapping[str, Any]
) -> WebhookEventModel | None:
    """Fire `event_type` about `data` to the endpoints listening; None when none listens.

    Call inside the action's transaction. Costs one prepared query when the account has no
    endpoint.
    """
    fired = emit_each(account=account, livemode=livemode, event_type=event_type, items=[data])
    return fired[0] if fired else None


def emit_each(
    *,
    account: Account,
    livemode: bool,
    event_type: str,
    items: Iterable[Mapping[str, Any]],
) -> list[WebhookEventModel]:
    """Fire one `event_type` event per item of `items` (an import), finding the endpoints once."""
    if event_type not in WEBHOOK_EVENT_CATALOGUE:
        raise ValueError(f"{event_type!r} is not in the webhook event catalogue.")
    endpoints = listening_endpoints(account=account, livemode=livemode, event_type=event_type)
    if not endpoints:
        return []
    return fire(
        account=account, livemode=livemode, event_type=event_type, items=items, to=endpoints
    )


def fire(
    *,
    account: Account,
    livemode: bool,
    event_type: str,
    items: Iterable[Mapping[str, Any]],
    to: list[Webhook],
) -> list[WebhookEventModel]:
    """Write the events and a delivery of each to every endpoint in `to`, and queue them."""
    now = timezone.now()
    events = []
    for data in items:
        public_id = new_event_id()
        payload = {
            "id": public_id,
            "type": event_type,
            "created": now.isoformat(),
            "livemode": livemode,
            "data": dict(data),
        }
        events.append(
            WebhookEventModel(
                account_id=account.pk,
                livemode=livemode,
                public_id=public_id,
                event_type=event_type,
                payload=payload,
                created_at=now,
            )
        )
    events = WebhookEventModel.objects.bulk_create(events)
    deliveries = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(event=event, webhook=webhook, next_attempt_at=now, created_at=now)
        for event in events
        for webhook in to
    )
    for delivery in deliveries:
        enqueue_delivery(delivery)
    return events
