"""The authentication cache (apikeys/auth/cache.py): its rules in memory, the triggers that keep
it exact, and the listener end to end on PostgreSQL (the two-server proof is bench/scale_test.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.test import RequestFactory
from django.utils import timezone
from pytest_django.fixtures import Settings

from accounts.models import Account, Membership
from apikeys.auth import lookup
from apikeys.auth.cache import CHANNEL, AuthCache, Listener, process_cache
from apikeys.auth.check import check_key
from apikeys.auth.lookup import ACCOUNT_FIELDS, LOOKUP_FIELDS, lookup_key
from apikeys.keys import key_digest
from apikeys.models import ApiKey
from apikeys.services import edit_key, revoke_key
from tests.private_postgres import is_available, private_postgres
from tests.support.api import api_client, bearer, make_key
from tests.support.clock import FakeClock
from voxkeys.db.backends.postgresql.base import DeadlineConnection

CREDITS = "/api/v1/credits"
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the cache and its triggers: PostgreSQL only"
)


def live_cache(size: int = 3, ttl: float = 30) -> tuple[AuthCache, FakeClock]:
    clock = FakeClock()
    cache = AuthCache(size=size, ttl=ttl, stale_after=2.5, clock=clock)
    cache.listening()
    return cache, clock


def fill(cache: AuthCache, digest: str, account_id: int = 1) -> bool:
    return cache.put(digest, (digest, account_id), account_id, cache.generation())


# -- the rules, in memory ---------------------------------------------------------------------


def test_a_cache_whose_listener_never_connected_answers_nothing() -> None:
    cache = AuthCache(size=3, ttl=30)
    assert not fill(cache, "a")
    assert cache.get("a") is None
    assert len(cache) == 0


def test_a_filled_entry_is_served_until_the_ttl() -> None:
    cache, clock = live_cache(ttl=30)
    assert fill(cache, "a")
    clock.now += 2  # heartbeats keep it live
    cache.heard()
    assert cache.get("a") == ("a", 1)
    clock.now += 28.5
    cache.heard()
    assert cache.get("a") is None
    assert len(cache) == 0


def test_the_least_recently_used_entry_goes_first() -> None:
    cache, _ = live_cache(size=3)
    for digest in "abc":
        fill(cache, digest)
    assert cache.get("a") is not None  # b is now the least recently used
    fill(cache, "d")
    assert len(cache) == 3
    assert cache.get("b") is None
    assert [cache.get(d) is not None for d in "acd"] == [True, True, True]


def test_no_heartbeat_within_the_bound_bypasses_the_cache() -> None:
    cache, clock = live_cache()
    fill(cache, "a")
    clock.now += 2.5
    assert cache.get("a") is not None
    clock.now += 0.01
    assert cache.get("a") is None
    assert not fill(cache, "b")
    cache.heard()  # the listener is back in touch: the entries it kept are still exact
    assert cache.get("a") is not None


def test_a_lost_listener_empties_the_cache_and_bypasses_it() -> None:
    cache, _ = live_cache()
    fill(cache, "a")
    cache.lost()
    assert cache.get("a") is None
    cache.heard()  # a stray heartbeat does not revive it: only listening() does
    assert not cache.is_live()
    cache.listening()
    assert cache.is_live()
    assert cache.get("a") is None


def test_a_lookup_that_raced_an_invalidation_is_not_cached() -> None:
    cache, _ = live_cache()
    generation = cache.generation()  # the lookup starts ...
    cache.invalidate("key:a")  # ... the key changes and the notification arrives ...
    assert not cache.put("a", ("stale",), 1, generation)  # ... and its row comes back
    assert cache.get("a") is None
    assert cache.put("a", ("fresh",), 1, cache.generation())


@pytest.mark.parametrize(
    ("payload", "left"),
    [
        ("key:a", {"b", "c"}),
        ("key:unknown", {"a", "b", "c"}),
        ("account:7", {"c"}),
        ("account:8", {"a", "b"}),
        ("all", set()),
        ("something:new", set()),  # a payload this version does not know: drop everything
        ("account:not-a-number", set()),
    ],
)
def test_notifications_evict_what_they_name(payload: str, left: set[str]) -> None:
    cache, _ = live_cache()
    fill(cache, "a", account_id=7)
    fill(cache, "b", account_id=7)
    fill(cache, "c", account_id=8)
    cache.invalidate(payload)
    assert {d for d in "abc" if cache.get(d) is not None} == left


def test_the_account_index_follows_every_way_out() -> None:
    cache, clock = live_cache(size=2, ttl=30)
    fill(cache, "a", account_id=7)
    fill(cache, "b", account_id=7)
    fill(cache, "c", account_id=8)  # a, the least recently used, goes
    cache.invalidate("key:b")
    assert cache._by_account == {8: {"c"}}
    cache.put("c", ("c", 9), 9, cache.generation())  # the same key, now in another account
    assert cache._by_account == {9: {"c"}}
    clock.now += 31
    cache.heard()
    assert cache.get("c") is None  # too old
    assert cache._by_account == {}


def test_replace_updates_only_an_entry_that_is_there() -> None:
    cache, _ = live_cache()
    fill(cache, "a")
    cache.replace("a", ("a", 1, "used"))
    cache.replace("b", ("b",))
    assert cache.get("a") == ("a", 1, "used")
    assert cache.get("b") is None


# -- on PostgreSQL: the triggers --------------------------------------------------------------


@pytest.fixture
def notifications() -> Iterator[Callable[[], list[str]]]:
    """Listen on the cache's channel on a connection of our own; return a function that
    collects what has arrived (waiting up to 2 s for the first one)."""
    params = connection.get_connection_params()
    for django_only in ("cursor_factory", "context", "prepare_threshold"):
        params.pop(django_only, None)
    with psycopg.connect(**params, autocommit=True) as listen:
        listen.execute(f"LISTEN {CHANNEL}")

        def received(wait: float = 2.0) -> list[str]:
            payloads = [n.payload for n in listen.notifies(timeout=wait, stop_after=1)]
            payloads += [n.payload for n in listen.notifies(timeout=0.2)]
            return payloads

        yield received


def raw_sql(sql: str, *params: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


# Every column the lookup reads of the key, changed by raw SQL (what no service would do).
KEY_CHANGES = {
    "scopes": "UPDATE apikeys_apikey SET scopes = 'calls:read' WHERE id = %s",
    "environment": "UPDATE apikeys_apikey SET environment = 'test' WHERE id = %s",
    "revoked_at": "UPDATE apikeys_apikey SET revoked_at = now() WHERE id = %s",
    "expires_at": "UPDATE apikeys_apikey SET expires_at = now() WHERE id = %s",
    "expiry_recorded_at": "UPDATE apikeys_apikey SET expiry_recorded_at = now() WHERE id = %s",
    "allowed_ips": "UPDATE apikeys_apikey SET allowed_ips = '10.0.0.1' WHERE id = %s",
    "account_id": "UPDATE apikeys_apikey SET account_id = "
    "(SELECT max(id) FROM accounts_account) WHERE id = %s",
    "name": "UPDATE apikeys_apikey SET name = 'renamed' WHERE id = %s",
}


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_triggers_announce_every_column_the_lookup_reads() -> None:
    read_by_lookup = {f.removesuffix("_id") for f in LOOKUP_FIELDS if "__" not in f} - {
        "pk",
        "last_used_at",
    }
    assert read_by_lookup <= {c.removesuffix("_id") for c in KEY_CHANGES} | {"replaced_by"}


@postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("column", sorted(KEY_CHANGES))
def test_a_raw_update_of_a_key_is_announced(
    column: str, owner: Membership, notifications: Callable[[], list[str]]
) -> None:
    Account.objects.create(name="Another")
    api_key = ApiKey.objects.get(key_digest=key_digest(make_key(owner)))
    notifications(0.2)  # whatever making it announced
    raw_sql(KEY_CHANGES[column], api_key.pk)
    assert notifications() == [f"key:{api_key.key_digest}"]


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_rolling_announces_the_old_key(owner: Membership, notifications: Callable) -> None:
    from datetime import timedelta

    from apikeys.services import roll_key

    api_key = ApiKey.objects.get(key_digest=key_digest(make_key(owner)))
    notifications(0.2)
    roll_key(key=api_key, user=owner.user, grace=timedelta(hours=1))
    assert f"key:{api_key.key_digest}" in notifications()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_hot_path_writes_are_not_announced(
    owner: Membership, notifications: Callable[[], list[str]]
) -> None:
    api_key = ApiKey.objects.get(key_digest=key_digest(make_key(owner)))
    notifications(0.2)
    raw_sql("UPDATE apikeys_apikey SET last_used_at = now() WHERE id = %s", api_key.pk)
    raw_sql("UPDATE accounts_account SET credit_balance = 5 WHERE id = %s", owner.account_id)
    raw_sql("UPDATE apikeys_apikey SET scopes = scopes WHERE id = %s", api_key.pk)  # no change
    assert notifications(0.5) == []


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_account_changes_deletes_and_truncates_are_announced(
    owner: Membership, notifications: Callable[[], list[str]]
) -> None:
    api_key = ApiKey.objects.get(key_digest=key_digest(make_key(owner)))
    notifications(0.2)
    Account.objects.filter(pk=owner.account_id).update(status=Account.Status.SUSPENDED)
    assert notifications() == [f"account:{owner.account_id}"]
    raw_sql("UPDATE accounts_account SET api_rate_limit = 7 WHERE id = %s", owner.account_id)
    assert notifications() == [f"account:{owner.account_id}"]
    raw_sql("DELETE FROM apikeys_keyevent WHERE api_key_id = %s", api_key.pk)
    raw_sql("DELETE FROM apikeys_apikey WHERE id = %s", api_key.pk)
    assert f"key:{api_key.key_digest}" in notifications()
    raw_sql("TRUNCATE apikeys_apikey CASCADE")
    assert "all" in notifications()


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_nothing_is_announced_before_the_commit(
    owner: Membership, notifications: Callable[[], list[str]]
) -> None:
    from django.db import transaction

    api_key = ApiKey.objects.get(key_digest=key_digest(make_key(owner)))
    notifications(0.2)
    with transaction.atomic():
        revoke_key(key=api_key, user=owner.user)
        assert notifications(0.3) == []
    assert notifications() == [f"key:{api_key.key_digest}"]


# -- on PostgreSQL: the cache in the request path ---------------------------------------------


@pytest.fixture
def cache_on(settings: Settings) -> AuthCache:
    """This process's cache, with its listener connected and listening."""
    settings.API_KEY_CACHE = True
    cache = process_cache.get()
    wait_for(cache.is_live, "the listener to connect")
    return cache


