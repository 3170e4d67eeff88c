"""Rate limits: per key (local and shared through Redis), and failed authentications per address."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from pytest_django.fixtures import Settings

from accounts.models import Account, Membership
from apikeys.auth import ratelimit
from apikeys.auth.ratelimit import FALLBACK_SECONDS, KeyRateLimiter, RateLimits, SharedBuckets
from apikeys.keys import generate_key, key_digest
from apikeys.models import ApiKey
from apikeys.services import revoke_key
from tests.factories import UserFactory
from tests.support.api import api_client, bearer, make_key
from tests.support.clock import FakeClock

pytestmark = pytest.mark.django_db

CREDITS = "/api/v1/credits"
ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"


def install(monkeypatch: pytest.MonkeyPatch, **options: object) -> RateLimits:
    limits = RateLimits.from_settings(**options)
    monkeypatch.setattr(ratelimit, "limits", limits)
    return limits


@pytest.fixture
def local_limits(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> RateLimits:
    """Limits without Redis (even when the suite runs with REDIS_URL), on the fake clock."""
    return install(monkeypatch, redis_url="", clock=clock)


def redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except (redis.ConnectionError, redis.TimeoutError):
        pytest.skip(f"Redis is not reachable at {REDIS_URL}")
    return client


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    """A Redis key prefix of this test's own, and its keys deleted afterwards."""
    client = redis_or_skip()
    prefix = f"voxkeys-test:{uuid.uuid4().hex}:"
    yield prefix
    for name in client.scan_iter(match=f"{prefix}*"):
        client.delete(name)
    client.close()


def key_with_limit(membership: Membership, limit: int, scopes: tuple[str, ...] = ()) -> str:
    Account.objects.filter(pk=membership.account_id).update(api_rate_limit=limit)
    return make_key(membership, list(scopes) or ["calls:read"])


def key_id(secret: str) -> int:
    return ApiKey.objects.get(key_digest=key_digest(secret)).pk


def rate_headers(response) -> tuple[str | None, ...]:  # noqa: ANN001
    return tuple(
        response.get(name) for name in ("RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset")
    )


# Per key, in one process ---------------------------------------------------------------------


def test_the_request_after_the_limit_within_a_second_is_a_429(
    owner: Membership, local_limits: RateLimits
) -> None:
    client = api_client(key_with_limit(owner, 25))  # the default limit
    for remaining in range(24, -1, -1):
        response = client.get(CREDITS)
        assert response.status_code == 200
        assert rate_headers(response) == ("25", str(remaining), "1")

    response = client.get(CREDITS)

    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limited"
    assert "25 requests per second" in error["message"]
    assert response["Retry-After"] == "1"
    assert rate_headers(response) == ("25", "0", "1")


def test_the_bucket_refills_with_time(
    owner: Membership, local_limits: RateLimits, clock: FakeClock
) -> None:
    client = api_client(key_with_limit(owner, 5))
    assert [client.get(CREDITS).status_code for _ in range(6)] == [200] * 5 + [429]

    clock.advance(0.19)  # not yet a whole token (one every 0.2 s)
    assert client.get(CREDITS).status_code == 429
    clock.advance(0.01)
    assert [client.get(CREDITS).status_code for _ in range(2)] == [200, 429]

    clock.advance(10)  # full again, and no fuller than one second's worth
    assert [client.get(CREDITS).status_code for _ in range(6)] == [200] * 5 + [429]


def test_authenticated_errors_carry_the_headers_too(
    owner: Membership, local_limits: RateLimits
) -> None:
    client = api_client(key_with_limit(owner, 10, ("contacts:read",)))
    forbidden = client.post("/api/v1/contacts", {}, content_type="application/json")
    missing = client.get("/api/v1/contacts/999999")
    wrong_method = client.delete(CREDITS)

    assert (forbidden.status_code, missing.status_code, wrong_method.status_code) == (403, 404, 405)
    assert rate_headers(forbidden) == ("10", "9", "1")
    assert rate_headers(missing) == ("10", "8", "1")
    assert rate_headers(wrong_method) == ("10", "7", "1")


