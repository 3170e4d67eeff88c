from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.hashers import get_hasher
from django.core import mail
from django.db import transaction
from django.test import Client
from django.utils import timezone
from pytest_django.fixtures import Settings

from accounts import throttle
from accounts.idle import LAST_SEEN_SESSION_KEY
from accounts.models import Account, Membership
from accounts.sudo import SUDO_SESSION_KEY
from apikeys.auth import cache as authcache
from apikeys.auth import ratelimit, usage
from tests.factories import AccountFactory, MembershipFactory
from tests.support.admin import logged_in, new_superuser
from tests.support.clock import FakeClock
from tests.support.jobs import OutboxAfterJobs
from voice import validation

# Playwright's sync API keeps an event loop running in the main thread; Django's ORM refuses
# to run there unless told it is safe (it is: the loop is idle while Django runs).
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(autouse=True)
def outbox_after_jobs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading `mail.outbox` (or `mailoutbox`) runs the queue's ready jobs first (see
    tests.support.jobs): the mail of an action is sent by a job, as in production."""
    monkeypatch.setattr(mail, "outbox", OutboxAfterJobs(), raising=False)


@pytest.fixture(autouse=True)
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhook hosts are looked up when saved; here no name resolves, so no test needs DNS.

    tests/test_input_hardening.py injects the answers it tests.
    """

    def unresolvable(host: str, port: int, **kwargs: object) -> list:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(validation, "resolve", unresolvable)


@pytest.fixture(autouse=True)
def rate_limits(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ratelimit.RateLimits]:
    """Fresh rate-limit state for every test; in Redis (when set) under the test's own prefix.

    Accounts get a limit that tests sending bursts with one key never reach;
    tests/test_ratelimit.py sets the limits it tests.
    """
    settings.API_RATE_LIMIT_DEFAULT = 100_000
    prefix = f"voxkeys-test:{uuid.uuid4().hex}:"
    monkeypatch.setattr(ratelimit, "limits", ratelimit.RateLimits.from_settings(prefix=prefix))
    yield ratelimit.limits
    if settings.REDIS_URL:
        # The buckets expire by themselves; this only keeps a shared Redis tidy.
        with contextlib.suppress(redis.RedisError), redis.Redis.from_url(settings.REDIS_URL) as r:
            for name in r.scan_iter(match=f"{prefix}*", count=1000):
                r.delete(name)


@pytest.fixture(autouse=True)
def reset_throttle(monkeypatch: pytest.MonkeyPatch) -> None:
    """Password reset counts of this test only (the cache, Redis too, outlives a test)."""
    monkeypatch.setattr(throttle, "PREFIX", f"voxkeys-test:{uuid.uuid4().hex}:password-reset:")


@pytest.fixture(autouse=True)
def usage_recorder(monkeypatch: pytest.MonkeyPatch) -> usage.UsageRecorder:
    """Fresh usage counters for every test, so none leak from one test into another's flush."""
    monkeypatch.setattr(usage, "recorder", usage.UsageRecorder.from_settings())
    return usage.recorder


@pytest.fixture(autouse=True)
def auth_cache() -> Iterator[None]:
    """Every test starts without this process's authentication cache and its listener (they
    start on first use, against the database of that moment)."""
    yield
    authcache.process_cache.stop()


@pytest.fixture
def hasher_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every run of the password hasher (the test settings' stand-in for Argon2)."""
    calls: list[str] = []
    hasher_class = type(get_hasher())

    def counted(name: str) -> Callable[..., Any]:
        original = getattr(hasher_class, name)

        def run(*args: Any, **kwargs: Any) -> Any:
            calls.append(name)
            return original(*args, **kwargs)

        return run

    for name in ("verify", "encode"):
        monkeypatch.setattr(hasher_class, name, counted(name))
    return calls


@pytest.fixture
def on_commit_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run transaction.on_commit callbacks (the emails) when registered: the test's transaction
    never commits, and pytest-django's capture runs them only when its block ends."""

    def run(func: Callable[[], object], using: str | None = None, robust: bool = False) -> None:
        func()

    monkeypatch.setattr(transaction, "on_commit", run)


@pytest.fixture
def clock() -> FakeClock:
    """A monotonic clock the test moves by hand (tests.support.clock)."""
    return FakeClock()


@pytest.fixture
def staff_client() -> Client:
    """A superuser's client for the Django admin."""
    return logged_in(new_superuser(email="staff@voxkeys.test"))


@pytest.fixture
def account() -> Account:
    return AccountFactory(name="Acme Voice")


@pytest.fixture
def owner(account: Account) -> Membership:
    return MembershipFactory(
        account=account, role=Membership.Role.OWNER, user__email="owner@acme.test"
    )


@pytest.fixture
def admin_member(account: Account) -> Membership:
    return MembershipFactory(
        account=account, role=Membership.Role.ADMIN, user__email="admin@acme.test"
    )


@pytest.fixture
def member(account: Account) -> Membership:
    return MembershipFactory(
        account=account, role=Membership.Role.MEMBER, user__email="member@acme.test"
    )


@pytest.fixture
def suspended_owner() -> Membership:
    return MembershipFactory(
        account=AccountFactory(name="Initech", status=Account.Status.SUSPENDED),
        role=Membership.Role.OWNER,
        user__email="owner@initech.test",
    )


@pytest.fixture
def other_owner() -> Membership:
    return MembershipFactory(
        account=AccountFactory(name="Globex"),
        role=Membership.Role.OWNER,
        user__email="owner@globex.test",
    )


class SignedInClient(Client):
    """A member who signed in, and confirmed their password, just before each request.

    Tests travel in time to test expiry and lists, not the idle timeout or sudo mode (those have
    their own tests with a plain Client): whenever "now" is, this session is fresh.
    """

    def request(self, **request: Any) -> Any:
        session = self.session
        if SESSION_KEY in session:
            session[SUDO_SESSION_KEY] = session[LAST_SEEN_SESSION_KEY] = timezone.now().timestamp()
            session.save()
        return super().request(**request)


def client_for(membership: Membership) -> Client:
    client = SignedInClient()
    client.force_login(membership.user)
    return client


@pytest.fixture
def owner_client(owner: Membership) -> Client:
    return client_for(owner)


@pytest.fixture
def member_client(member: Membership) -> Client:
    return client_for(member)
