"""Property: no Authorization header and no body, however odd, makes the API answer 5xx or HTML."""

from __future__ import annotations

import json
import string

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Membership
from tests.api_support import make_key

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

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
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


bodies = st.none() | st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode())
content_types = st.sampled_from(
    [
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


@pytest.mark.django_db
@settings(
    max_examples=300,
    deadline=None,
    # One key for every example: state piling up between examples is fine for this property.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_header_or_body_causes_a_server_error(owner: Membership, data: st.DataObject) -> None:
    if not hasattr(owner, "_key"):
        owner._key = make_key(owner)
    key = owner._key
    authorization = data.draw(authorizations(key))
    method = data.draw(st.sampled_from(METHODS))
    path = data.draw(paths) + data.draw(queries)
    body = data.draw(bodies)
    headers = {} if authorization is None else {"Authorization": authorization}
    kwargs = {}
    if body is not None:
        kwargs = {"data": body, "content_type": data.draw(content_types)}

    response = Client(raise_request_exception=True).generic(method, path, headers=headers, **kwargs)

    assert response.status_code < 500, response.content
    if response.status_code != 204:
        assert response["Content-Type"] == "application/json", response.content[:200]
    if response.status_code >= 400 and method != "HEAD":  # HEAD answers carry no body
        assert set(response.json()["error"]) >= {"code", "message"}