def test_unauthenticated_answers_carry_no_rate_headers(
    owner: Membership, local_limits: RateLimits
) -> None:
    for response in (
        Client().get("/api/v1/health"),
        Client().get(CREDITS),
        Client().get(CREDITS, headers=bearer(generate_key())),
    ):
        assert rate_headers(response) == (None, None, None)


def test_each_key_has_its_own_bucket(owner: Membership, local_limits: RateLimits) -> None:
    first = api_client(key_with_limit(owner, 3))
    second = api_client(make_key(owner))
    assert [first.get(CREDITS).status_code for _ in range(4)] == [200, 200, 200, 429]
    assert [second.get(CREDITS).status_code for _ in range(4)] == [200, 200, 200, 429]


def test_the_limit_is_the_accounts_admin_field(
    owner: Membership, local_limits: RateLimits, clock: FakeClock
) -> None:
    client = api_client(key_with_limit(owner, 3))
    assert [client.get(CREDITS).status_code for _ in range(4)] == [200, 200, 200, 429]

    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    account = owner.account
    response = staff.post(
        f"/admin/accounts/account/{account.pk}/change/",
        {
            "name": account.name,
            "status": account.status,
            "api_key_limit": account.api_key_limit,
            "credit_balance": account.credit_balance,
            "api_rate_limit": 7,
            "memberships-TOTAL_FORMS": 0,
            "memberships-INITIAL_FORMS": 0,
        },
    )
    assert response.status_code == 302

    # Read with the key on every request: the bucket now refills to 7.
    clock.advance(1)
    statuses = [client.get(CREDITS).status_code for _ in range(8)]
    assert statuses == [200] * 7 + [429]
    assert rate_headers(client.get(CREDITS))[0] == "7"


def test_threads_of_one_process_share_a_bucket_exactly(clock: FakeClock) -> None:
    limiter = KeyRateLimiter(None, slice_percent=10, clock=clock)
    admitted = []

    def hammer() -> None:
        admitted.append(sum(limiter.check(1, 50).allowed for _ in range(100)))

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(admitted) == 50


def test_memory_is_bounded_by_forgetting_the_least_recently_used_key(clock: FakeClock) -> None:
    limiter = KeyRateLimiter(None, slice_percent=10, clock=clock, max_keys=3)
    assert [limiter.check(1, 1).allowed for _ in range(2)] == [True, False]
    for other in (2, 3, 1, 4):  # 1 is used again, so 2 is the one forgotten
        limiter.check(other, 1)
    assert not limiter.check(1, 1).allowed
    assert limiter.check(2, 1).allowed  # forgotten: a full bucket again


def test_off_by_setting(owner: Membership, monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch, enabled=False, redis_url="")
    client = api_client(key_with_limit(owner, 1))
    responses = [client.get(CREDITS) for _ in range(3)]
    assert [response.status_code for response in responses] == [200] * 3
    assert rate_headers(responses[0]) == (None, None, None)


# Shared through Redis ------------------------------------------------------------------------


