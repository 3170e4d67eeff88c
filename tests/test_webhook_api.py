"""The webhooks API: the secret shown once, edits and re-enabling, rotation, the delivery log
and test events; every bad input a JSON error with a stable code, and no change."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from accounts.models import Membership
from tests.support.api import api_client, make_key
from voice.models import Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent
from voice.webhooks.events import TEST_EVENT
from voice.webhooks.secrets import decrypt_secret
from voice.webhooks.services import PREVIOUS_SECRET_LIFETIME

pytestmark = pytest.mark.django_db

HOOK = {"url": "https://crm.example.com/hooks", "events": ["contact.created"]}


@pytest.fixture
def client(owner: Membership) -> Client:
    return api_client(make_key(owner))


def send(client: Client, method: str, path: str, body: object = None) -> Any:
    if body is None:
        return client.generic(method, path)
    return client.generic(method, path, json.dumps(body), content_type="application/json")


def created(client: Client, body: dict[str, Any] = HOOK) -> dict[str, Any]:
    response = send(client, "POST", "/api/v1/webhooks", body)
    assert response.status_code == 201, response.content
    return dict(response.json())


def error_of(response: Any) -> dict[str, Any]:
    return dict(response.json()["error"])


# Create: the secret, once --------------------------------------------------------------------


def test_creating_answers_with_the_secret_once_and_stores_it_only_encrypted(
    client: Client,
) -> None:
    webhook = created(client)

    secret = webhook.pop("secret")
    assert secret.startswith("whsec_")
    stored = Webhook.objects.get(pk=webhook["id"])
    assert secret not in stored.secret_encrypted
    assert decrypt_secret(stored.secret_encrypted) == secret
    shown = send(client, "GET", f"/api/v1/webhooks/{webhook['id']}").json()
    assert shown == webhook
    assert "secret" not in json.dumps(send(client, "GET", "/api/v1/webhooks").json())


def test_every_webhook_shows_its_status(client: Client) -> None:
    webhook = created(client)

    assert (webhook["status"], webhook["failing_since"], webhook["disabled_reason"]) == (
        "enabled",
        None,
        None,
    )


def test_two_webhooks_get_different_secrets(client: Client) -> None:
    assert created(client)["secret"] != created(client)["secret"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://169.254.169.254\\@8.8.8.8/", "events": ["call.queued"]}, "url"),
        ({"url": "https://user:pw@example.com/", "events": ["call.queued"]}, "url"),
        ({"url": "https://example.com/", "events": ["webhook.test"]}, "events"),
        ({"url": "https://example.com/", "events": []}, "events"),
        ({"url": "https://example.com/", "events": ["call.queued"], "secret": "x"}, "secret"),
    ],
)
def test_a_bad_webhook_is_refused_field_by_field_and_nothing_is_created(
    client: Client, body: dict[str, Any], field: str
) -> None:
    response = send(client, "POST", "/api/v1/webhooks", body)

    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"
    assert list(error_of(response)["fields"]) == [field]
    assert not Webhook.objects.exists()


def test_the_new_key_events_can_be_subscribed_to(client: Client) -> None:
    webhook = created(client, {"url": HOOK["url"], "events": ["api_key.leaked", "call.queued"]})

    assert webhook["events"] == ["call.queued", "api_key.leaked"]  # catalogue order


# Update and re-enable -------------------------------------------------------------------------


def test_patch_changes_the_url_and_events(client: Client) -> None:
    webhook = created(client)

    response = send(
        client,
        "PATCH",
        f"/api/v1/webhooks/{webhook['id']}",
        {"url": "https://new.example.com/h", "events": ["call.completed"]},
    )

    assert response.status_code == 200, response.content
    assert (response.json()["url"], response.json()["events"]) == (
        "https://new.example.com/h",
        ["call.completed"],
    )
    stored = Webhook.objects.get(pk=webhook["id"])
    assert (stored.url, stored.events) == ("https://new.example.com/h", ["call.completed"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "http://example.com/h"}, "url"),
        ({"events": ["call.eaten"]}, "events"),
        ({"enabled": False}, "enabled"),
        ({"enabled": "true"}, "enabled"),
        ({"status": "enabled"}, "status"),
    ],
)
def test_a_bad_patch_is_refused_and_changes_nothing(
    client: Client, body: dict[str, Any], field: str
) -> None:
    webhook = created(client)
    before = Webhook.objects.filter(pk=webhook["id"]).values().get()

    response = send(client, "PATCH", f"/api/v1/webhooks/{webhook['id']}", body)

    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"
    assert list(error_of(response)["fields"]) == [field]
    assert Webhook.objects.filter(pk=webhook["id"]).values().get() == before


def test_enabled_true_re_enables_a_disabled_webhook(client: Client) -> None:
    webhook = created(client)
    # As the delivery job leaves an endpoint that answered 410 Gone.
    Webhook.objects.filter(pk=webhook["id"]).update(
        status=Webhook.Status.DISABLED,
        failing_since=timezone.now(),
        disabled_at=timezone.now(),
        disabled_reason="The endpoint answered 410 Gone.",
    )
    shown = send(client, "GET", f"/api/v1/webhooks/{webhook['id']}").json()
    assert (shown["status"], shown["disabled_reason"]) == (
        "disabled",
        "The endpoint answered 410 Gone.",
    )
    assert shown["failing_since"] is not None

    response = send(client, "PATCH", f"/api/v1/webhooks/{webhook['id']}", {"enabled": True})

    assert response.status_code == 200
    answer = response.json()
    assert (answer["status"], answer["failing_since"], answer["disabled_reason"]) == (
        "enabled",
        None,
        None,
    )
    assert Webhook.objects.get(pk=webhook["id"]).disabled_at is None


# Rotate ---------------------------------------------------------------------------------------


def test_rotating_shows_a_new_secret_once_and_keeps_the_old_one_for_a_day(client: Client) -> None:
    webhook = created(client)
    now = timezone.now()

    with time_machine.travel(now, tick=False):
        response = send(client, "POST", f"/api/v1/webhooks/{webhook['id']}/rotate-secret")

    assert response.status_code == 200, response.content
    new_secret = response.json()["secret"]
    assert new_secret.startswith("whsec_")
    assert new_secret != webhook["secret"]
    stored = Webhook.objects.get(pk=webhook["id"])
    assert decrypt_secret(stored.secret_encrypted) == new_secret
    assert decrypt_secret(stored.previous_secret_encrypted) == webhook["secret"]
    assert stored.previous_secret_expires_at == now + PREVIOUS_SECRET_LIFETIME
    assert timedelta(hours=24) == PREVIOUS_SECRET_LIFETIME
    assert "secret" not in send(client, "GET", f"/api/v1/webhooks/{webhook['id']}").json()


# Deliveries -----------------------------------------------------------------------------------


def test_the_deliveries_list_pages_newest_first_with_each_event_and_its_attempts(
    client: Client,
) -> None:
    webhook = created(client)
    for name in ("Ada", "Bob", "Cy"):
        send(client, "POST", "/api/v1/contacts", {"name": name, "phone": "+14155550100"})
    oldest = WebhookDelivery.objects.order_by("pk").first()
    assert oldest is not None
    # What the delivery job records for a refused attempt.
    WebhookAttempt.objects.create(
        delivery=oldest, number=1, duration_ms=12, status_code=500, response_body="oops"
    )
    path = f"/api/v1/webhooks/{webhook['id']}/deliveries"

    first = send(client, "GET", path + "?limit=2").json()
    rest = send(client, "GET", f"{path}?limit=2&cursor={first['next_cursor']}").json()

    assert first["has_more"] is True
    names = [d["event"]["data"]["object"]["name"] for d in first["data"] + rest["data"]]
    assert names == ["Cy", "Bob", "Ada"]
    (ada,) = rest["data"]
    assert ada["event"]["type"] == "contact.created"
    assert (ada["status"], ada["webhook_id"], ada["livemode"]) == ("pending", webhook["id"], True)
    assert ada["attempts"] == [
        {
            "number": 1,
            "started_at": ada["attempts"][0]["started_at"],
            "duration_ms": 12,
            "status_code": 500,
            "error": None,
            "response_body": "oops",
        }
    ]


def test_the_deliveries_list_refuses_a_bad_cursor(client: Client) -> None:
    webhook = created(client)

    response = send(client, "GET", f"/api/v1/webhooks/{webhook['id']}/deliveries?cursor=nope!")

    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error"


# Test events -----------------------------------------------------------------------------------


def test_a_test_event_goes_to_that_webhook_only_whatever_it_subscribes_to(
    client: Client,
) -> None:
    webhook, other = created(client), created(client)

    response = send(client, "POST", f"/api/v1/webhooks/{webhook['id']}/test")

    assert response.status_code == 202, response.content
    delivery = response.json()
    assert delivery["event"]["type"] == TEST_EVENT == "webhook.test"
    assert delivery["event"]["data"]["object"]["id"] == webhook["id"]
    assert delivery["status"] == "pending"
    assert [d.webhook_id for d in WebhookDelivery.objects.all()] == [webhook["id"]]
    assert other["id"] != webhook["id"]


def test_a_test_keys_test_event_is_not_live(owner: Membership) -> None:
    test_client = api_client(make_key(owner, environment="test"))
    webhook = created(test_client)

    delivery = send(test_client, "POST", f"/api/v1/webhooks/{webhook['id']}/test").json()

    assert (delivery["livemode"], delivery["event"]["livemode"]) == (False, False)


def test_a_disabled_webhook_gets_no_test_event(client: Client) -> None:
    webhook = created(client)
    Webhook.objects.filter(pk=webhook["id"]).update(
        status=Webhook.Status.DISABLED, disabled_reason="Failing for 3 days."
    )

    response = send(client, "POST", f"/api/v1/webhooks/{webhook['id']}/test")

    assert response.status_code == 409
    assert error_of(response)["code"] == "webhook_disabled"
    assert "Failing for 3 days." in error_of(response)["message"]
    assert not WebhookEvent.objects.exists()


# Another account's webhooks --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PATCH", "", {"enabled": True}),
        ("POST", "/rotate-secret", None),
        ("GET", "/deliveries", None),
        ("POST", "/test", None),
    ],
)
def test_another_accounts_webhook_is_not_found_and_untouched(
    client: Client, other_owner: Membership, method: str, suffix: str, body: object
) -> None:
    theirs = created(api_client(make_key(other_owner)))
    before = Webhook.objects.filter(pk=theirs["id"]).values().get()

    response = send(client, method, f"/api/v1/webhooks/{theirs['id']}{suffix}", body)

    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert Webhook.objects.filter(pk=theirs["id"]).values().get() == before
    assert not WebhookEvent.objects.exists()
