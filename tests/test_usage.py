"""Usage counters: counted in memory per request, flushed in batches (apikeys/auth/usage.py)."""

from __future__ import annotations

import datetime as dt
import threading
from io import StringIO
from unittest import mock

import pytest
import time_machine
from django.core.management import call_command
from django.db import OperationalError, connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership
from apikeys.auth import usage
from apikeys.keys import key_digest
from apikeys.models import ApiKey, KeyClient, KeyScopeUse, KeyUsage
from tests.support.api import api_client, make_key

pytestmark = pytest.mark.django_db

CREDITS = "/api/v1/credits"  # any key may call it: no scope
CALLS = "/api/v1/calls"  # calls:read
NOON = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)


def _key_by_secret(secret: str) -> int:
    return ApiKey.objects.get(key_digest=key_digest(secret)).pk


def new_recorder(**overrides: float) -> usage.UsageRecorder:
    options = {"flush_seconds": 3600, "flush_requests": 1_000_000, "max_entries": 10_000}
    options.update(overrides)
    return usage.UsageRecorder(**options)  # type: ignore[arg-type]  # floats for int options


def record(recorder: usage.UsageRecorder, key_id: int, **overrides: object) -> bool:
    values: dict[str, object] = {
        "key_id": key_id,
        "scope": "calls:read",
        "scope_used": True,
        "status": 200,
        "error_code": "",
        "ip": "203.0.113.7",
        "user_agent": "curl/8",
        "now": NOON + dt.timedelta(minutes=5),
    }
    values.update(overrides)
    return recorder.record(**values)  # type: ignore[arg-type]  # values of several types


def test_n_requests_are_one_upsert_per_bucket(owner: Membership) -> None:
    client = api_client(make_key(owner))
    for _ in range(25):
        assert client.get(CALLS).status_code == 200
    assert not KeyUsage.objects.exists()  # nothing written per request
    with CaptureQueriesContext(connection) as queries:
        assert usage.recorder.flush()
    # The key check, then one statement per table and the client trim: not one per request
    # (the test's own transaction makes the flush's atomic block a savepoint).
    statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 5
    assert sum("INSERT INTO" in sql for sql in statements) == 3
    row = KeyUsage.objects.get()
    assert (row.scope, row.status_class, row.error_code, row.requests) == ("calls:read", 2, "", 25)
    assert row.hour.minute == row.hour.second == row.hour.microsecond == 0
    assert usage.recorder.flush()  # nothing pending: no second write
    assert KeyUsage.objects.get().requests == 25


def test_counts_add_up_across_flushes_and_buckets(owner: Membership) -> None:
    key_id = _key_by_secret(make_key(owner))
    recorder = new_recorder()
    for _ in range(3):
        record(recorder, key_id)
    record(recorder, key_id, now=NOON + dt.timedelta(hours=1, minutes=1))
    recorder.flush()
    for _ in range(4):
        record(recorder, key_id)
    recorder.flush()
    counts = dict(KeyUsage.objects.values_list("hour", "requests"))
    assert counts == {NOON: 7, NOON + dt.timedelta(hours=1): 1}


def test_two_workers_flushing_the_same_hour_add_up(owner: Membership) -> None:
    key_id = _key_by_secret(make_key(owner))
    first, second = new_recorder(), new_recorder()
    for _ in range(5):
        record(first, key_id)
    for _ in range(7):
        record(second, key_id)
    first.flush()
    second.flush()
    first.flush()
    second.flush()
    assert KeyUsage.objects.get().requests == 12
    assert KeyClient.objects.get().requests == 12


def test_failed_flush_keeps_its_counts_for_the_next(owner: Membership, caplog) -> None:  # noqa: ANN001
    key_id = _key_by_secret(make_key(owner))
    recorder = new_recorder()
    for _ in range(3):
        record(recorder, key_id)
    recorder.flush_requests = 3
    with mock.patch.object(usage, "write_batch", side_effect=OperationalError("down")):
        assert not recorder.flush()
        assert not record(recorder, key_id)  # no retry per request while the database fails
        assert not recorder.flush()
    assert [r.levelname for r in caplog.records] == ["WARNING"]  # logged once per outage
    assert not KeyUsage.objects.exists()
    assert recorder.flush()
    assert recorder.flush()
    assert KeyUsage.objects.get().requests == 4


def test_failure_inside_the_write_rolls_back_and_retries_once(owner: Membership) -> None:
    key_id = _key_by_secret(make_key(owner))
    recorder = new_recorder()
    record(recorder, key_id)
    with mock.patch.object(usage, "_CLIENT_UPSERT", "INSERT INTO no_such_table VALUES (%s)"):
        assert not recorder.flush()
    assert not KeyUsage.objects.exists()  # the usage upsert ran, then was rolled back
    assert recorder.flush()
    assert KeyUsage.objects.get().requests == 1


