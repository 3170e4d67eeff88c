"""Property: no Authorization header and no body, however odd, makes the API answer 5xx or HTML."""

from __future__ import annotations

import json
import string

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Membership
from apikeys.models import ApiKey
from tests.support.api import make_key
from voice.models import Campaign, Contact

PATHS = [
    "/api/v1/health",
    "/api/v1/credits",
    "/api/v1/calls",
    "/api/v1/campaigns",
    "/api/v1/campaigns/1",
    "/api/v1/contacts",
    "/api/v1/contacts/1",
    "/api/v1/webhooks",
    "/api/v1/webhooks/1",
    "/api/v1/contacts/999999999999999999",
]
METHODS = ["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "HEAD"]
# What a WSGI server can hand over: header values arrive decoded as latin-1.
header_text = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=80)

# Strings shaped like what the fields expect, so junk also reaches the later checks.
awkward_text = st.text(max_size=20) | st.sampled_from(
    ["\x00", "\x7f", "\n", " ", "é", "\u2028", "%00"]
)
field_like_text = awkward_text.flatmap(
    lambda tail: st.sampled_from(
        [f"https://example.com/{tail}", f"https://{tail}", f"+1415{tail}", f"a{tail}@b.test"]
    )
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | field_like_text
    | st.sampled_from(["call.queued", "draft", "+14155550100"]),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "phone",
                    "email",
                    "status",
                    "url",
                    "events",
                    "contact_id",
                    "campaign_id",
                    "x",
                ]
            )
            | st.text(max_size=8),
            children,
            max_size=5,
        )
    ),
    max_leaves=20,
)


@st.composite
def authorizations(draw: st.DrawFn, key: str) -> str | None:
    return draw(
        st.none()
        | st.just(f"Bearer {key}")
        | header_text
        | header_text.map(lambda text: f"Bearer {text}")
        | st.integers(0, len(key) - 1).flatmap(
            lambda i: st.sampled_from(string.printable).map(
                lambda char: f"Bearer {key[:i]}{char}{key[i + 1 :]}"
            )
        )
    )


content_types = st.sampled_from(
    [
        "application/json",
        "application/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "",
        "application/json; charset=latin-1",
    ]
)
paths = st.sampled_from(PATHS) | st.text(
    string.ascii_letters + string.digits + "/-_.%", max_size=30
).map(lambda tail: "/api/" + tail)
queries = st.sampled_from(["", "?limit=5", "?limit=-1", "?cursor=x"]) | st.text(
    string.ascii_letters + string.digits + "=&%", max_size=20
).map(lambda q: "?" + q)
# Every route and method that reads a body.
# Every route and method that reads a body, with a body it accepts: the property test changes
# one field of it at a time, so junk reaches every check and the database, not just the first.
WRITES = [
    ("POST", "/api/v1/calls", {"phone": "+14155550100"}),
    ("POST", "/api/v1/campaigns", {"name": "Spring", "status": "draft"}),
    ("PATCH", "/api/v1/campaigns/{campaign}", {"name": "Spring", "status": "active"}),
    ("POST", "/api/v1/contacts", {"name": "Ada", "phone": "+14155550100", "email": "a@b.test"}),
    ("PATCH", "/api/v1/contacts/{contact}", {"name": "Ada", "email": None}),
    ("POST", "/api/v1/webhooks", {"url": "https://example.com/h", "events": ["call.queued"]}),
]


# A field's value shaped like a good one, with awkward text inside.
SHAPES = {"url": "https://example.com/{}", "phone": "+1415{}", "email": "a{}@b.test"}
NASTY_STRINGS = [
    "\x00",
    "a\x00b",
    "\x7f",
    "\ud800",  # a lone surrogate: no UTF-8 encoding exists
    "\u202e",
    "😀",
    "%00",
    " " * 5,
    "x" * 10_000,
]