class CountingRuns:
    """Counts the Redis round trips the limiter makes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        original = SharedBuckets._run

        def counted(shared: SharedBuckets, *args: object) -> object:
            self.calls += 1
            return original(shared, *args)

        monkeypatch.setattr(SharedBuckets, "_run", counted)


def test_with_redis_most_requests_touch_only_process_memory(
    owner: Membership, monkeypatch: pytest.MonkeyPatch, redis_prefix: str
) -> None:
    install(monkeypatch, redis_url=REDIS_URL, prefix=redis_prefix, slice_percent=10)
    runs = CountingRuns(monkeypatch)
    client = api_client(key_with_limit(owner, 1_000))

    statuses = [client.get(CREDITS).status_code for _ in range(250)]

    assert statuses == [200] * 250
    assert runs.calls == 3  # slices of 100 tokens: one round trip per 100 requests


def test_with_redis_the_limit_holds_and_429s_need_no_round_trip(
    owner: Membership, monkeypatch: pytest.MonkeyPatch, redis_prefix: str, clock: FakeClock
) -> None:
    # The fake clock drives only this process's side; Redis refills by its own clock, so the
    # limit is low enough that the real time this test takes refills less than a token.
    install(monkeypatch, redis_url=REDIS_URL, prefix=redis_prefix, clock=clock)
    runs = CountingRuns(monkeypatch)
    client = api_client(key_with_limit(owner, 1))
    first, second = client.get(CREDITS), client.get(CREDITS)
    assert (first.status_code, second.status_code) == (200, 429)
    assert second["Retry-After"] == "1"
    calls = runs.calls
    assert [client.get(CREDITS).status_code for _ in range(20)] == [429] * 20
    assert runs.calls == calls  # Redis said when the next token is due: no need to ask before


WINDOW = 0.3
CONTENDER = f"""
import sys
import time
import django

django.setup()
from apikeys.auth.ratelimit import RateLimits

prefix, limit = sys.argv[1], int(sys.argv[2])
limits = RateLimits.from_settings(prefix=prefix)
print("ready", flush=True)
sys.stdin.readline()
admitted, deadline = 0, time.monotonic() + {WINDOW}
while time.monotonic() < deadline:
    admitted += limits.keys.check(1, limit).allowed
