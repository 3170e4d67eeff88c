"""The API's bodies: one safe-text rule on every text field, every bad field reported at once,
strict types, and messages that say what to fix."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from accounts.models import Membership
from tests.support.api import api_client, make_key
from voice.models import Campaign, Contact, Webhook
from voxkeys.safetext import unsafe_character_error

pytestmark = pytest.mark.django_db

UNSAFE = [
    pytest.param(chr(code), id=f"U+{code:04X}")
    for code in [
        0x0000,  # NUL
        0x0085,  # NEL, a C1 control that str.strip() would also remove
        0x202E,  # right-to-left override
        0x2066,  # left-to-right isolate
        0x061C,  # Arabic letter mark
        0x200E,  # left-to-right mark
        0x200B,  # zero-width space
        0x2060,  # word joiner
        0xFEFF,  # zero-width no-break space (BOM)
        0x00AD,  # soft hyphen
        0x2028,  # line separator
        0x2029,  # paragraph separator
        0xE0041,  # tag latin capital letter A
    ]
]
# (method, path, a good body, the field to spoil, where it sits in the error's fields).
FREE_TEXT = [
    ("POST", "/api/v1/contacts", {"name": "Ada", "phone": "+14155550100"}, "name", "name"),
    ("POST", "/api/v1/contacts", [{"name": "Ada", "phone": "+14155550100"}], "name", "[0].name"),
    ("PATCH", "/api/v1/contacts/{contact}", {"name": "Ada"}, "name", "name"),
    ("POST", "/api/v1/campaigns", {"name": "Spring"}, "name", "name"),
    ("PATCH", "/api/v1/campaigns/{campaign}", {"name": "Spring"}, "name", "name"),
]
# Fields with a strict format of their own: they refuse the characters too, naming them.
FORMATTED = [
    ("POST", "/api/v1/contacts", {"name": "A", "phone": "+14155550100"}, "phone", "phone"),
    ("POST", "/api/v1/contacts", {"name": "A", "phone": "+1415", "email": "a@b.test"}, "email", ""),
    ("PATCH", "/api/v1/contacts/{contact}", {"email": "ada@example.com"}, "email", "email"),
    ("POST", "/api/v1/calls", {"phone": "+14155550100"}, "phone", "phone"),
    (
        "POST",
        "/api/v1/webhooks",
        {"url": "https://example.com/h", "events": ["call.queued"]},
        "url",
        "URL",
    ),
]


@pytest.fixture
def client(owner: Membership) -> Client:
    return api_client(make_key(owner))


@pytest.fixture
def ids(owner: Membership) -> dict[str, int]:
    account = owner.account
    return {
        "contact": Contact.objects.create(account=account, name="A", phone="+14155550100").pk,
        "campaign": Campaign.objects.create(account=account, name="C").pk,
    }


def send(client: Client, method: str, path: str, body: object) -> object:
    return client.generic(method, path, json.dumps(body), content_type="application/json")


def fields_of(response: object) -> dict[str, list[str]]:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    return error["fields"]


def spoil(body: object, field: str, value: str) -> object:
    if isinstance(body, list):
        return [{**body[0], field: value}]
    return {**body, field: value}


@pytest.mark.parametrize("char", UNSAFE)
@pytest.mark.parametrize("position", ["inside", "at the end"])
@pytest.mark.parametrize(
    ("method", "path", "body", "field", "where"),
    FREE_TEXT,
    ids=[f"{method} {path} {where}" for method, path, _, _, where in FREE_TEXT],
)
def test_every_free_text_field_refuses_unsafe_characters_with_the_rules_message(
    client: Client,
    ids: dict[str, int],
    method: str,
    path: str,
    body: object,
    field: str,
    where: str,
    char: str,
    position: str,
) -> None:
    # At the end too: trimming must not hide a character that str.strip() would remove.
    value = f"Ada{char}Lovelace" if position == "inside" else f"Ada Lovelace{char}"
    response = send(client, method, path.format(**ids), spoil(body, field, value))
    assert fields_of(response) == {where: [unsafe_character_error(value, field)]}
    # Nothing created, nothing changed.
    assert list(Contact.objects.values_list("name", flat=True)) == ["A"]
    assert list(Campaign.objects.values_list("name", flat=True)) == ["C"]


@pytest.mark.parametrize("char", UNSAFE)
@pytest.mark.parametrize(
    ("method", "path", "body", "field", "label"),
    FORMATTED,
    ids=[f"{method} {path} {field}" for method, path, _, field, _ in FORMATTED],
)
def test_phone_email_and_url_refuse_unsafe_characters_too(
    client: Client,
    ids: dict[str, int],
    method: str,
    path: str,
    body: dict,
    field: str,
    label: str,
    char: str,
) -> None:
    value = {"phone": "+1415{}5550100", "email": "ada{}@example.com"}.get(
        field, "https://example.com/h{}ook"
    ).format(char)
    response = send(client, method, path.format(**ids), {**body, field: value})
    errors = fields_of(response)
    assert errors[field] == [unsafe_character_error(value, label or field)]
    assert not Webhook.objects.exists()


def test_ordinary_unicode_names_are_accepted_and_trimmed(client: Client) -> None:
    for name in ["Café Déjà Vu — Zürich", "生产服务器", "Deploy 🚀", "Main\u00a0App"]:
        response = send(client, "POST", "/api/v1/campaigns", {"name": f"  {name}  "})
        assert response.status_code == 201, response.content
        assert response.json()["name"] == name


def test_a_body_with_several_bad_fields_reports_all_of_them(client: Client) -> None:
    body = {"name": "  ", "phone": "555", "email": "not-an-email", "nickname": "Ada"}
    error = send(client, "POST", "/api/v1/contacts", body).json()["error"]
    assert error["message"] == "4 fields are not valid: name, phone, email, nickname."
    assert error["fields"] == {
        "name": ["Must not be blank."],
        "phone": [
            "Must be an E.164 phone number: + then country code and number, e.g. +14155550100."
        ],
        "email": ["Must be a valid email address, e.g. ada@example.com."],
        "nickname": ["Unknown field; the fields are name, phone, email."],
    }
    assert not Contact.objects.exists()


def test_an_import_reports_every_bad_field_of_every_contact(client: Client) -> None:
    good = {"name": "Ada", "phone": "+14155550100"}
    body = [good, {"name": "B\u202e", "phone": 14155550100}, good, {"phone": "+1"}, "Ada"]
    assert fields_of(send(client, "POST", "/api/v1/contacts", body)) == {
        "[1].name": [unsafe_character_error("B\u202e", "name")],
        "[1].phone": [
            "Must be an E.164 phone number: + then country code and number, e.g. +14155550100."
        ],
        "[3].name": ["This field is required."],
        "[3].phone": [
            "Must be an E.164 phone number: + then country code and number, e.g. +14155550100."
        ],
        "[4]": ["Send a JSON object."],
    }
    assert not Contact.objects.exists()


def test_calls_and_webhooks_report_every_bad_field(client: Client) -> None:
    fields = fields_of(
        send(client, "POST", "/api/v1/calls", {"phone": "+1", "campaign_id": "7", "to": "x"})
    )
    assert fields == {
        "phone": [
            "Must be an E.164 phone number: + then country code and number, e.g. +14155550100."
        ],
        "campaign_id": ["Must be the integer id of a resource in your account."],
        "to": ["Unknown field; the fields are contact_id, phone, campaign_id."],
    }
    fields = fields_of(send(client, "POST", "/api/v1/webhooks", {"url": "http://x", "events": []}))
    assert set(fields) == {"url", "events"}


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/calls", {"contact_id": "1"}, "contact_id"),
        ("/api/v1/calls", {"contact_id": True}, "contact_id"),
        ("/api/v1/calls", {"contact_id": 1.0}, "contact_id"),
        ("/api/v1/calls", {"phone": "+14155550100", "campaign_id": False}, "campaign_id"),
        ("/api/v1/campaigns", {"name": 5}, "name"),
        ("/api/v1/campaigns", {"name": "Spring", "status": 1}, "status"),
        ("/api/v1/contacts", {"name": ["Ada"], "phone": "+14155550100"}, "name"),
        ("/api/v1/contacts", {"name": "Ada", "phone": "+14155550100", "email": 7}, "email"),
        ("/api/v1/webhooks", {"url": "https://example.com/h", "events": "call.queued"}, "events"),
    ],
)
def test_types_are_strict(client: Client, path: str, body: dict, field: str) -> None:
    assert list(fields_of(send(client, "POST", path, body))) == [field]


def test_a_patch_cannot_null_a_required_field(client: Client, ids: dict[str, int]) -> None:
    url = f"/api/v1/contacts/{ids['contact']}"
    assert fields_of(send(client, "PATCH", url, {"name": None, "phone": None})) == {
        "name": ["Must be a string."],
        "phone": [
            "Must be an E.164 phone number: + then country code and number, e.g. +14155550100."
        ],
    }
    response = send(client, "PATCH", url, {"email": None})
    assert response.status_code == 200
    assert response.json()["name"] == "A"


def test_a_lone_surrogate_is_not_valid_json(client: Client) -> None:
    body = b'{"name": "Ada\\ud800"}'
    response = client.post("/api/v1/campaigns", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"
    assert not Campaign.objects.exists()