@st.composite
def write_bodies(draw: st.DrawFn, valid: dict) -> bytes:
    kind = draw(st.sampled_from(["one field changed", "one field changed", "any JSON", "bytes"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "any JSON":
        return json.dumps(draw(json_values)).encode()
    body = dict(valid)
    field = draw(st.sampled_from(sorted(valid)))
    shaped = awkward_text.map(lambda text: SHAPES.get(field, "{}").format(text))
    body[field] = draw(json_values | shaped)
    # Sometimes as an import: a list of such objects.
    if draw(st.booleans()):
        return json.dumps([valid, body]).encode()
    return json.dumps(body).encode()


# One key for every example (fixtures run once per test, not per example), and state piling
# up between examples is fine for these properties.
PROPERTY_SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


MODES = [pytest.param(True, id="live key"), pytest.param(False, id="test key")]


@pytest.fixture
def keys(owner: Membership) -> dict[bool, str]:
    """A live key (True) and a test key (False): the two take different paths (calls)."""
    return {
        livemode: make_key(
            owner, environment=ApiKey.Environment.LIVE if livemode else ApiKey.Environment.TEST
        )
        for livemode in (True, False)
    }


@pytest.fixture
def ids(owner: Membership) -> dict[bool, dict[str, int]]:
    """A campaign and a contact in each mode, so PATCHes reach the database in both."""
    account = owner.account
    return {
        livemode: {
            "campaign": Campaign.objects.create(account=account, livemode=livemode, name="C").pk,
            "contact": Contact.objects.create(
                account=account, livemode=livemode, name="A", phone="+14155550100"
            ).pk,
        }
        for livemode in (True, False)
    }


def assert_json_answer(response: object, method: str) -> None:
    assert response.status_code < 500, response.content
    if response.status_code != 204:
        assert response["Content-Type"] == "application/json", response.content[:200]
    if response.status_code >= 400 and method != "HEAD":  # HEAD answers carry no body
        assert set(response.json()["error"]) >= {"code", "message"}


@pytest.mark.django_db
@PROPERTY_SETTINGS
@given(data=st.data())
def test_no_authorization_header_causes_a_server_error(
    keys: dict[bool, str], data: st.DataObject
) -> None:
    authorization = data.draw(authorizations(keys[data.draw(st.booleans())]))
    method = data.draw(st.sampled_from(METHODS))
    path = data.draw(paths) + data.draw(queries)
    headers = {} if authorization is None else {"Authorization": authorization}

    response = Client().generic(method, path, headers=headers)

    assert_json_answer(response, method)


@pytest.mark.django_db
@settings(PROPERTY_SETTINGS, max_examples=600)
@given(data=st.data())
def test_no_body_causes_a_server_error(
    keys: dict[bool, str], ids: dict[bool, dict[str, int]], data: st.DataObject
) -> None:
    livemode = data.draw(st.booleans())
    method, path, valid = data.draw(st.sampled_from(WRITES))
    body = data.draw(write_bodies(valid))
    content_type = data.draw(st.just("application/json") | content_types)

    response = Client().generic(
        method,
        path.format(**ids[livemode]),
        data=body,
        content_type=content_type,
        headers={"Authorization": f"Bearer {keys[livemode]}"},
    )

    assert_json_answer(response, method)


@pytest.mark.django_db
@pytest.mark.parametrize("livemode", MODES)
@pytest.mark.parametrize(
    ("method", "path", "valid"), WRITES, ids=[f"{m} {p}" for m, p, _ in WRITES]
)
def test_nasty_strings_in_every_field(
    keys: dict[bool, str],
    ids: dict[bool, dict[str, int]],
    livemode: bool,
    method: str,
    path: str,
    valid: dict,
) -> None:
    client = Client(headers={"Authorization": f"Bearer {keys[livemode]}"})
    for field in valid:
        for nasty in NASTY_STRINGS:
            for value in (nasty, SHAPES.get(field, "{}").format(nasty)):
                body = json.dumps({**valid, field: value})  # ensure_ascii: "\ud800" survives
                response = client.generic(
                    method, path.format(**ids[livemode]), body, content_type="application/json"
                )
                assert response.status_code < 500, (field, value, response.content)
                assert response.status_code in (200, 201, 400), (field, value)
