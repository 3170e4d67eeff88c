"""The /api/v1 resources: what each endpoint does, validation, pagination, body limits."""

from __future__ import annotations

import json
import subprocess

import pytest
from django.test import Client

from accounts.models import Account, Membership
from api.body import MAX_BODY_BYTES
from tests.support.api import api_client, make_key
from voice.models import Call, Campaign, Contact, Webhook
from voice.schemas import MAX_IMPORT

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(owner: Membership) -> Client:
    return api_client(make_key(owner))


def post(client: Client, path: str, body: object) -> object:
    return client.post(path, json.dumps(body), content_type="application/json")


def patch(client: Client, path: str, body: object) -> object:
    return client.patch(path, json.dumps(body), content_type="application/json")


def fields_of(response: object) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return error["fields"]


# Credits -----------------------------------------------------------------------------------


def test_credits(client: Client, account: Account) -> None:
    Account.objects.filter(pk=account.pk).update(credit_balance=1234)
    assert client.get("/api/v1/credits").json() == {
        "balance": 1234,
        "account": "Acme Voice",
        "livemode": True,
    }


@pytest.mark.django_db(transaction=True)
def test_the_guides_curl_command_works_verbatim(live_server, owner: Membership) -> None:  # noqa: ANN001
    key = make_key(owner, ["calls:read"])
    command = (
        f'curl -X GET "{live_server.url}/api/v1/credits" '
        f'-H "Authorization: Bearer {key}" -H "Content-Type: application/json"'
    )
    output = subprocess.run(
        ["bash", "-c", command + " --silent --show-error"],
        check=True,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert json.loads(output) == {"balance": 5000, "account": "Acme Voice", "livemode": True}


# Calls -------------------------------------------------------------------------------------


def test_trigger_a_call_to_a_contact_in_a_campaign(client: Client, account: Account) -> None:
    contact = Contact.objects.create(account=account, name="Ada", phone="+442071838750")
    campaign = Campaign.objects.create(account=account, name="Spring")
    response = post(client, "/api/v1/calls", {"contact_id": contact.pk, "campaign_id": campaign.pk})
    assert response.status_code == 201
    body = response.json()
    assert body["to"] == "+442071838750"
    assert (body["status"], body["livemode"]) == ("queued", True)
    assert (body["contact_id"], body["campaign_id"]) == (contact.pk, campaign.pk)
    call = Call.objects.get(pk=body["id"])
    assert (call.account, call.status, call.livemode) == (account, Call.Status.QUEUED, True)


def test_trigger_a_call_to_a_number(client: Client) -> None:
    response = post(client, "/api/v1/calls", {"phone": "+14155550100", "campaign_id": None})
    assert response.status_code == 201
    assert response.json()["contact_id"] is None
    assert client.get("/api/v1/calls").json()["data"][0]["to"] == "+14155550100"


@pytest.mark.parametrize(
    ("body", "bad_fields"),
    [
        ({}, ["contact_id"]),
        ({"phone": "+14155550100", "contact_id": 1}, ["contact_id"]),
        ({"phone": "4155550100"}, ["phone"]),
        ({"phone": "+1415555010０"}, ["phone"]),  # a full-width digit is not [0-9]
        ({"phone": "+14155550100\n"}, ["phone"]),
        ({"contact_id": "1"}, ["contact_id"]),
        ({"contact_id": True}, ["contact_id"]),
        ({"contact_id": 2**70}, ["contact_id"]),
        ({"contact_id": 999999}, ["contact_id"]),
        ({"phone": "+14155550100", "campaign_id": 999999}, ["campaign_id"]),
        ({"phone": "+14155550100", "priority": "high"}, ["priority"]),
    ],
)
def test_call_validation(
    client: Client, account: Account, body: dict, bad_fields: list[str]
) -> None:
    assert list(fields_of(post(client, "/api/v1/calls", body))) == bad_fields
    assert Call.objects.count() == 0
    assert Account.objects.get(pk=account.pk).credit_balance == 5000  # nothing was spent


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "Say whom to call: give contact_id or phone."),
        (
            {"phone": "+14155550100", "contact_id": 999999},
            "Give either contact_id or phone, not both.",
        ),
    ],
)
def test_call_target_errors_say_what_to_fix(client: Client, body: dict, message: str) -> None:
    assert fields_of(post(client, "/api/v1/calls", body))["contact_id"] == [message]