def test_concurrent_recording_and_flushing_count_each_request_once(owner: Membership) -> None:
    key_id = _key_by_secret(make_key(owner))
    recorder = new_recorder()
    written: list[int] = []

    def write(batch: usage.Batch, *, using: str = "default") -> None:
        written.append(sum(batch.usage.values()))

    def count() -> None:
        for n in range(500):
            record(recorder, key_id)
            if n % 100 == 0:
                recorder.flush()

    with mock.patch.object(usage, "write_batch", side_effect=write):
        threads = [threading.Thread(target=count) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        recorder.flush()
    assert sum(written) == 8 * 500


def test_thresholds_and_the_bound(owner: Membership) -> None:
    key_id = _key_by_secret(make_key(owner))
    by_count = new_recorder(flush_requests=3)
    assert not record(by_count, key_id)
    assert not record(by_count, key_id)
    assert record(by_count, key_id)
    by_time = new_recorder(flush_seconds=0)
    assert record(by_time, key_id)
    by_size = new_recorder(max_entries=2)
    assert not record(by_size, key_id, ip="192.0.2.1")
    assert record(by_size, key_id, ip="192.0.2.2")


def test_request_crossing_the_threshold_flushes(owner: Membership, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(usage, "recorder", new_recorder(flush_requests=3))
    client = api_client(make_key(owner))
    client.get(CREDITS)
    client.get(CREDITS)
    assert not KeyUsage.objects.exists()
    client.get(CREDITS)
    assert KeyUsage.objects.get().requests == 3
    assert usage.recorder.pending().requests == 0


def test_recording_adds_no_query_per_request(owner: Membership, django_assert_num_queries) -> None:  # noqa: ANN001
    client = api_client(make_key(owner))
    client.get(CREDITS)  # first use writes last_used_at (tests/test_middleware.py)
    with django_assert_num_queries(2):  # the key lookup and the view's balance read, no more
        assert client.get(CREDITS).status_code == 200
    assert usage.recorder.pending().requests == 2


def test_unauthenticated_requests_are_not_counted(owner: Membership) -> None:
    api_client("vxp_live_" + "a" * 38).get(CREDITS)
    api_client().get("/api/v1/health")
    assert usage.recorder.pending().requests == 0


def test_client_ip_from_remote_addr(owner: Membership) -> None:
    client = api_client(make_key(owner), REMOTE_ADDR="198.51.100.4")
    client.get(CREDITS, headers={"X-Forwarded-For": "1.2.3.4", "User-Agent": "x" * 300})
    usage.recorder.flush()
    seen = KeyClient.objects.get()
    assert seen.ip_address == "198.51.100.4"
    assert seen.user_agent == "x" * 200


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_client_ip_from_forwarded_for_behind_a_trusted_proxy(owner: Membership) -> None:
    client = api_client(make_key(owner), REMOTE_ADDR="10.0.0.1")
    client.get(CREDITS, headers={"X-Forwarded-For": "6.6.6.6, 198.51.100.9"})
    usage.recorder.flush()
    assert KeyClient.objects.get().ip_address == "198.51.100.9"


@override_settings(TRUSTED_PROXY_COUNT=1)
@pytest.mark.parametrize(
    ("forwarded_for", "stored"),
    [("2001:db8::1%eth0", "2001:db8::1"), ("junk, <b>", "10.0.0.1"), ("%eth0", "10.0.0.1")],
)
def test_forwarded_zone_ids_are_dropped_and_junk_is_the_connecting_address(
    owner: Membership, forwarded_for: str, stored: str
) -> None:
    client = api_client(make_key(owner), REMOTE_ADDR="10.0.0.1")
    assert client.get(CREDITS, headers={"X-Forwarded-For": forwarded_for}).status_code == 200
    assert usage.recorder.flush()
    assert KeyClient.objects.get().ip_address == stored
    assert KeyUsage.objects.get().requests == 1


def test_a_row_the_database_refuses_is_dropped_and_the_rest_written(
    owner: Membership, caplog: pytest.LogCaptureFixture
) -> None:
    key_id = _key_by_secret(make_key(owner))
    recorder = new_recorder()
    record(recorder, key_id, ip="203.0.113.7")
    # A NULL the column refuses: a row the database rejects, whichever database it is.
    record(recorder, key_id, ip="203.0.113.8", user_agent=None)

    assert recorder.flush()

    assert KeyUsage.objects.get().requests == 2
    assert list(KeyClient.objects.values_list("ip_address", flat=True)) == ["203.0.113.7"]
    assert recorder.pending().requests == 0  # not kept: it would fail every retry
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    record(recorder, key_id, ip="203.0.113.9")
    assert recorder.flush()
    assert KeyUsage.objects.get().requests == 3


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the inet column: PostgreSQL only")
def test_on_postgresql_an_address_inet_refuses_never_blocks_the_flush(owner: Membership) -> None:
    key_id = _key_by_secret(make_key(owner))
    recorder = new_recorder()
    # What client_ip used to pass through from X-Forwarded-For.
    record(recorder, key_id, ip="2001:db8::1%eth0")
    record(recorder, key_id, ip="2001:db8::2")

    assert recorder.flush()

    assert KeyUsage.objects.get().requests == 2
    assert list(KeyClient.objects.values_list("ip_address", flat=True)) == ["2001:db8::2"]
    assert recorder.pending().requests == 0


def test_clients_are_trimmed_to_the_ten_most_recent(owner: Membership) -> None:
    key_id = _key_by_secret(make_key(owner))
    recorder = new_recorder()
    for n in range(8):
        record(recorder, key_id, ip=f"192.0.2.{n}", now=NOON + dt.timedelta(seconds=n))
    recorder.flush()
    for n in range(8, 14):
        record(recorder, key_id, ip=f"192.0.2.{n}", now=NOON + dt.timedelta(seconds=n))
    record(recorder, key_id, ip="192.0.2.0", now=NOON + dt.timedelta(minutes=1), user_agent="new")
    recorder.flush()
    kept = KeyClient.objects.filter(api_key_id=key_id)
    assert sorted(
        int(ip.rsplit(".", 1)[1]) for ip in kept.values_list("ip_address", flat=True)
    ) == [
        0,
        *range(5, 14),
    ]
    oldest_address = kept.get(ip_address="192.0.2.0")
    assert oldest_address.first_seen == NOON  # kept from the first flush
    assert oldest_address.last_seen == NOON + dt.timedelta(minutes=1)
    assert (oldest_address.user_agent, oldest_address.requests) == ("new", 2)


def test_scope_last_use_per_scope(owner: Membership) -> None:
    client = api_client(make_key(owner, scopes=["calls:read", "contacts:read"]))
    with time_machine.travel(NOON, tick=False):
        client.get(CALLS)
    with time_machine.travel(NOON + dt.timedelta(hours=2), tick=False):
        client.get("/api/v1/contacts")
        client.get(CREDITS)  # no scope: no scope use
    usage.recorder.flush()
    assert dict(KeyScopeUse.objects.values_list("scope", "last_used_at")) == {
        "calls:read": NOON,
        "contacts:read": NOON + dt.timedelta(hours=2),
    }


def test_scope_last_use_never_goes_back(owner: Membership) -> None:
    key_id = _key_by_secret(make_key(owner))
    late, early = new_recorder(), new_recorder()
    record(late, key_id, now=NOON + dt.timedelta(minutes=30))
    record(early, key_id, now=NOON + dt.timedelta(minutes=10))
    late.flush()
    early.flush()
    assert KeyScopeUse.objects.get().last_used_at == NOON + dt.timedelta(minutes=30)
    assert KeyClient.objects.get().last_seen == NOON + dt.timedelta(minutes=30)


def test_error_codes_are_recorded_for_4xx(owner: Membership) -> None:
    client = api_client(make_key(owner, scopes=["contacts:read"]))
    assert client.get(CALLS).status_code == 403
    assert client.get(CALLS).status_code == 403
    assert client.delete(CALLS).status_code == 405
    usage.recorder.flush()
    rows = set(KeyUsage.objects.values_list("scope", "status_class", "error_code", "requests"))
    assert rows == {("calls:read", 4, "insufficient_scope", 2), ("", 4, "method_not_allowed", 1)}
    assert not KeyScopeUse.objects.exists()  # a refused scope was not used


def test_reset_forgets_pending_counts(owner: Membership) -> None:
    api_client(make_key(owner)).get(CREDITS)
    usage.recorder.reset()
    assert usage.recorder.flush()
    assert not KeyUsage.objects.exists()


def test_prune_at_the_retention_boundary_and_idempotent(owner: Membership, settings) -> None:  # noqa: ANN001
    settings.API_USAGE_RETENTION_DAYS = 90
    key_id = _key_by_secret(make_key(owner))
    for days in (91, 90, 89):
        KeyUsage.objects.create(
            api_key_id=key_id, hour=NOON - dt.timedelta(days=days), status_class=2, requests=1
        )
    out = StringIO()
    with time_machine.travel(NOON, tick=False):  # the 90-day-old hour is not older than 90 days
        call_command("prune_key_usage", stdout=out)
    with time_machine.travel(NOON + dt.timedelta(microseconds=1), tick=False):
        call_command("prune_key_usage", stdout=out)
        call_command("prune_key_usage", stdout=out)
    assert out.getvalue().splitlines() == [
        "Usage rows older than 90 days deleted: 1.",
        "Usage rows older than 90 days deleted: 1.",
        "Usage rows older than 90 days deleted: 0.",
    ]
    assert list(KeyUsage.objects.values_list("hour", flat=True)) == [NOON - dt.timedelta(days=89)]
