"""The second-factor throttle: 5 wrong codes per user and address lock the step for 15
minutes, each attempt counted before its code is checked."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django.asserts import assertContains

from accounts.models import Membership, SecondFactorAttempts
from accounts.twofactor import verification
from accounts.twofactor.verification import CodeKind, check_code
from activity.events import RequestContext
from tests.support.htmx import HTMX
from tests.support.twofactor import (
    VERIFY,
    give_authenticator_app,
    pending_client,
    totp_code,
)

START = datetime(2026, 11, 30, 10, 0, 10, tzinfo=UTC)
LOCKED = "too many attempts with a wrong code"


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def device(owner: Membership) -> TOTPDevice:
    return give_authenticator_app(owner.user)


def attempt(client: Client, code: str, ip: str = "127.0.0.1", **headers: str) -> Any:
    return client.post(
        VERIFY, {"method": "totp", "totp-code": code}, REMOTE_ADDR=ip, headers=headers
    )


def wrong(device: TOTPDevice) -> str:
    return f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"


@pytest.mark.django_db
def test_the_sixth_code_is_refused_even_when_right(
    owner: Membership, device: TOTPDevice, clock: Any
) -> None:
    client = pending_client(owner.user)
    for _ in range(5):
        assert attempt(client, wrong(device)).status_code == 422
    response = attempt(client, totp_code(device))
    assertContains(response, LOCKED, status_code=429)
    assertContains(response, "Try again after", status_code=429)
    assertContains(response, '<time datetime="2026-11-30T10:16:00+00:00">', status_code=429)
    assert response["Retry-After"] == str(15 * 60)
    assert client.get("/").status_code == 302  # still only half signed in


@pytest.mark.django_db
def test_the_lock_ends_15_minutes_after_the_latest_failure(
    owner: Membership, device: TOTPDevice, clock: Any
) -> None:
    client = pending_client(owner.user)
    for minute in range(5):
        clock.move_to(START + timedelta(seconds=30 * minute))
        attempt(client, wrong(device))
    latest = START + timedelta(minutes=2)
    # New sign-ins: a pending session lasts 5 minutes.
    clock.move_to(latest + timedelta(minutes=14, seconds=59))
    client = pending_client(owner.user)
    # Refused attempts are not counted: the lock still ends 15 minutes after the latest failure.
    assert attempt(client, totp_code(device)).status_code == 429

    clock.move_to(latest + timedelta(minutes=15))
    assert attempt(client, totp_code(device)).status_code == 302


@pytest.mark.django_db
def test_a_right_code_clears_the_count(owner: Membership, device: TOTPDevice, clock: Any) -> None:
    client = pending_client(owner.user)
    for _ in range(4):
        attempt(client, wrong(device))
    assert SecondFactorAttempts.objects.get(user=owner.user).failures == 4
    assert attempt(client, totp_code(device)).status_code == 302
    assert not SecondFactorAttempts.objects.exists()


@pytest.mark.django_db
def test_the_lock_is_per_address_and_per_user(
    owner: Membership, member: Membership, device: TOTPDevice, clock: Any
) -> None:
    client = pending_client(owner.user)
    for _ in range(5):
        attempt(client, wrong(device), ip="203.0.113.7")
    assert attempt(client, totp_code(device), ip="203.0.113.7").status_code == 429

    member_device = give_authenticator_app(member.user)
    member_client = pending_client(member.user)
    assert attempt(member_client, totp_code(member_device), ip="203.0.113.7").status_code == 302

    assert attempt(client, totp_code(device), ip="198.51.100.4").status_code == 302


@pytest.mark.django_db
def test_a_recovery_code_counts_towards_the_same_lock(
    owner: Membership, device: TOTPDevice, clock: Any
) -> None:
    client = pending_client(owner.user)
    for _ in range(5):
        client.post(VERIFY, {"method": "recovery_code", "recovery-code": "abcde-fghjk"})
    assert attempt(client, totp_code(device)).status_code == 429


@pytest.mark.django_db
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_sudo_codes_count_towards_the_same_lock(
    owner: Membership, device: TOTPDevice, clock: Any, headers: dict[str, str]
) -> None:
    client = pending_client(owner.user)
    attempt(client, totp_code(device))
    clock.move_to(START + timedelta(minutes=30))
    for _ in range(5):
        client.post(
            "/account/confirm-password/",
            {"method": "totp", "totp-code": wrong(device), "next": "/"},
            headers=headers,
        )
    response = client.post(
        "/account/confirm-password/",
        {"method": "totp", "totp-code": totp_code(device), "next": "/"},
        headers=headers,
    )
    assertContains(response, LOCKED, status_code=429)
    assert ("<html" in response.text) is not bool(headers)  # the dialog's content, or a page
    assert response["Retry-After"] == str(15 * 60)


@pytest.mark.django_db
def test_each_attempt_is_counted_before_its_code_is_checked(
    owner: Membership, device: TOTPDevice, monkeypatch: pytest.MonkeyPatch, clock: Any
) -> None:
    counts_seen: list[int] = []

    def checked(user: Any, code: str) -> bool:
        counts_seen.append(SecondFactorAttempts.objects.get(user=user).failures)
        return False

    monkeypatch.setattr(verification, "verify_totp_code", checked)
    client = pending_client(owner.user)
    for _ in range(7):
        attempt(client, "123456")
    assert counts_seen == [1, 2, 3, 4, 5]


@pytest.mark.django_db(transaction=True)
def test_concurrent_attempts_get_at_most_the_limit_of_codes_checked(
    owner: Membership, device: TOTPDevice, monkeypatch: pytest.MonkeyPatch
) -> None:
    racers = 12
    barrier = threading.Barrier(racers)
    checked: list[str] = []
    lock = threading.Lock()

    def slow_wrong(user: Any, code: str) -> bool:
        with lock:
            checked.append(code)
        return False

    monkeypatch.setattr(verification, "verify_totp_code", slow_wrong)
    context = RequestContext(ip_address="192.0.2.10")

    def race(index: int) -> None:
        try:
            barrier.wait()
            check_code(user=owner.user, kind=CodeKind.TOTP, code=f"{index:06d}", context=context)
        finally:
            connection.close()

    threads = [threading.Thread(target=race, args=(index,)) for index in range(racers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(checked) == 5
    assert SecondFactorAttempts.objects.get(user=owner.user).failures == 5