# Campaigns ---------------------------------------------------------------------------------


def test_campaigns_create_get_patch(client: Client) -> None:
    created = post(client, "/api/v1/campaigns", {"name": "  Spring  "})
    assert created.status_code == 201
    campaign = created.json()
    assert (campaign["name"], campaign["status"]) == ("Spring", "draft")
    url = f"/api/v1/campaigns/{campaign['id']}"
    assert client.get(url).json() == campaign
    updated = patch(client, url, {"status": "active", "name": "Spring sale"})
    assert updated.status_code == 200
    assert (updated.json()["name"], updated.json()["status"]) == ("Spring sale", "active")
    assert Campaign.objects.get(pk=campaign["id"]).status == "active"


def test_campaign_validation(client: Client) -> None:
    assert fields_of(post(client, "/api/v1/campaigns", {"status": "running"})) == {
        "name": ["This field is required."],
        "status": ["Must be one of draft, active, paused, completed."],
    }
    assert list(fields_of(post(client, "/api/v1/campaigns", {"name": "   "}))) == ["name"]
    assert list(fields_of(post(client, "/api/v1/campaigns", {"name": "a\x00b"}))) == ["name"]
    assert list(fields_of(post(client, "/api/v1/campaigns", {"name": "x" * 201}))) == ["name"]
    assert list(fields_of(post(client, "/api/v1/campaigns", ["Spring"]))) == ["body"]


# Contacts ----------------------------------------------------------------------------------


def test_contacts_crud(client: Client, account: Account) -> None:
    created = post(
        client, "/api/v1/contacts", {"name": "Ada", "phone": "+14155550100", "email": "a@b.test"}
    )
    assert created.status_code == 201
    contact = created.json()
    url = f"/api/v1/contacts/{contact['id']}"
    assert client.get(url).json() == contact
    assert patch(client, url, {"email": None}).json()["email"] is None
    assert client.delete(url).status_code == 204
    assert client.get(url).status_code == 404
    assert not Contact.objects.filter(account=account).exists()


def test_contact_import_is_all_or_nothing(client: Client, account: Account) -> None:
    good = [{"name": f"Contact {i}", "phone": f"+1415555{i:04d}"} for i in range(MAX_IMPORT)]
    bad = [*good[:-1], {"name": "Broken", "phone": "555"}]
    assert fields_of(post(client, "/api/v1/contacts", bad)) == {
        f"[{MAX_IMPORT - 1}].phone": [
            "Must be an E.164 phone number: + then country code and number, e.g. +14155550100."
        ]
    }
    assert not Contact.objects.exists()

    response = post(client, "/api/v1/contacts", good)
    assert response.status_code == 201
    data = response.json()["data"]
    assert len(data) == MAX_IMPORT
    assert all(isinstance(item["id"], int) for item in data)
    assert Contact.objects.filter(account=account).count() == MAX_IMPORT


def test_contact_import_limits(client: Client) -> None:
    too_many = [{"name": "A", "phone": "+14155550100"}] * (MAX_IMPORT + 1)
    assert list(fields_of(post(client, "/api/v1/contacts", too_many))) == ["body"]
    assert list(fields_of(post(client, "/api/v1/contacts", []))) == ["body"]
    assert list(fields_of(post(client, "/api/v1/contacts", [{"name": "A"}, 7]))) == [
        "[0].phone",
        "[1]",
    ]


# Webhooks ----------------------------------------------------------------------------------