print(admitted, flush=True)
"""


def test_two_processes_share_one_limit_within_the_documented_overshoot(redis_prefix: str) -> None:
    """This process and another one, each with its own memory, spend one key's limit at once."""
    limit, processes = 100, 2
    limits = RateLimits.from_settings(redis_url=REDIS_URL, prefix=redis_prefix)
    other = subprocess.Popen(
        [sys.executable, "-c", CONTENDER, redis_prefix, str(limit)],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "REDIS_URL": REDIS_URL},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other.stdout is not None and other.stdin is not None
        assert other.stdout.readline().strip() == "ready"
        start = time.monotonic()
        other.stdin.write("go\n")
        other.stdin.flush()
        here = 0
        while time.monotonic() < start + WINDOW:
            here += limits.keys.check(1, limit).allowed
        there = int(other.stdout.readline())
        elapsed = time.monotonic() - start  # covers both processes' windows
    finally:
        other.kill()
        other.wait()

    admitted, overshoot = here + there, limits.keys.slice(limit) * processes
    # The token bucket's own bound for T seconds, plus one slice per process. Each process
    # limiting alone would admit about twice as many.
    assert admitted <= limit * (1 + elapsed) + overshoot, (here, there, elapsed)
    assert admitted >= limit - overshoot, (here, there, elapsed)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_redis_down_limits_locally_and_logs_once(
    owner: Membership,
    monkeypatch: pytest.MonkeyPatch,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    install(monkeypatch, redis_url=f"redis://127.0.0.1:{closed_port()}/0", clock=clock)
    client = api_client(key_with_limit(owner, 3))
    bad_key = Client(REMOTE_ADDR="192.0.2.1", headers=bearer(generate_key()))

    with caplog.at_level(logging.WARNING, logger="apikeys.auth.ratelimit"):
        assert [client.get(CREDITS).status_code for _ in range(4)] == [200, 200, 200, 429]
        assert bad_key.get(CREDITS).status_code == 401
        clock.advance(FALLBACK_SECONDS + 1)  # Redis is tried again, and is still down
        assert [client.get(CREDITS).status_code for _ in range(4)] == [200, 200, 200, 429]

    messages = [r.getMessage() for r in caplog.records if r.name == "apikeys.auth.ratelimit"]
    assert len(messages) == 1
    assert messages[0].startswith("Redis is unavailable")


def test_a_redis_error_reply_falls_back_until_redis_answers_again(
    owner: Membership,
    monkeypatch: pytest.MonkeyPatch,
    redis_prefix: str,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    install(monkeypatch, redis_url=REDIS_URL, prefix=redis_prefix, clock=clock)
    secret = key_with_limit(owner, 2)
    bucket = f"{redis_prefix}key:{key_id(secret)}"
    shared = redis.Redis.from_url(REDIS_URL)
    shared.set(bucket, "not a hash")  # every script call on it is a WRONGTYPE error reply
    client = api_client(secret)

    with caplog.at_level(logging.WARNING, logger="apikeys.auth.ratelimit"):
        assert [client.get(CREDITS).status_code for _ in range(3)] == [200, 200, 429]
        shared.delete(bucket)
        clock.advance(FALLBACK_SECONDS)
        assert client.get(CREDITS).status_code == 200

    assert shared.hget(bucket, "tokens") is not None  # the shared bucket is in use again
    shared.close()
    messages = [r.getMessage() for r in caplog.records if r.name == "apikeys.auth.ratelimit"]
    assert len(messages) == 2
    assert messages[0].startswith("Redis is unavailable")
    assert messages[1].startswith("Redis answers again")


# Failed authentication per client address ----------------------------------------------------


def test_the_61st_failure_in_a_minute_is_a_429_before_the_database(
    owner: Membership, local_limits: RateLimits, clock: FakeClock, django_assert_num_queries
) -> None:  # noqa: ANN001
    valid_key = make_key(owner)
    attacker = Client(REMOTE_ADDR="198.51.100.7")
    for _ in range(60):
        assert attacker.get(CREDITS, headers=bearer(generate_key())).status_code == 401

    with django_assert_num_queries(0):
        response = attacker.get(CREDITS, headers=bearer(generate_key()))
        # A valid key this process has not seen authenticate waits too: nothing tells it
        # apart from the flood without the lookup.
        valid = attacker.get(CREDITS, headers=bearer(valid_key))

    assert response.status_code == valid.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert response["Retry-After"] == "1"
    assert rate_headers(response) == (None, None, None)  # no key was authenticated
    other = Client(REMOTE_ADDR="198.51.100.8")
    assert other.get(CREDITS, headers=bearer(generate_key())).status_code == 401
    # The bucket refills 60 a minute: one more failure a second.
    clock.advance(1)
    assert attacker.get(CREDITS, headers=bearer(generate_key())).status_code == 401
    assert attacker.get(CREDITS, headers=bearer(valid_key)).status_code == 429
    clock.advance(1)
    assert attacker.get(CREDITS, headers=bearer(valid_key)).status_code == 200


def test_a_flood_of_unknown_keys_from_a_shared_address_never_refuses_a_valid_key_behind_it(
    owner: Membership, local_limits: RateLimits
) -> None:
    customer = Client(REMOTE_ADDR="198.51.100.7")  # one corporate NAT: attacker and customer
    valid_key = make_key(owner)
    assert customer.get(CREDITS, headers=bearer(valid_key)).status_code == 200  # last_used_at
    with CaptureQueriesContext(connection) as before:
        assert customer.get(CREDITS, headers=bearer(valid_key)).status_code == 200
    statuses = []
    for number in range(300):
        with CaptureQueriesContext(connection) as unknown:
            statuses.append(customer.get(CREDITS, headers=bearer(generate_key())).status_code)
        if statuses[-1] == 429:
            assert len(unknown) == 0  # a blocked unknown key costs no lookup
        if number % 3 == 0:
            with CaptureQueriesContext(connection) as valid:
                assert customer.get(CREDITS, headers=bearer(valid_key)).status_code == 200
            assert len(valid) == len(before)  # the same lookup as when nothing was blocked

    # Only the failures counted: the 60 a minute were looked up, everything after was refused.
    assert statuses == [401] * 60 + [429] * 240


def test_a_valid_key_revoked_during_a_block_is_refused_by_its_lookup_and_then_blocked(
    owner: Membership, local_limits: RateLimits
) -> None:
    client = Client(REMOTE_ADDR="198.51.100.7")
    secret = make_key(owner)
    assert client.get(CREDITS, headers=bearer(secret)).status_code == 200
    for _ in range(60):
        assert client.get(CREDITS, headers=bearer(generate_key())).status_code == 401
    revoke_key(key=ApiKey.objects.get(pk=key_id(secret)), user=owner.user)

    assert client.get(CREDITS, headers=bearer(secret)).json()["error"]["code"] == "revoked_api_key"
    assert client.get(CREDITS, headers=bearer(secret)).status_code == 429


def test_revoked_and_expired_keys_count_malformed_ones_do_not(
    owner: Membership, local_limits: RateLimits
) -> None:
    revoked, expired = make_key(owner), make_key(owner)
    revoke_key(key=ApiKey.objects.get(pk=key_id(revoked)), user=owner.user)
    ApiKey.objects.filter(pk=key_id(expired)).update(
        expires_at=timezone.now() - dt.timedelta(days=1)
    )
    client = Client(REMOTE_ADDR="203.0.113.5")
    # Malformed keys are refused without the database, so they cost nothing worth throttling.
    for _ in range(100):
        assert client.get(CREDITS, headers={"Authorization": "Bearer nonsense"}).status_code == 401
    for secret, code in [(revoked, "revoked_api_key"), (expired, "expired_api_key")] * 30:
        assert client.get(CREDITS, headers=bearer(secret)).json()["error"]["code"] == code

    assert client.get(CREDITS, headers=bearer(revoked)).status_code == 429


def test_x_forwarded_for_does_not_help_without_trusted_proxies(local_limits: RateLimits) -> None:
    client = Client(REMOTE_ADDR="203.0.113.9")
    for number in range(60):
        headers = {**bearer(generate_key()), "X-Forwarded-For": f"192.0.2.{number}"}
        assert client.get(CREDITS, headers=headers).status_code == 401
    headers = {**bearer(generate_key()), "X-Forwarded-For": "192.0.2.200"}
    assert client.get(CREDITS, headers=headers).status_code == 429


def test_behind_a_trusted_proxy_each_client_has_its_own_count(
    local_limits: RateLimits, settings: Settings
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = Client(REMOTE_ADDR="10.0.0.1")
    for _ in range(60):
        headers = {**bearer(generate_key()), "X-Forwarded-For": "192.0.2.1"}
        assert proxy.get(CREDITS, headers=headers).status_code == 401
    blocked = {**bearer(generate_key()), "X-Forwarded-For": "192.0.2.1"}
    someone_else = {**bearer(generate_key()), "X-Forwarded-For": "192.0.2.2"}
    assert proxy.get(CREDITS, headers=blocked).status_code == 429
    assert proxy.get(CREDITS, headers=someone_else).status_code == 401


def test_with_redis_failures_are_counted_across_processes(
    monkeypatch: pytest.MonkeyPatch, redis_prefix: str
) -> None:
    """Two limiters with separate memory (two servers) and one Redis: the count is shared."""
    first = RateLimits.from_settings(redis_url=REDIS_URL, prefix=redis_prefix)
    second = RateLimits.from_settings(redis_url=REDIS_URL, prefix=redis_prefix)
    runs = CountingRuns(monkeypatch)
    request = RequestFactory().get(CREDITS, REMOTE_ADDR="198.51.100.20")
    unknown = key_digest(generate_key())
    for limits in [first, second] * 30:
        assert limits.auth_failures_retry_after(request, digest=unknown) is None
        limits.record_auth_failure(request, digest=unknown)

    assert second.auth_failures_retry_after(request, digest=unknown) == 1  # bucket emptied
    # The other server learns of the block from its own next failure, which gets through.
    assert first.auth_failures_retry_after(request, digest=unknown) is None
    first.record_auth_failure(request, digest=unknown)
    # It went into debt (-1 token), so the block it learns of is a second longer.
    assert first.auth_failures_retry_after(request, digest=unknown) == 2
    # Failures are one round trip each; checking an address is never one.
    assert runs.calls == 61
    assert first.auth_failures_retry_after(RequestFactory().get(CREDITS), digest=unknown) is None
    assert runs.calls == 61
