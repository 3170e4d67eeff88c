"""No key ever sees or changes another account's data, whatever ids it sends, in either mode."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.models import Membership
from apikeys.models import ApiKey
from tests.support.api import api_client, make_key
from voice.models import Call, Campaign, Contact, Webhook

pytestmark = pytest.mark.django_db


@pytest.fixture(params=[True, False], ids=["live", "test"])
def livemode(request: pytest.FixtureRequest) -> bool:
    """Every test runs in both worlds: accounts stay apart in test mode too."""
    return request.param


@pytest.fixture
def theirs(other_owner: Membership, livemode: bool) -> dict[str, object]:
    """Globex's data, in the same mode as Acme's key, which that key must not reach."""
    account = other_owner.account
    contact = Contact.objects.create(
        account=account, livemode=livemode, name="Theirs", phone="+14155550199"
    )
    campaign = Campaign.objects.create(account=account, livemode=livemode, name="Their campaign")
    return {
        "contact": contact,
        "campaign": campaign,
        "webhook": Webhook.objects.create(
            account=account,
            livemode=livemode,
            url="https://globex.example/h",
            events=["call.queued"],
        ),
        "call": Call.objects.create(
            account=account, livemode=livemode, contact=contact, to_number=contact.phone
        ),
    }


@pytest.fixture
def client(owner: Membership, livemode: bool) -> Client:
    """Acme's key with every scope, and some data of Acme's own, in one mode."""
    Contact.objects.create(
        account=owner.account, livemode=livemode, name="Ours", phone="+14155550100"
    )
    Campaign.objects.create(account=owner.account, livemode=livemode, name="Our campaign")
    environment = ApiKey.Environment.LIVE if livemode else ApiKey.Environment.TEST
    return api_client(make_key(owner, environment=environment))


def send(client: Client, method: str, path: str, body: object = None) -> object:
    if body is None:
        return client.generic(method, path)
    return client.generic(method, path, json.dumps(body), content_type="application/json")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/api/v1/contacts/{contact}", None),
        ("PATCH", "/api/v1/contacts/{contact}", {"name": "Hijacked"}),
        ("DELETE", "/api/v1/contacts/{contact}", None),
        ("GET", "/api/v1/campaigns/{campaign}", None),
        ("PATCH", "/api/v1/campaigns/{campaign}", {"name": "Hijacked"}),
        ("DELETE", "/api/v1/webhooks/{webhook}", None),
    ],
)
def test_another_accounts_ids_are_not_found(
    client: Client, theirs: dict[str, object], method: str, path: str, body: object
) -> None:
    path = path.format(**{name: obj.pk for name, obj in theirs.items()})
    response = send(client, method, path, body)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    # Nothing of theirs changed.
    assert Contact.objects.get(pk=theirs["contact"].pk).name == "Theirs"
    assert Campaign.objects.get(pk=theirs["campaign"].pk).name == "Their campaign"
    assert Webhook.objects.filter(pk=theirs["webhook"].pk).exists()


@pytest.mark.parametrize(
    ("path", "their_name"),
    [
        ("/api/v1/contacts", "contact"),
        ("/api/v1/campaigns", "campaign"),
        ("/api/v1/webhooks", "webhook"),
        ("/api/v1/calls", "call"),
    ],
)
def test_lists_hold_only_the_keys_account(
    client: Client, theirs: dict[str, object], path: str, their_name: str
) -> None:
    ids = [item["id"] for item in client.get(path + "?limit=100").json()["data"]]
    assert theirs[their_name].pk not in ids
    # Even a cursor placed past their newest row shows only ours.
    cursor_ids = [
        item["id"]
        for item in client.get(f"{path}?cursor=aWQ6OTk5OTk5OQ").json()["data"]  # "id:9999999"
    ]
    assert theirs[their_name].pk not in cursor_ids


def test_a_call_cannot_use_another_accounts_contact_or_campaign(
    client: Client, theirs: dict[str, object]
) -> None:
    response = send(client, "POST", "/api/v1/calls", {"contact_id": theirs["contact"].pk})
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["contact_id"]
    response = send(
        client,
        "POST",
        "/api/v1/calls",
        {"phone": "+14155550100", "campaign_id": theirs["campaign"].pk},
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["campaign_id"]
    assert Call.objects.count() == 1  # only theirs


def test_created_resources_belong_to_the_keys_account(
    client: Client, owner: Membership, theirs: dict[str, object]
) -> None:
    send(client, "POST", "/api/v1/contacts", {"name": "New", "phone": "+14155550111"})
    send(client, "POST", "/api/v1/campaigns", {"name": "New"})
    send(
        client,
        "POST",
        "/api/v1/webhooks",
        {"url": "https://a.example/h", "events": ["call.failed"]},
    )
    send(client, "POST", "/api/v1/calls", {"phone": "+14155550111"})
    for model in (Contact, Campaign, Webhook, Call):
        assert model.objects.filter(account=owner.account).exists()
        assert model.objects.exclude(account=owner.account).count() == 1  # theirs, untouched


def test_credits_are_the_keys_account(other_owner: Membership, client: Client) -> None:
    assert client.get("/api/v1/credits").json()["account"] == "Acme Voice"
    theirs = api_client(make_key(other_owner)).get("/api/v1/credits").json()
    assert theirs["account"] == "Globex"
