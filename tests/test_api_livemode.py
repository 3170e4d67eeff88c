"""Test mode: test keys and live keys each live in their own world, and only live calls cost."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connections
from django.db.models import Model
from django.test import Client

from accounts.models import Account, Membership
from apikeys.models import ApiKey
from tests.support.api import ENDPOINTS, api_client, make_key
from voice.models import Call, Campaign, Contact, Webhook
from voice.services import CALL_COST

pytestmark = pytest.mark.django_db

MODES = [pytest.param(True, id="live key"), pytest.param(False, id="test key")]
MODELS: dict[str, type[Model]] = {
    "calls": Call,
    "campaigns": Campaign,
    "contacts": Contact,
    "webhooks": Webhook,
}
# Taken from the scope matrix, which tests/test_api_scopes.py holds to the URLconf: a new
# route is checked here too without anyone remembering to add it.
ID_ROUTES = [(m, p, b) for m, p, b, _ in ENDPOINTS if "{" in p]
LIST_ROUTES = [p for m, p, _, _ in ENDPOINTS if m == "GET" and p.split("/")[-1] in MODELS]
CREATE_ROUTES = [(p, b) for m, p, b, _ in ENDPOINTS if m == "POST" and "{" not in p]


def environment(livemode: bool) -> str:
    return ApiKey.Environment.LIVE if livemode else ApiKey.Environment.TEST


def client_for(owner: Membership, livemode: bool) -> Client:
    return api_client(make_key(owner, environment=environment(livemode)))


def send(client: Client, method: str, path: str, body: Any = None) -> Any:
    if body is None:
        return client.generic(method, path)
    return client.generic(method, path, json.dumps(body), content_type="application/json")


def make_world(account: Account, livemode: bool) -> dict[str, Model]:
    world = "live" if livemode else "test"
    contact = Contact.objects.create(
        account=account, livemode=livemode, name=f"Ada ({world})", phone="+14155550100"
    )
    campaign = Campaign.objects.create(account=account, livemode=livemode, name=f"Spring {world}")
    return {
        "contact": contact,
        "campaign": campaign,
        "webhook": Webhook.objects.create(
            account=account,
            livemode=livemode,
            url=f"https://{world}.example.com/hook",
            events=["call.queued"],
        ),
        "call": Call.objects.create(
            account=account,
            livemode=livemode,
            contact=contact,
            campaign=campaign,
            to_number=contact.phone,
            status=Call.Status.QUEUED if livemode else Call.Status.SIMULATED,
        ),
    }


@pytest.fixture
def worlds(owner: Membership) -> dict[bool, dict[str, Model]]:
    """The same account's objects in live mode (True) and in test mode (False)."""
    return {livemode: make_world(owner.account, livemode) for livemode in (True, False)}


def snapshot() -> dict[str, list[dict[str, Any]]]:
    return {name: list(model.objects.order_by("pk").values()) for name, model in MODELS.items()}


def balance(account: Account) -> int:
    return Account.objects.get(pk=account.pk).credit_balance


# Each world sees only itself -----------------------------------------------------------------


@pytest.mark.parametrize("livemode", MODES)
@pytest.mark.parametrize(
    ("method", "path", "body"), ID_ROUTES, ids=[f"{m} {p}" for m, p, _ in ID_ROUTES]
)
def test_a_key_never_reaches_the_other_worlds_objects(
    owner: Membership,
    worlds: dict[bool, dict[str, Model]],
    livemode: bool,
    method: str,
    path: str,
    body: Any,
) -> None:
    other = {name: obj.pk for name, obj in worlds[not livemode].items()}
    before = snapshot()

    response = send(client_for(owner, livemode), method, path.format(**other), body)

    assert response.status_code == 404, response.content
    assert response.json()["error"]["code"] == "not_found"
    assert snapshot() == before


@pytest.mark.parametrize("livemode", MODES)
@pytest.mark.parametrize(
    ("method", "path", "body"), ID_ROUTES, ids=[f"{m} {p}" for m, p, _ in ID_ROUTES]
)
def test_a_key_reaches_its_own_worlds_objects(
    owner: Membership,
    worlds: dict[bool, dict[str, Model]],
    livemode: bool,
    method: str,
    path: str,
    body: Any,
) -> None:
    own = {name: obj.pk for name, obj in worlds[livemode].items()}

    response = send(client_for(owner, livemode), method, path.format(**own), body)

    assert 200 <= response.status_code < 300, response.content
    if response.status_code != 204:
        answer = response.json()
        # An object says its world; a list (a webhook's deliveries), each of its items.
        assert all(item["livemode"] is livemode for item in answer.get("data", [answer]))


@pytest.mark.parametrize("livemode", MODES)
@pytest.mark.parametrize("path", LIST_ROUTES)
def test_lists_hold_only_the_keys_world(
    owner: Membership, worlds: dict[bool, dict[str, Model]], livemode: bool, path: str
) -> None:
    name = path.split("/")[-1].removesuffix("s")

    data = client_for(owner, livemode).get(path).json()["data"]

    assert [item["id"] for item in data] == [worlds[livemode][name].pk]
    assert [item["livemode"] for item in data] == [livemode]


