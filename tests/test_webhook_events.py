"""Webhook events: each action fires its event, in its transaction, to the endpoints listening
in its mode; a test key's call completes in the worker."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.db import transaction
from django.test import Client
from django.utils import timezone

from accounts.models import Membership
from apikeys.models import ApiKey
from apikeys.notifications import send_expiry_notice
from apikeys.services import (
    create_key,
    edit_key,
    record_expiry,
    revoke_key,
    revoke_leaked_key,
    roll_key,
)
from tests.support.api import api_client, make_key
from tests.support.webhook_jobs import queued_jobs, run_ready_jobs
from voice.models import WEBHOOK_EVENTS, Call, Contact, Webhook, WebhookDelivery, WebhookEvent
from voice.services import SIMULATED_CALL_SECONDS, SIMULATED_FAILURE_NUMBER, create_contact
from voice.webhooks.events import emit
from voice.webhooks.services import create_webhook

pytestmark = pytest.mark.django_db

DELIVERY_JOB = "voice.webhooks.delivery.deliver_webhook"
SIMULATION_JOB = "voice.services.complete_simulated_call"


def endpoint(
    owner: Membership, *, livemode: bool = True, events: list[str] | None = None
) -> Webhook:
    created = create_webhook(
        account=owner.account,
        livemode=livemode,
        url=f"https://{'live' if livemode else 'test'}.example.com/hooks",
        events=events or list(WEBHOOK_EVENTS),
    )
    return created.webhook


def fired(event_type: str) -> list[dict[str, Any]]:
    """The payloads of `event_type` events, oldest first."""
    events = WebhookEvent.objects.filter(event_type=event_type).order_by("pk")
    return [event.payload for event in events]


def send(client: Client, method: str, path: str, body: object = None) -> Any:
    if body is None:
        return client.generic(method, path)
    return client.generic(method, path, json.dumps(body), content_type="application/json")


@pytest.fixture
def live(owner: Membership) -> Client:
    return api_client(make_key(owner))


@pytest.fixture
def test_mode(owner: Membership) -> Client:
    return api_client(make_key(owner, environment=ApiKey.Environment.TEST))


# The payload --------------------------------------------------------------------------------


def test_a_created_contact_fires_contact_created_with_the_contact_as_the_api_shows_it(
    owner: Membership, live: Client
) -> None:
    webhook = endpoint(owner, events=["contact.created"])

    response = send(live, "POST", "/api/v1/contacts", {"name": "Ada", "phone": "+14155550100"})

    (payload,) = fired("contact.created")
    assert set(payload) == {"id", "type", "created", "livemode", "data"}
    assert payload["id"].startswith("evt_")
    assert (payload["type"], payload["livemode"]) == ("contact.created", True)
    assert payload["data"] == {"object": response.json()}
    delivery = WebhookDelivery.objects.get()
    assert (delivery.webhook, delivery.status) == (webhook, WebhookDelivery.Status.PENDING)
    assert [job.args_kwargs["args"] for job in queued_jobs(DELIVERY_JOB)] == [[delivery.pk, 1]]


def test_an_endpoint_gets_only_the_events_it_subscribes_to(owner: Membership, live: Client) -> None:
    contacts = endpoint(owner, events=["contact.created"])
    endpoint(owner, events=["campaign.created"])

    send(live, "POST", "/api/v1/contacts", {"name": "Ada", "phone": "+14155550100"})

    assert [delivery.webhook for delivery in WebhookDelivery.objects.all()] == [contacts]


def test_a_test_keys_object_fires_with_livemode_false_to_test_endpoints_only(
    owner: Membership, test_mode: Client
) -> None:
    endpoint(owner, livemode=True)
    test_endpoint = endpoint(owner, livemode=False)

    send(test_mode, "POST", "/api/v1/contacts", {"name": "Ada", "phone": "+14155550100"})

    assert [payload["livemode"] for payload in fired("contact.created")] == [False]
    assert [delivery.webhook for delivery in WebhookDelivery.objects.all()] == [test_endpoint]


def test_a_live_object_never_reaches_a_test_endpoint(owner: Membership, live: Client) -> None:
    endpoint(owner, livemode=False)

    send(live, "POST", "/api/v1/contacts", {"name": "Ada", "phone": "+14155550100"})

    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_a_disabled_endpoint_gets_nothing_and_a_failing_one_still_does(
    owner: Membership, live: Client
) -> None:
    disabled, failing = endpoint(owner), endpoint(owner)
    Webhook.objects.filter(pk=disabled.pk).update(status=Webhook.Status.DISABLED)
    Webhook.objects.filter(pk=failing.pk).update(
        status=Webhook.Status.FAILING, failing_since=timezone.now()
    )

    send(live, "POST", "/api/v1/contacts", {"name": "Ada", "phone": "+14155550100"})

    assert [delivery.webhook for delivery in WebhookDelivery.objects.all()] == [failing]


def test_another_accounts_endpoint_hears_nothing(
    owner: Membership, other_owner: Membership, live: Client
) -> None:
    endpoint(other_owner)

    send(live, "POST", "/api/v1/contacts", {"name": "Ada", "phone": "+14155550100"})

    assert not WebhookEvent.objects.exists()


def test_an_account_without_endpoints_pays_one_query_and_gets_no_event(
    owner: Membership, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        result = emit(
            account=owner.account, livemode=True, event_type="contact.created", data={"x": 1}
        )

    assert result is None
    assert not WebhookEvent.objects.exists()


def test_with_endpoints_but_none_listening_an_action_writes_no_event(
    owner: Membership, django_assert_num_queries: Any
) -> None:
    endpoint(owner, events=["campaign.created"])

    with django_assert_num_queries(2):
        result = emit(
            account=owner.account, livemode=True, event_type="contact.created", data={"x": 1}
        )

    assert result is None
    assert not WebhookEvent.objects.exists()


def test_a_rolled_back_action_fires_nothing(owner: Membership) -> None:
    endpoint(owner)

    with pytest.raises(RuntimeError), transaction.atomic():
        create_contact(account=owner.account, livemode=True, name="Ada", phone="+14155550100")
        raise RuntimeError("the rest of the action failed")

    assert not Contact.objects.exists()
    assert not WebhookEvent.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert not queued_jobs(DELIVERY_JOB)


def test_an_unknown_event_type_is_refused(owner: Membership) -> None:
    with pytest.raises(ValueError, match="catalogue"):
        emit(account=owner.account, livemode=True, event_type="contact.eaten", data={})


# Every event type, fired by its action --------------------------------------------------------


def contact_id(live: Client) -> int:
    response = send(live, "POST", "/api/v1/contacts", {"name": "Ada", "phone": "+14155550100"})
    return int(response.json()["id"])


def campaign_id(live: Client) -> int:
    return int(send(live, "POST", "/api/v1/campaigns", {"name": "Spring"}).json()["id"])


def api_key(owner: Membership) -> ApiKey:
    return create_key(
        account=owner.account, user=owner.user, name="Billing sync", scopes=["calls:read"]
    ).api_key


# Each returns the `data.object` the event must carry.
def contact_created(owner: Membership, live: Client) -> dict[str, Any]:
    return dict(send(live, "POST", "/api/v1/contacts", {"name": "Ada", "phone": "+1415"}).json())


def contacts_imported(owner: Membership, live: Client) -> dict[str, Any]:
    body = [{"name": "Ada", "phone": "+14155550100"}, {"name": "Bob", "phone": "+14155550101"}]
    return dict(send(live, "POST", "/api/v1/contacts", body).json()["data"][0])


def contact_updated(owner: Membership, live: Client) -> dict[str, Any]:
    pk = contact_id(live)
    return dict(send(live, "PATCH", f"/api/v1/contacts/{pk}", {"name": "Ada L."}).json())


def contact_deleted(owner: Membership, live: Client) -> dict[str, Any]:
    pk = contact_id(live)
    shown = send(live, "GET", f"/api/v1/contacts/{pk}").json()
    assert send(live, "DELETE", f"/api/v1/contacts/{pk}").status_code == 204
    return dict(shown)


def campaign_created(owner: Membership, live: Client) -> dict[str, Any]:
    return dict(send(live, "POST", "/api/v1/campaigns", {"name": "Spring"}).json())


def campaign_updated(owner: Membership, live: Client) -> dict[str, Any]:
    pk = campaign_id(live)
    return dict(send(live, "PATCH", f"/api/v1/campaigns/{pk}", {"status": "active"}).json())


def call_queued(owner: Membership, live: Client) -> dict[str, Any]:
    return dict(send(live, "POST", "/api/v1/calls", {"phone": "+14155550100"}).json())


def call_ended(phone: str) -> Callable[[Membership, Client], dict[str, Any]]:
    def action(owner: Membership, live: Client) -> dict[str, Any]:
        test_key = api_client(make_key(owner, environment=ApiKey.Environment.TEST))
        send(test_key, "POST", "/api/v1/calls", {"phone": phone})
        with time_machine.travel(timezone.now() + timedelta(seconds=SIMULATED_CALL_SECONDS)):
            run_ready_jobs()
        return dict(send(test_key, "GET", "/api/v1/calls").json()["data"][0])

    return action


def key_created(owner: Membership, live: Client) -> dict[str, Any]:
    return {"id": api_key(owner).pk, "name": "Billing sync"}


def key_edited(owner: Membership, live: Client) -> dict[str, Any]:
    key = edit_key(
        key=api_key(owner), user=owner.user, name="Billing", description="", scopes=["calls:read"]
    ).api_key
    return {"id": key.pk, "name": "Billing"}


def key_rolled(owner: Membership, live: Client) -> dict[str, Any]:
    key = api_key(owner)
    roll_key(key=key, user=owner.user, grace=timedelta(hours=1))
    return {"id": key.pk, "status": "rolled"}


def key_revoked(owner: Membership, live: Client) -> dict[str, Any]:
    key = revoke_key(key=api_key(owner), user=owner.user)
    return {"id": key.pk, "status": "revoked"}


def key_expiring(owner: Membership, live: Client) -> dict[str, Any]:
    key = api_key(owner)
    assert send_expiry_notice(key=key, days=7, now=timezone.now())
    return {"id": key.pk}


def key_expired(owner: Membership, live: Client) -> dict[str, Any]:
    key = api_key(owner)
    assert key.expires_at is not None
    with time_machine.travel(key.expires_at + timedelta(seconds=1)):
        assert record_expiry(key=key)
    return {"id": key.pk}


def key_leaked(owner: Membership, live: Client) -> dict[str, Any]:
    key = api_key(owner)
    assert revoke_leaked_key(key=key, url="https://github.com/acme/app/blob/main/.env", source="x")
    return {"id": key.pk, "status": "revoked"}


ACTIONS: dict[str, Callable[[Membership, Client], dict[str, Any]]] = {
    "call.queued": call_queued,
    "call.completed": call_ended("+14155550100"),
    "call.failed": call_ended(SIMULATED_FAILURE_NUMBER),
    "campaign.created": campaign_created,
    "campaign.updated": campaign_updated,
    "contact.created": contact_created,
    "contact.updated": contact_updated,
    "contact.deleted": contact_deleted,
    "api_key.created": key_created,
    "api_key.edited": key_edited,
    "api_key.rolled": key_rolled,
    "api_key.revoked": key_revoked,
    "api_key.expiring": key_expiring,
    "api_key.expired": key_expired,
    "api_key.leaked": key_leaked,
}


def test_every_event_in_the_catalogue_has_an_action_here() -> None:
    assert list(ACTIONS) == list(WEBHOOK_EVENTS)


@pytest.mark.parametrize("event_type", list(ACTIONS))
def test_each_action_fires_its_event_with_its_object(
    owner: Membership, live: Client, event_type: str
) -> None:
    endpoint(owner, livemode=True, events=[event_type])
    endpoint(owner, livemode=False, events=[event_type])

    expected = ACTIONS[event_type](owner, live)

    payloads = fired(event_type)
    assert len(payloads) >= 1
    payload = payloads[0]
    assert payload["type"] == event_type
    assert expected.items() <= payload["data"]["object"].items()
    deliveries = WebhookDelivery.objects.filter(event__event_type=event_type)
    assert {d.webhook.livemode for d in deliveries} == {payload["livemode"]}


def test_an_import_fires_one_contact_created_per_contact(owner: Membership, live: Client) -> None:
    endpoint(owner, events=["contact.created"])

    contacts_imported(owner, live)

    assert [p["data"]["object"]["name"] for p in fired("contact.created")] == ["Ada", "Bob"]
    assert WebhookDelivery.objects.count() == 2


def test_an_update_says_what_changed_and_a_change_to_nothing_fires_nothing(
    owner: Membership, live: Client
) -> None:
    endpoint(owner, events=["contact.updated"])
    pk = contact_id(live)

    send(live, "PATCH", f"/api/v1/contacts/{pk}", {"name": "Ada L.", "phone": "+14155550100"})
    send(live, "PATCH", f"/api/v1/contacts/{pk}", {"name": "Ada L."})

    (payload,) = fired("contact.updated")
    assert payload["data"]["object"]["name"] == "Ada L."
    assert payload["data"]["previous_attributes"] == {"name": "Ada"}


def test_key_events_show_the_masked_key_and_never_the_secret(owner: Membership) -> None:
    endpoint(owner, events=["api_key.created", "api_key.rolled"])

    created = create_key(
        account=owner.account, user=owner.user, name="Billing sync", scopes=["calls:read"]
    )
    rolled = roll_key(key=created.api_key, user=owner.user, grace=timedelta(0))

    (payload,) = fired("api_key.created")
    key = payload["data"]["object"]
    assert key["masked_key"] == created.api_key.masked_key
    assert (key["scopes"], key["livemode"], key["status"]) == (["calls:read"], True, "active")
    assert payload["data"]["actor"] == {"email": owner.user.email, "ip_address": None}
    (roll,) = fired("api_key.rolled")
    assert roll["data"]["new_api_key"]["masked_key"] == rolled.api_key.masked_key
    stored = json.dumps(list(WebhookEvent.objects.values_list("payload", flat=True)))
    for secret in (created.secret, rolled.secret):
        assert secret not in stored
        assert secret.removeprefix("vxp_live_")[:10] not in stored
    assert created.api_key.key_digest not in stored


def test_a_test_keys_key_events_go_to_test_endpoints(owner: Membership) -> None:
    live_endpoint = endpoint(owner, livemode=True, events=["api_key.created"])
    test_endpoint = endpoint(owner, livemode=False, events=["api_key.created"])

    make_key(owner, environment=ApiKey.Environment.TEST)
    make_key(owner, environment=ApiKey.Environment.LIVE)

    assert [p["livemode"] for p in fired("api_key.created")] == [False, True]
    assert [d.webhook for d in WebhookDelivery.objects.order_by("pk")] == [
        test_endpoint,
        live_endpoint,
    ]


def test_an_edit_lists_each_changed_field_old_and_new(owner: Membership) -> None:
    endpoint(owner, events=["api_key.edited"])
    key = api_key(owner)

    edit_key(key=key, user=owner.user, name="Billing", description="", scopes=["calls:write"])

    (payload,) = fired("api_key.edited")
    assert payload["data"]["changes"] == {
        "name": {"old": "Billing sync", "new": "Billing"},
        "scopes": {"old": ["calls:read"], "new": ["calls:write"]},
    }


def test_a_leak_says_where_the_key_was_found(owner: Membership) -> None:
    endpoint(owner, events=["api_key.leaked"])
    key = api_key(owner)

    revoke_leaked_key(key=key, url="https://github.com/acme/app/blob/main/.env", source="github")

    (payload,) = fired("api_key.leaked")
    assert payload["data"]["found_at"] == "https://github.com/acme/app/blob/main/.env"
    assert payload["data"]["actor"] is None


def test_an_expiry_notice_sent_once_fires_api_key_expiring_once(owner: Membership) -> None:
    endpoint(owner, events=["api_key.expiring"])
    key = api_key(owner)
    now = timezone.now()

    assert send_expiry_notice(key=key, days=7, now=now)
    assert not send_expiry_notice(key=key, days=7, now=now)

    (payload,) = fired("api_key.expiring")
    assert payload["data"]["notice"] == "7d"
    assert payload["data"]["expires_at"] == key.expires_at.isoformat()  # type: ignore[union-attr]


# Simulated calls ------------------------------------------------------------------------------


def test_a_test_call_is_queued_then_completed_by_the_worker_seconds_later(
    owner: Membership, test_mode: Client
) -> None:
    endpoint(owner, livemode=False, events=["call.completed"])
    placed_at = timezone.now()
    with time_machine.travel(placed_at, tick=False):
        call = send(test_mode, "POST", "/api/v1/calls", {"phone": "+14155550100"}).json()
    assert call["status"] == "queued"

    with time_machine.travel(placed_at + timedelta(seconds=SIMULATED_CALL_SECONDS - 1)):
        run_ready_jobs()
    assert Call.objects.get(pk=call["id"]).status == Call.Status.QUEUED
    assert not fired("call.completed")

    with time_machine.travel(placed_at + timedelta(seconds=SIMULATED_CALL_SECONDS)):
        run_ready_jobs()
    assert Call.objects.get(pk=call["id"]).status == Call.Status.COMPLETED
    (payload,) = fired("call.completed")
    assert payload["data"]["object"] == {**call, "status": "completed"}
    assert payload["livemode"] is False


def test_a_simulated_call_completed_twice_fires_once(owner: Membership, test_mode: Client) -> None:
    endpoint(owner, livemode=False, events=["call.completed"])
    call = send(test_mode, "POST", "/api/v1/calls", {"phone": "+14155550100"}).json()
    (job,) = queued_jobs(SIMULATION_JOB)

    for _ in range(2):  # the queue delivers at least once: a job may run again
        job.task.call(call["id"])

    assert len(fired("call.completed")) == 1


def test_a_live_call_stays_queued(owner: Membership, live: Client) -> None:
    call = send(live, "POST", "/api/v1/calls", {"phone": "+14155550100"}).json()

    with time_machine.travel(timezone.now() + timedelta(minutes=10)):
        run_ready_jobs()

    assert Call.objects.get(pk=call["id"]).status == Call.Status.QUEUED
    assert not queued_jobs(SIMULATION_JOB)
