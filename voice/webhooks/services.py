"""Managing an account's webhook endpoints: the only path the API, the webhooks page and the
admin take to change one, or to send, test or redeliver through it.

An endpoint's signing secret is returned once, by create_webhook and rotate_secret, and
stored only encrypted (voice.webhooks.secrets): nothing else ever shows it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, NamedTuple, TypeVar

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import Account
from voice.models import Webhook, WebhookDelivery
from voice.objects import webhook_json
from voice.validation import FieldError, clean_events, clean_webhook_url
from voice.webhooks.delivery import WebhookDisabled, redeliver
from voice.webhooks.events import TEST_EVENT, fire
from voice.webhooks.secrets import encrypt_secret, new_signing_secret

# After a rotation the previous secret signs too for this long, so receivers can switch over.
PREVIOUS_SECRET_LIFETIME = timedelta(hours=24)
Cleaned = TypeVar("Cleaned")


class CreatedWebhook(NamedTuple):
    webhook: Webhook
    secret: str  # shown once, then only its encrypted form exists


class InvalidWebhook(Exception):
    """Some fields are not acceptable; `errors` maps each to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def checked(
    rule: Callable[[Any], Cleaned], value: Any, field: str, errors: dict[str, list[str]]
) -> Cleaned | None:
    """Apply one of voice.validation's rules, collecting its message under `field`."""
    try:
        return rule(value)
    except FieldError as error:
        errors[field] = [str(error)]
        return None


@transaction.atomic
def create_webhook(
    *, account: Account, livemode: bool, url: str, events: Sequence[str]
) -> CreatedWebhook:
    """Register an endpoint for the account's `livemode` events, with a new signing secret.

    Raises InvalidWebhook, creating nothing, for a URL or events the rules refuse.
    """
    errors: dict[str, list[str]] = {}
    cleaned_url = checked(clean_webhook_url, url, "url", errors)
    cleaned_events = checked(clean_events, list(events), "events", errors)
    if cleaned_url is None or cleaned_events is None:
        raise InvalidWebhook(errors)
    secret = new_signing_secret()
    webhook = Webhook.objects.create(
        account=account,
        livemode=livemode,
        url=cleaned_url,
        events=cleaned_events,
        secret_encrypted=encrypt_secret(secret),
    )
    return CreatedWebhook(webhook=webhook, secret=secret)


@transaction.atomic
def update_webhook(
    *, webhook: Webhook, url: str | None = None, events: Sequence[str] | None = None
) -> Webhook:
    """Change the endpoint's URL and/or events (None: leave as it is).

    Raises InvalidWebhook, changing nothing, for a URL or events the rules refuse.
    """
    errors: dict[str, list[str]] = {}
    cleaned_url = None if url is None else checked(clean_webhook_url, url, "url", errors)
    cleaned_events = (
        None if events is None else checked(clean_events, list(events), "events", errors)
    )
    if errors:
        raise InvalidWebhook(errors)
    changed = []
    if cleaned_url is not None:
        webhook.url = cleaned_url
        changed.append("url")
    if cleaned_events is not None:
        webhook.events = cleaned_events
        changed.append("events")
    if changed:
        webhook.save(update_fields=changed)
    return webhook


@transaction.atomic
def delete_webhook(*, webhook: Webhook) -> None:
    """Remove the endpoint with its delivery log; its queued attempts find nothing to send."""
    webhook.delete()


@transaction.atomic
def rotate_secret(*, webhook: Webhook) -> str:
    """Give the endpoint a new secret and return it (shown once); for PREVIOUS_SECRET_LIFETIME
    the old one signs too, so the receiver can switch without refusing a delivery."""
    locked = Webhook.objects.select_for_update().get(pk=webhook.pk)
    secret = new_signing_secret()
    locked.previous_secret_encrypted = locked.secret_encrypted
    locked.previous_secret_expires_at = timezone.now() + PREVIOUS_SECRET_LIFETIME
    locked.secret_encrypted = encrypt_secret(secret)
    locked.save(
        update_fields=[
            "secret_encrypted",
            "previous_secret_encrypted",
            "previous_secret_expires_at",
        ]
    )
    webhook.refresh_from_db()
    return secret


@transaction.atomic
def enable_webhook(*, webhook: Webhook) -> Webhook:
    """Send to the endpoint again: a disabled one gets new events, a failing one starts afresh.

    Deliveries failed while it was disabled stay failed; redeliver the ones still wanted.
    """
    webhook.status = Webhook.Status.ENABLED
    webhook.failing_since = webhook.disabled_at = None
    webhook.disabled_reason = ""
    webhook.save(update_fields=["status", "failing_since", "disabled_at", "disabled_reason"])
    return webhook


@transaction.atomic
def send_test_event(*, webhook: Webhook) -> WebhookDelivery:
    """Send a TEST_EVENT ("webhook.test") to this endpoint only, whatever it subscribes to.

    Raises WebhookDisabled for a disabled endpoint.
    """
    if webhook.status == Webhook.Status.DISABLED:
        raise WebhookDisabled(webhook)
    data = {
        "object": webhook_json(webhook),
        "message": "A test event sent from VoxPria: your endpoint is reachable and verifies "
        "our signature.",
    }
    (event,) = fire(
        account=webhook.account,
        livemode=webhook.livemode,
        event_type=TEST_EVENT,
        items=[data],
        to=[webhook],
    )
    return event.deliveries.get()


@transaction.atomic
def redeliver_delivery(*, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send the delivery's event again now, as a new attempt, whatever its status.

    Raises WebhookDisabled when its endpoint is disabled.
    """
    if delivery.webhook.status == Webhook.Status.DISABLED:
        raise WebhookDisabled(delivery.webhook)
    redeliver(delivery)
    return delivery


def recent_deliveries(webhook: Webhook) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first, each with its event and attempts."""
    return (
        webhook.deliveries.select_related("event")
        .prefetch_related("log")
        .order_by("-created_at", "-id")
    )