@pytest.mark.parametrize("livemode", MODES)
@pytest.mark.parametrize(("path", "body"), CREATE_ROUTES, ids=[p for p, _ in CREATE_ROUTES])
def test_created_objects_belong_to_the_keys_world(
    owner: Membership, livemode: bool, path: str, body: Any
) -> None:
    client = client_for(owner, livemode)

    response = send(client, "POST", path, body)

    assert response.status_code == 201, response.content
    created = response.json()
    assert created["livemode"] is livemode
    assert MODELS[path.split("/")[-1]].objects.get(pk=created["id"]).livemode is livemode
    assert [item["id"] for item in client.get(path).json()["data"]] == [created["id"]]
    other_world = client_for(owner, not livemode).get(path).json()["data"]
    assert created["id"] not in [item["id"] for item in other_world]


@pytest.mark.parametrize("livemode", MODES)
def test_an_import_belongs_to_the_keys_world(owner: Membership, livemode: bool) -> None:
    contacts = [{"name": f"C{i}", "phone": "+14155550100"} for i in range(3)]

    response = send(client_for(owner, livemode), "POST", "/api/v1/contacts", contacts)

    assert response.status_code == 201, response.content
    assert [item["livemode"] for item in response.json()["data"]] == [livemode] * 3
    assert list(Contact.objects.values_list("livemode", flat=True)) == [livemode] * 3


@pytest.mark.parametrize("livemode", MODES)
def test_a_call_cannot_use_the_other_worlds_contact_or_campaign(
    owner: Membership, worlds: dict[bool, dict[str, Model]], livemode: bool
) -> None:
    client = client_for(owner, livemode)
    other = worlds[not livemode]
    credits_before = balance(owner.account)

    response = send(client, "POST", "/api/v1/calls", {"contact_id": other["contact"].pk})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["contact_id"]
    response = send(
        client,
        "POST",
        "/api/v1/calls",
        {"phone": "+14155550100", "campaign_id": other["campaign"].pk},
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["campaign_id"]

    assert Call.objects.count() == 2  # the two worlds' own calls
    assert balance(owner.account) == credits_before


@pytest.mark.parametrize("livemode", MODES)
def test_a_call_uses_its_own_worlds_contact_and_campaign(
    owner: Membership, worlds: dict[bool, dict[str, Model]], livemode: bool
) -> None:
    own = worlds[livemode]
    body = {"contact_id": own["contact"].pk, "campaign_id": own["campaign"].pk}

    response = send(client_for(owner, livemode), "POST", "/api/v1/calls", body)

    assert response.status_code == 201, response.content
    call = response.json()
    assert (call["contact_id"], call["campaign_id"], call["livemode"]) == (
        own["contact"].pk,
        own["campaign"].pk,
        livemode,
    )


# Credits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("livemode", MODES)
def test_credits_say_which_mode_the_key_is_in(owner: Membership, livemode: bool) -> None:
    assert client_for(owner, livemode).get("/api/v1/credits").json() == {
        "balance": 5000,
        "account": "Acme Voice",
        "livemode": livemode,
    }


def test_a_test_call_is_simulated_and_free(owner: Membership, account: Account) -> None:
    Account.objects.filter(pk=account.pk).update(credit_balance=0)

    response = send(client_for(owner, False), "POST", "/api/v1/calls", {"phone": "+14155550100"})

    assert response.status_code == 201, response.content
    # Queued like a live call; the worker completes it (tests/test_webhook_events.py).
    assert (response.json()["status"], response.json()["livemode"]) == ("queued", False)
    call = Call.objects.get(pk=response.json()["id"])
    assert (call.status, call.livemode) == (Call.Status.QUEUED, False)
    assert balance(account) == 0


def test_a_live_call_spends_one_credit(owner: Membership, account: Account) -> None:
    assert CALL_COST == 1
    client = client_for(owner, True)

    response = send(client, "POST", "/api/v1/calls", {"phone": "+14155550100"})

    assert response.status_code == 201, response.content
    assert (response.json()["status"], response.json()["livemode"]) == ("queued", True)
    assert balance(account) == 5000 - CALL_COST
    assert client.get("/api/v1/credits").json()["balance"] == 5000 - CALL_COST


def test_a_live_call_without_credits_is_a_402_and_creates_nothing(
    owner: Membership, account: Account
) -> None:
    client = client_for(owner, True)
    Account.objects.filter(pk=account.pk).update(credit_balance=1)
    assert send(client, "POST", "/api/v1/calls", {"phone": "+14155550100"}).status_code == 201

    response = send(client, "POST", "/api/v1/calls", {"phone": "+14155550100"})

    assert response.status_code == 402
    error = response.json()["error"]
    assert error["code"] == "insufficient_credits"
    assert "test key" in error["message"]
    assert Call.objects.count() == 1
    assert balance(account) == 0


def test_validation_comes_before_payment(owner: Membership, account: Account) -> None:
    Account.objects.filter(pk=account.pk).update(credit_balance=0)

    response = send(client_for(owner, True), "POST", "/api/v1/calls", {"phone": "555"})

    assert response.status_code == 400
    assert balance(account) == 0


@pytest.mark.django_db(transaction=True)
def test_concurrent_live_calls_never_overspend(owner: Membership, account: Account) -> None:
    Account.objects.filter(pk=account.pk).update(credit_balance=3)
    secret = make_key(owner)
    attempts = 8
    start = threading.Barrier(attempts)

    def place_call() -> Any:
        try:
            start.wait(timeout=30)
            return send(api_client(secret), "POST", "/api/v1/calls", {"phone": "+14155550100"})
        finally:
            connections.close_all()

    with ThreadPoolExecutor(attempts) as pool:
        statuses = sorted(
            response.status_code for response in pool.map(lambda _: place_call(), range(attempts))
        )

    assert statuses == [201] * 3 + [402] * (attempts - 3)
    assert balance(account) == 0
    assert Call.objects.count() == 3
