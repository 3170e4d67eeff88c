"""ApiKeyMiddleware: the Authorization header, error shapes, sessions, revocation, queries."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.db import OperationalError, connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, Membership
from apikeys.auth import lookup
from apikeys.auth.lookup import LOOKUP_FIELDS, find_key
from apikeys.keys import BASE62_ALPHABET, generate_key, key_digest
from apikeys.models import ApiKey
from apikeys.services import revoke_key
from tests.support.api import api_client, bearer, make_key

pytestmark = pytest.mark.django_db

CREDITS = "/api/v1/credits"
REALM = 'Bearer realm="VoxPria API"'
INVALID_TOKEN = 'Bearer realm="VoxPria API", error="invalid_token"'


def error_of(response) -> dict:  # noqa: ANN001
    assert response["Content-Type"] == "application/json"
    return json.loads(response.content)["error"]


def with_bad_checksum(key: str) -> str:
    last = key[-1]
    return key[:-1] + next(char for char in BASE62_ALPHABET if char != last)


@pytest.fixture
def keys(owner: Membership) -> dict[str, str]:
    """A valid key, and keys for the revoked and suspended cases (each its own account)."""
    valid = make_key(owner, ["calls:read"])
    revoked = make_key(owner, ["calls:read"])
    revoke_key(key=ApiKey.objects.get(key_digest=key_digest(revoked)), user=owner.user)
    suspended_membership = Membership.objects.create(
        user=owner.user, account=Account.objects.create(name="Soon Suspended"), role="owner"
    )
    suspended = make_key(suspended_membership, ["calls:read"])
    Account.objects.filter(pk=suspended_membership.account_id).update(
        status=Account.Status.SUSPENDED
    )
    return {"key": valid, "revoked": revoked, "suspended": suspended}


# (header, or None for no header) -> (status, error code or None for success, WWW-Authenticate)
HEADER_CASES = {
    "missing": (None, 401, "missing_api_key", REALM),
    "empty": ("", 401, "missing_api_key", REALM),
    "only spaces": ("   ", 401, "missing_api_key", REALM),
    "basic scheme": ("Basic dXNlcjpwYXNz", 401, "malformed_api_key", INVALID_TOKEN),
    "token scheme": ("Token {key}", 401, "malformed_api_key", INVALID_TOKEN),
    "no scheme": ("{key}", 401, "malformed_api_key", INVALID_TOKEN),
    "scheme only": ("Bearer", 401, "malformed_api_key", INVALID_TOKEN),
    "scheme and space": ("Bearer ", 401, "malformed_api_key", INVALID_TOKEN),
    "tab instead of space": ("Bearer\t{key}", 401, "malformed_api_key", INVALID_TOKEN),
    "lowercase bearer": ("bearer {key}", 200, None, None),
    "uppercase bearer": ("BEARER {key}", 200, None, None),
    # RFC 6750: "Bearer" 1*SP token, and servers trim a header's surrounding whitespace.
    "extra spaces between": ("Bearer    {key}", 200, None, None),
    "spaces around": ("  Bearer {key}  ", 200, None, None),
    "two headers' worth": ("Bearer {key}, Bearer {key}", 401, "malformed_api_key", INVALID_TOKEN),
    "two keys": ("Bearer {key} {key}", 401, "malformed_api_key", INVALID_TOKEN),
    "quoted key": ('Bearer "{key}"', 401, "malformed_api_key", INVALID_TOKEN),
    "non-ascii": (
        "Bearer vxp_live_ÄÖÜäöüßéèêàçñ€ÄÖÜäöüßéèêàçñ€ÄÖÜ123456",
        401,
        "malformed_api_key",
        INVALID_TOKEN,
    ),
    "non-ascii suffix": ("Bearer {key}é", 401, "malformed_api_key", INVALID_TOKEN),
    "10 KB long": ("Bearer vxp_live_" + "a" * 10_240, 401, "malformed_api_key", INVALID_TOKEN),
    "wrong checksum": ("Bearer {bad_checksum}", 401, "malformed_api_key", INVALID_TOKEN),
    "truncated": ("Bearer {truncated}", 401, "malformed_api_key", INVALID_TOKEN),
    "unknown key": ("Bearer {unknown}", 401, "invalid_api_key", INVALID_TOKEN),
    "revoked key": ("Bearer {revoked}", 401, "revoked_api_key", INVALID_TOKEN),
    "suspended account": ("Bearer {suspended}", 403, "account_suspended", None),
}


@pytest.mark.parametrize("case", HEADER_CASES, ids=list(HEADER_CASES))
def test_authorization_header(case: str, keys: dict[str, str]) -> None:
    header, status, code, www_authenticate = HEADER_CASES[case]
    headers = {}
    if header is not None:
        headers["Authorization"] = header.format(
            **keys,
            bad_checksum=with_bad_checksum(keys["key"]),
            truncated=keys["key"][:-1],
            unknown=generate_key(),
        )
    response = Client().get(CREDITS, headers=headers)

    assert response.status_code == status
    if code is None:
        assert response.json() == {"balance": 5000, "account": "Acme Voice", "livemode": True}
        assert "WWW-Authenticate" not in response
    else:
        error = error_of(response)
        assert error["code"] == code
        assert len(error["message"]) > 20  # a sentence a developer can act on
        assert response.get("WWW-Authenticate") == www_authenticate


def test_malformed_keys_never_reach_the_database(keys: dict[str, str]) -> None:
    for header in ("Token x", f"Bearer {with_bad_checksum(keys['key'])}", "Bearer " + "x" * 10_240):
        with CaptureQueriesContext(connection) as queries:
            response = Client().get(CREDITS, headers={"Authorization": header})
        assert response.status_code == 401
        assert len(queries) == 0


def test_insufficient_scope_names_the_scope(owner: Membership) -> None:
    response = api_client(make_key(owner, ["calls:read"])).post(
        "/api/v1/contacts",
        {"name": "Ada", "phone": "+14155550100"},
        content_type="application/json",
    )
    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "insufficient_scope"
    assert error["required_scope"] == "contacts:write"
    assert "contacts:write" in error["message"]
    assert response["WWW-Authenticate"] == (
        'Bearer realm="VoxPria API", error="insufficient_scope", scope="contacts:write"'
    )


def test_health_and_document_need_no_key() -> None:
    assert Client().get("/api/v1/health").json()["status"] == "ok"
    assert Client().get("/api/v1/openapi.json").status_code == 200


def test_unknown_api_paths_are_json_404s(owner: Membership) -> None:
    for client in (Client(), api_client(make_key(owner))):
        for path in (
            "/api/",
            "/api/v1/nope",
            "/api/v2/credits",
            "/api/v1/credits/",
            "/api/v1/contacts/0",
            "/api/v1/contacts/abc",
            "/api/v1/contacts/" + "9" * 30,
        ):
            response = client.get(path)
            assert response.status_code == 404, path
            assert error_of(response)["code"] == "not_found"


def test_wrong_method_is_a_json_405_with_allow(owner: Membership) -> None:
    client = api_client(make_key(owner))
    for method, path, allow in [
        ("put", "/api/v1/calls", "GET, POST"),
        ("delete", "/api/v1/credits", "GET"),
        ("post", "/api/v1/contacts/1", "GET, PATCH, DELETE"),
        ("get", "/api/v1/webhooks/1/test", "POST"),
    ]:
        response = getattr(client, method)(path)
        assert response.status_code == 405
        assert response["Allow"] == allow
        assert error_of(response)["code"] == "method_not_allowed"


def test_head_is_answered_like_get(client: Client, owner: Membership) -> None:
    assert client.head("/api/v1/health").status_code == 200
    assert api_client(make_key(owner)).head("/api/v1/credits").status_code == 200
    assert client.head("/api/v1/credits").status_code == 401
    assert client.head("/api/v1/webhooks/1/test").status_code == 401  # key first, then the 405
    assert api_client(make_key(owner)).head("/api/v1/webhooks/1/test").status_code == 405


def test_session_cookie_alone_is_refused(owner_client: Client) -> None:
    assert owner_client.get("/").status_code == 200  # the session is valid for pages
    response = owner_client.get(CREDITS)
    assert response.status_code == 401
    assert error_of(response)["code"] == "missing_api_key"


def test_api_requests_never_create_sessions_or_cookies(
    owner: Membership, owner_client: Client
) -> None:
    secret = make_key(owner)
    sessions = Session.objects.count()
    for client in (api_client(secret), Client(), owner_client):
        for path in (CREDITS, "/api/v1/health", "/api/v1/nope"):
            response = client.get(path, headers=bearer(secret))
            assert not response.cookies, path
            assert "Cookie" not in response.get("Vary", "")
    assert Session.objects.count() == sessions


def test_api_is_csrf_exempt_even_with_a_session_cookie(owner: Membership) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    response = client.post(
        "/api/v1/campaigns",
        {"name": "Spring"},
        content_type="application/json",
        headers=bearer(make_key(owner)),
    )
    assert response.status_code == 201


def test_revocation_is_immediate(owner: Membership) -> None:
    secret = make_key(owner)
    client = api_client(secret)
    assert client.get(CREDITS).status_code == 200
    revoke_key(key=ApiKey.objects.get(key_digest=key_digest(secret)), user=owner.user)
    response = client.get(CREDITS)
    assert response.status_code == 401
    assert error_of(response)["code"] == "revoked_api_key"


def test_suspending_the_account_is_immediate(owner: Membership) -> None:
    client = api_client(make_key(owner))
    assert client.get(CREDITS).status_code == 200
    Account.objects.filter(pk=owner.account_id).update(status=Account.Status.SUSPENDED)
    assert error_of(client.get(CREDITS))["code"] == "account_suspended"


def test_the_direct_lookup_costs_exactly_one_query(
    owner: Membership, django_assert_num_queries
) -> None:  # noqa: ANN001
    """Without the cache (SQLite, API_KEY_CACHE=0, inside a transaction); with it, zero on a
    hit and one on a miss: tests/test_authcache.py. /credits adds its balance read: the lookup
    leaves the balance out, so the cached row and the direct one are the same."""
    client = api_client(make_key(owner))
    with django_assert_num_queries(3):  # first use: the lookup, last_used_at, the balance
        assert client.get(CREDITS).status_code == 200
    with django_assert_num_queries(2):  # inside the minute: the lookup and the balance
        assert client.get(CREDITS).status_code == 200


def test_lookup_sql_matches_the_orm(owner: Membership) -> None:
    secret = make_key(owner)
    digest = key_digest(secret)
    api_client(secret).get(CREDITS)  # sets last_used_at, so a datetime is converted too
    expected = ApiKey.objects.filter(key_digest=digest).values_list(*LOOKUP_FIELDS).get()
    assert find_key(digest) == expected
    assert find_key(key_digest(generate_key())) is None


def test_lookup_is_a_prepared_statement_on_postgresql(owner: Membership) -> None:
    if connection.settings_dict["OPTIONS"].get("prepare_threshold") is None:
        pytest.skip("PostgreSQL with DATABASE_PREPARED_STATEMENTS on (the default) only")
    find_key(key_digest(make_key(owner)))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cursor.fetchall()]
    assert any('"key_digest" = $1' in statement for statement in statements)


def test_last_used_is_written_at_most_once_a_minute(owner: Membership) -> None:
    secret = make_key(owner)
    api_key = ApiKey.objects.get(key_digest=key_digest(secret))
    client = api_client(secret)
    start = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    with time_machine.travel(start, tick=False) as clock:
        assert api_key.last_used_at is None
        client.get(CREDITS)
        api_key.refresh_from_db()
        assert api_key.last_used_at == start

        updates = []
        for seconds in (1, 20, 59):
            clock.move_to(start + dt.timedelta(seconds=seconds))
            with CaptureQueriesContext(connection) as queries:
                for _ in range(5):
                    client.get(CREDITS)
            # (On PostgreSQL the prepared lookup is logged without its SQL text: None.)
            updates += [q for q in queries if (q["sql"] or "").startswith("UPDATE")]
        api_key.refresh_from_db()
        assert updates == []
        assert api_key.last_used_at == start

        clock.move_to(start + dt.timedelta(seconds=61))
        client.get(CREDITS)
        client.get(CREDITS)
        api_key.refresh_from_db()
        assert api_key.last_used_at == start + dt.timedelta(seconds=61)


def test_concurrent_workers_do_not_pile_up_writes(owner: Membership) -> None:
    """Two workers that both read a stale last_used_at: only the first UPDATE changes the row."""
    from apikeys.auth.lookup import record_key_use

    secret = make_key(owner)
    api_key = ApiKey.objects.get(key_digest=key_digest(secret))
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    record_key_use(api_key.pk, None, now)
    record_key_use(api_key.pk, None, now + dt.timedelta(seconds=5))  # read before the first write
    api_key.refresh_from_db()
    assert api_key.last_used_at == now


def test_database_down_during_authentication_is_a_json_503(
    owner: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = api_client(make_key(owner))

    def unreachable(digest: str) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(lookup, "find_key", unreachable)
    response = client.get(CREDITS)
    assert response.status_code == 503
    assert error_of(response)["code"] == "service_unavailable"
    assert Client().get("/api/v1/health").status_code == 200  # no database needed


def test_database_down_in_a_view_is_a_json_503(
    owner: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    from voice import views

    def unreachable(*args: object, **kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views, "paginate", unreachable)
    response = api_client(make_key(owner), raise_request_exception=False).get("/api/v1/calls")
    assert response.status_code == 503
    assert error_of(response)["code"] == "service_unavailable"


def test_a_bug_in_a_view_is_a_json_500(owner: Membership, monkeypatch: pytest.MonkeyPatch) -> None:
    from voice import views

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(views, "paginate", broken)
    response = api_client(make_key(owner), raise_request_exception=False).get("/api/v1/calls")
    assert response.status_code == 500
    assert error_of(response)["code"] == "internal_error"


def test_other_paths_are_untouched(owner_client: Client) -> None:
    response = owner_client.get("/", headers={"Authorization": "Bearer nonsense"})
    assert response.status_code == 200
    assert not hasattr(response.wsgi_request, "api_key")


def test_a_bad_host_header_is_a_json_400_on_the_api() -> None:
    # Every API path but the two probes (tests/test_probes.py) checks the Host.
    response = Client().get("/api/v1/openapi.json", headers={"Host": "evil.example"})
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"
    page = Client().get("/login/", headers={"Host": "evil.example"})
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")
