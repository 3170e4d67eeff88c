"""Passwords racing the lockout: however many attempts arrive at once, at most the limit of
passwords are checked (accounts/lockout.py reserves each attempt before hashing it)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from django.contrib.auth import SESSION_KEY
from django.db import connections
from django.test import Client

from accounts.models import Membership
from tests.factories import PASSWORD, UserFactory

# Real commits and one database connection per thread, as gunicorn's workers have.
pytestmark = pytest.mark.django_db(transaction=True)

EMAIL = "victim@acme.test"


def at_once(count: int, attempt: Callable[[int], int]) -> Counter[int]:
    """Run `attempt(number)` in `count` threads released together; count their statuses."""
    barrier = threading.Barrier(count)
    statuses: Counter[int] = Counter()
    lock = threading.Lock()

    def run(number: int) -> None:
        try:
            barrier.wait()
            status = attempt(number)
        except Exception as error:  # an error is a status the assertions below will name
            status = -1
            print(f"attempt {number}: {error!r}")
        finally:
            connections.close_all()
        with lock:
            statuses[status] += 1

    threads = [threading.Thread(target=run, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def test_forty_wrong_passwords_at_once_get_at_most_five_checked(
    hasher_calls: list[str],
) -> None:
    UserFactory(email=EMAIL)
    hasher_calls.clear()

    statuses = at_once(
        40,
        lambda number: (
            (
                Client().post("/login/", {"username": EMAIL, "password": f"guess {number}"})
            ).status_code
        ),
    )

    assert hasher_calls.count("verify") <= 5
    assert sum(statuses.values()) == 40
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[429] >= 35


def test_the_right_password_among_twenty_at_once_gets_in_only_within_the_limit(
    hasher_calls: list[str],
) -> None:
    UserFactory(email=EMAIL)
    clients = [Client() for _ in range(20)]
    hasher_calls.clear()

    def attempt(number: int) -> int:
        password = PASSWORD if number == 19 else f"guess {number}"
        response = clients[number].post("/login/", {"username": EMAIL, "password": password})
        return response.status_code

    statuses = at_once(20, attempt)

    assert set(statuses) <= {200, 302, 429}, statuses
    if statuses[302]:
        # It was one of the five checked; signing in then cleared the count (as one after
        # another would), so at most five more were checked after it.
        assert SESSION_KEY in clients[19].session
        assert hasher_calls.count("verify") <= 10
    else:
        assert hasher_calls.count("verify") <= 5
        assert statuses[429] >= 15


def test_twenty_sudo_confirmations_at_once_get_at_most_five_checked(
    owner: Membership, hasher_calls: list[str]
) -> None:
    clients = []
    for _ in range(20):
        client = Client()
        client.force_login(owner.user)
        clients.append(client)
    hasher_calls.clear()

    statuses = at_once(
        20,
        lambda number: (
            (
                clients[number].post("/account/confirm-password/", {"password": f"guess {number}"})
            ).status_code
        ),
    )

    assert hasher_calls.count("verify") <= 5
    assert set(statuses) <= {422, 429}, statuses
    assert statuses[429] >= 15