def test_webhooks_create_list_delete(client: Client) -> None:
    created = post(
        client,
        "/api/v1/webhooks",
        {"url": "https://crm.example.com/hooks", "events": ["call.failed", "call.queued"]},
    )
    assert created.status_code == 201
    webhook = created.json()
    assert webhook["events"] == ["call.queued", "call.failed"]  # catalogue order
    # The secret is in the creation's answer only.
    assert webhook.pop("secret").startswith("whsec_")
    assert client.get("/api/v1/webhooks").json()["data"] == [webhook]
    assert client.delete(f"/api/v1/webhooks/{webhook['id']}").status_code == 204
    assert client.delete(f"/api/v1/webhooks/{webhook['id']}").status_code == 404
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/hook",
        "ftp://example.com/hook",
        "https://localhost/hook",
        "https://localhost./hook",
        "https://127.0.0.1/hook",
        "https://10.0.0.5/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest/meta-data",
        "not a url",
        "https://example.com/\x00",
        "https://example.com/a\x7fb",
        "https://" + "a" * 2000 + ".com",
    ],
)
def test_webhook_url_must_be_public_https(client: Client, url: str) -> None:
    body = {"url": url, "events": ["call.queued"]}
    assert list(fields_of(post(client, "/api/v1/webhooks", body))) == ["url"]


def test_webhook_events_come_from_the_catalogue(client: Client) -> None:
    for events in ([], ["call.exploded"], "call.queued", [1]):
        body = {"url": "https://example.com/h", "events": events}
        assert list(fields_of(post(client, "/api/v1/webhooks", body))) == ["events"]


# Lists -------------------------------------------------------------------------------------


def test_cursor_pagination_walks_every_item_once(client: Client, account: Account) -> None:
    ids = [
        Contact.objects.create(account=account, name=f"C{i}", phone="+14155550100").pk
        for i in range(7)
    ]
    seen = []
    url = "/api/v1/contacts?limit=3"
    while True:
        page = client.get(url).json()
        assert set(page) == {"data", "has_more", "next_cursor"}
        seen += [item["id"] for item in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        url = f"/api/v1/contacts?limit=3&cursor={page['next_cursor']}"
    assert seen == sorted(ids, reverse=True)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=" + "9" * 5000, "limit"),
        ("cursor=nope!", "cursor"),
        ("cursor=aWQ6MA", "cursor"),  # "id:0"
        ("cursor=" + "A" * 41, "cursor"),
        ("cursor=", "cursor"),
    ],
)
def test_bad_page_parameters(client: Client, query: str, field: str) -> None:
    assert list(fields_of(client.get(f"/api/v1/calls?{query}"))) == [field]


def test_limit_defaults_and_maximum(client: Client, account: Account) -> None:
    Contact.objects.bulk_create(
        Contact(account=account, name=f"C{i}", phone="+14155550100") for i in range(120)
    )
    assert len(client.get("/api/v1/contacts").json()["data"]) == 20
    assert len(client.get("/api/v1/contacts?limit=100").json()["data"]) == 100


# Bodies ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [b"", b"   ", b"{", b"{'name': 'x'}", b"\xff\xfe\x00", b"[" * 100_000, b"NaN-ish", b"1" * 5000],
)
def test_invalid_json_is_a_400(client: Client, body: bytes) -> None:
    response = client.post("/api/v1/campaigns", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


def test_oversized_body_is_a_413(client: Client) -> None:
    body = json.dumps({"name": "x" * (MAX_BODY_BYTES + 1)})
    response = client.post("/api/v1/campaigns", body, content_type="application/json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_a_body_that_is_not_json_is_a_415(client: Client) -> None:
    response = client.post("/api/v1/campaigns", {"name": "Spring"})  # multipart form
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_json_with_a_charset_is_fine(client: Client) -> None:
    response = client.post(
        "/api/v1/campaigns",
        json.dumps({"name": "Spring"}),
        content_type="application/json; charset=utf-8",
    )
    assert response.status_code == 201