def wait_for(condition: Callable[[], object], what: str, timeout: float = 5.0) -> None:
    """Poll for something another thread does (the listener), up to `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def authenticate_with(secret: str) -> tuple[Any, Account]:
    result = check_key(RequestFactory().get(CREDITS, headers=bearer(secret)))
    return result.key, result.account  # type: ignore[union-attr]  # a Refusal fails the test


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_zero_queries_on_a_hit_one_on_a_miss(
    owner: Membership, cache_on: AuthCache, django_assert_num_queries: Any
) -> None:
    secret = make_key(owner)
    api_client(secret).get(CREDITS)  # writes last_used_at, so the next ones write nothing
    process_cache.stop()
    cache = process_cache.get()
    wait_for(cache.is_live, "the listener to connect")
    with django_assert_num_queries(1):
        key, account = authenticate_with(secret)  # a miss: the lookup
    assert "credit_balance" in account.get_deferred_fields()  # the lookup leaves it out
    with django_assert_num_queries(0):
        key_again, account = authenticate_with(secret)  # a hit
    assert key_again == key
    assert account.name == owner.account.name
    with django_assert_num_queries(1):  # the view reads the balance, never from the cache
        assert account.credit_balance == owner.account.credit_balance


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_credits_balance_is_never_served_from_the_cache(
    owner: Membership, cache_on: AuthCache
) -> None:
    client = api_client(make_key(owner))
    assert client.get(CREDITS).json()["balance"] == owner.account.credit_balance
    Account.objects.filter(pk=owner.account_id).update(credit_balance=4321)
    assert client.get(CREDITS).json()["balance"] == 4321
    assert len(cache_on) == 1


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_unknown_keys_are_never_cached(cache_on: AuthCache) -> None:
    from apikeys.keys import generate_key

    for _ in range(5):
        assert api_client(generate_key()).get(CREDITS).status_code == 401
    assert len(cache_on) == 0


def revoke_with_service(api_key: ApiKey, owner: Membership) -> None:
    revoke_key(key=api_key, user=owner.user)


def revoke_with_sql(api_key: ApiKey, owner: Membership) -> None:
    raw_sql("UPDATE apikeys_apikey SET revoked_at = now() WHERE id = %s", api_key.pk)


def remove_the_scope(api_key: ApiKey, owner: Membership) -> None:
    edit_key(
        key=api_key,
        user=owner.user,
        name=api_key.name,
        description=api_key.description,
        scopes=["contacts:read"],
    )


def suspend_the_account(api_key: ApiKey, owner: Membership) -> None:
    Account.objects.filter(pk=owner.account_id).update(status=Account.Status.SUSPENDED)


def expire_it(api_key: ApiKey, owner: Membership) -> None:
    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=timezone.now())


@postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (revoke_with_service, 401, "revoked_api_key"),
        (revoke_with_sql, 401, "revoked_api_key"),
        (remove_the_scope, 403, "insufficient_scope"),
        (suspend_the_account, 403, "account_suspended"),
        (expire_it, 401, "expired_api_key"),
    ],
)
def test_a_change_evicts_the_cached_key(
    owner: Membership, cache_on: AuthCache, change: Callable, status: int, code: str
) -> None:
    secret = make_key(owner, ["calls:read"])
    client = api_client(secret)
    assert client.get("/api/v1/calls").status_code == 200
    digest = key_digest(secret)
    assert cache_on.get(digest) is not None
    change(ApiKey.objects.get(key_digest=digest), owner)
    wait_for(lambda: cache_on.get(digest) is None, "the notification")
    response = client.get("/api/v1/calls")
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_lookup_racing_a_revocation_does_not_cache_the_old_row(
    owner: Membership, cache_on: AuthCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = make_key(owner)
    api_key = ApiKey.objects.get(key_digest=key_digest(secret))
    real_find_key = lookup.find_key

    def find_then_revoke(digest: str) -> tuple[Any, ...] | None:
        row = real_find_key(digest)  # read before the revocation commits ...
        generation = cache_on.generation()
        revoke_key(key=api_key, user=owner.user)
        wait_for(lambda: cache_on.generation() != generation, "the notification")
        return row  # ... and handed back after its notification was applied

    monkeypatch.setattr(lookup, "find_key", find_then_revoke)
    assert lookup_key(api_key.key_digest) is not None  # that request still went through
    monkeypatch.setattr(lookup, "find_key", real_find_key)
    assert cache_on.get(api_key.key_digest) is None
    assert api_client(secret).get(CREDITS).json()["error"]["code"] == "revoked_api_key"


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_killed_listener_turns_the_cache_off_then_comes_back_empty(
    owner: Membership, cache_on: AuthCache
) -> None:
    secret = make_key(owner)
    client = api_client(secret)
    client.get(CREDITS)
    assert len(cache_on) == 1
    listener = process_cache.listener
    assert listener is not None and listener.connection is not None
    backend = listener.connection.info.backend_pid
    raw_sql("SELECT pg_terminate_backend(%s)", backend)
    killed = time.monotonic()
    wait_for(lambda: not cache_on.is_live(), "the cache to turn off", timeout=3)
    assert time.monotonic() - killed < 3
    assert cache_on.get(key_digest(secret)) is None
    # While it is off, requests go to the database: a revocation now is seen at once.
    revoke_with_sql(ApiKey.objects.get(key_digest=key_digest(secret)), owner)
    assert client.get(CREDITS).status_code == 401
    wait_for(cache_on.is_live, "the listener to reconnect")
    assert len(cache_on) == 0
    assert listener.connection is not None
    assert listener.connection.info.backend_pid != backend


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_listener_that_cannot_connect_keeps_the_cache_off(owner: Membership) -> None:
    cache = AuthCache(size=10, ttl=30)
    attempts: list[float] = []

    def refused() -> psycopg.Connection[Any]:
        attempts.append(time.monotonic())
        raise psycopg.OperationalError("connection refused")

    listener = Listener(cache, connect=refused)
    listener.start()
    try:
        wait_for(lambda: len(attempts) >= 3, "three attempts")
        assert not cache.is_live()
        assert not cache.put("a", ("a",), 1, cache.generation())
    finally:
        listener.stop()
        listener.join(timeout=5)


@postgresql_only
@pytest.mark.django_db
def test_inside_a_transaction_the_cache_is_not_used(owner: Membership, settings: Settings) -> None:
    settings.API_KEY_CACHE = True
    secret = make_key(owner)
    assert connection.in_atomic_block  # the test's own transaction
    assert api_client(secret).get(CREDITS).status_code == 200
    assert process_cache.cache is None  # never started


@pytest.mark.django_db
def test_api_key_cache_0_uses_the_direct_lookup(owner: Membership, settings: Settings) -> None:
    settings.API_KEY_CACHE = False
    assert api_client(make_key(owner)).get(CREDITS).status_code == 200
    assert process_cache.cache is None


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_readiness_says_whether_the_cache_is_on(settings: Settings) -> None:
    from django.test import Client

    settings.REDIS_URL = ""
    settings.API_KEY_CACHE = True
    first = Client().get("/api/v1/health/ready").json()["auth_cache"]
    assert first in {"on", "off"}  # the first request starts the listener
    wait_for(lambda: process_cache.get().is_live(), "the listener to connect")
    assert Client().get("/api/v1/health/ready").json()["auth_cache"] == "on"
    process_cache.get().lost()
    response = Client().get("/api/v1/health/ready")
    assert response.status_code == 200  # not a readiness condition
    assert response.json()["auth_cache"] == "off"


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_credits_on_a_hit_is_one_prepared_query_for_the_balance(
    owner: Membership, cache_on: AuthCache, django_assert_num_queries: Any
) -> None:
    client = api_client(make_key(owner))
    client.get(CREDITS)  # a miss, and last_used_at written
    client.get(CREDITS)
    with django_assert_num_queries(1) as captured:
        response = client.get(CREDITS)
    assert response.json()["balance"] == owner.account.credit_balance
    assert captured.captured_queries[0]["sql"] is None  # prepared: psycopg keeps no text


@pytest.mark.django_db
def test_the_balance_of_an_account_built_without_it_is_read_then(owner: Membership) -> None:
    from voice.services import credit_balance

    Account.objects.filter(pk=owner.account_id).update(credit_balance=77)
    values = [getattr(owner.account, name) for name in ACCOUNT_FIELDS]
    cached = Account.from_db("default", ACCOUNT_FIELDS, values)
    assert "credit_balance" in cached.get_deferred_fields()
    assert credit_balance(cached) == 77
    gone = Account.from_db("default", ACCOUNT_FIELDS, [10**9, *values[1:]])
    assert credit_balance(gone) is None


@pytest.mark.skipif(not is_available(), reason="needs PostgreSQL's initdb (a private cluster)")
def test_a_hung_database_turns_the_cache_off_within_the_bound() -> None:
    """The listener's connection stays open but nothing answers (the database is paused): no
    error ever arrives, so only the missing heartbeat can turn the cache off."""
    with private_postgres() as (url, cluster):
        cache = AuthCache(size=10, ttl=30)

        def connect() -> psycopg.Connection[Any]:
            connection = DeadlineConnection.connect(url, autocommit=True, connect_timeout=1)
            connection.query_timeout = 2.0
            return connection

        listener = Listener(cache, connect=connect, heartbeat_interval=0.2)
        listener.start()
        try:
            wait_for(cache.is_live, "the listener to connect")
            assert cache.put("a", ("a",), 1, cache.generation())
            cluster.pause()
            paused = time.monotonic()
            try:
                wait_for(lambda: not cache.is_live(), "the cache to turn off", timeout=5)
                off_after = time.monotonic() - paused
                assert cache.get("a") is None
            finally:
                cluster.resume()
            assert off_after <= 2.5 + 0.2 + 1.0  # the bound, one heartbeat, a busy machine
            wait_for(cache.is_live, "the listener to come back", timeout=15)
            assert cache.get("a") is None  # emptied on the way back
        finally:
            listener.stop()
            listener.join(timeout=5)
