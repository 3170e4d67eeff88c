"""Sign-in protection: the failed-login lockout (django-axes) and the idle timeout."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from axes.models import AccessAttempt
from django.contrib.auth import SESSION_KEY
from django.http import HttpResponse
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

from accounts.idle import LAST_SEEN_SESSION_KEY, idle_timeout_in_words
from accounts.models import Membership
from tests.factories import PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

LOGIN = "/login/"
ADMIN_LOGIN = "/admin/login/"
# Half a minute past: the page rounds the end of the lock up to the whole minute.
START = datetime(2026, 11, 30, 10, 0, 30, tzinfo=UTC)
EMAIL = "owner@acme.test"
LOCKED_TEXT = "Too many attempts"


def sign_in(client: Client, email: str, password: str, path: str = LOGIN) -> HttpResponse:
    return client.post(path, {"username": email, "password": password})


def fail(client: Client, email: str, times: int, path: str = LOGIN) -> list[HttpResponse]:
    return [sign_in(client, email, "not the password", path) for _ in range(times)]


def is_signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def without_csrf_tokens(response: HttpResponse) -> str:
    return re.sub(r'(csrfmiddlewaretoken" value=|X-CSRFToken": )"[^"]+"', "", response.text)


@pytest.fixture
def frozen() -> Any:
    with time_machine.travel(START, tick=False) as clock:
        yield clock


# The lockout -------------------------------------------------------------------------------


def test_four_failures_still_let_the_right_password_in(
    client: Client, owner: Membership, frozen: Any
) -> None:
    for response in fail(client, EMAIL, 4):
        assert response.status_code == 200
        assertContains(response, "match an account")
    assert sign_in(client, EMAIL, PASSWORD).status_code == 302
    assert is_signed_in(client)


def test_the_fifth_failure_locks_even_the_right_password_out(
    client: Client, owner: Membership, frozen: Any
) -> None:
    responses = fail(client, EMAIL, 5)
    assert [response.status_code for response in responses] == [200, 200, 200, 200, 429]
    response = sign_in(client, "Owner@ACME.test", PASSWORD)  # the email in any case
    assert response.status_code == 429
    assertContains(response, LOCKED_TEXT, status_code=429)
    assert not is_signed_in(client)


def test_the_lock_page_says_when_and_is_the_same_for_an_unknown_email(
    client: Client, owner: Membership, frozen: Any
) -> None:
    fail(client, EMAIL, 5)
    fail(client, "nobody@acme.test", 5)
    known = sign_in(client, EMAIL, PASSWORD)
    unknown = sign_in(client, "nobody@acme.test", PASSWORD)

    assert known.status_code == unknown.status_code == 429
    assert without_csrf_tokens(known) == without_csrf_tokens(unknown)
    assert known["Retry-After"] == unknown["Retry-After"] == "900"
    # Locked at 10:00:30 for 15 minutes: try again after 10:16, in 15 minutes.
    assertContains(
        known, '<time datetime="2026-11-30T10:16:00+00:00">10:16 UTC</time>', status_code=429
    )
    assertContains(known, "(in 15\xa0minutes)", status_code=429)
    assertNotContains(known, EMAIL, status_code=429)
    assertNotContains(known, "match an account", status_code=429)


def test_the_lock_ends_after_15_minutes(client: Client, owner: Membership, frozen: Any) -> None:
    fail(client, EMAIL, 5)
    frozen.move_to(START + timedelta(minutes=14, seconds=59))
    response = sign_in(client, EMAIL, PASSWORD)
    assert response.status_code == 429
    # The refused attempt did not extend the lock.
    assertContains(response, "10:16 UTC", status_code=429)

    frozen.move_to(START + timedelta(minutes=15, seconds=1))
    assert sign_in(client, EMAIL, PASSWORD).status_code == 302
    assert is_signed_in(client)


def test_no_password_is_hashed_while_locked(
    client: Client, owner: Membership, frozen: Any, hasher_calls: list[str]
) -> None:
    fail(client, EMAIL, 4)
    assert hasher_calls  # the counter sees the hasher run for an attempt that is not locked
    fail(client, EMAIL, 1)
    hasher_calls.clear()

    assert sign_in(client, EMAIL, PASSWORD).status_code == 429
    assert sign_in(client, EMAIL, "another guess").status_code == 429
    assert hasher_calls == []


def test_fifty_failures_from_one_ip_lock_it_for_every_email(
    client: Client, owner: Membership, frozen: Any
) -> None:
    for number in range(49):
        fail(client, f"guess{number}@acme.test", 1)
    assert sign_in(Client(), EMAIL, PASSWORD).status_code == 302  # 49: not yet

    assert fail(client, "guess49@acme.test", 1)[0].status_code == 429
    other_browser = Client()
    assert sign_in(other_browser, EMAIL, PASSWORD).status_code == 429
    assert not is_signed_in(other_browser)
    # The lock is on the address only.
    elsewhere = Client(REMOTE_ADDR="198.51.100.7")
    assert sign_in(elsewhere, EMAIL, PASSWORD).status_code == 302

    frozen.move_to(START + timedelta(minutes=15, seconds=1))
    assert sign_in(other_browser, EMAIL, PASSWORD).status_code == 302


def test_the_admin_login_is_locked_too(client: Client, frozen: Any) -> None:
    UserFactory(email="root@voxkeys.test", is_staff=True, is_superuser=True)
    fail(client, "root@voxkeys.test", 3, LOGIN)
    responses = fail(client, "root@voxkeys.test", 2, ADMIN_LOGIN)
    assert [response.status_code for response in responses] == [200, 429]
    response = sign_in(client, "root@voxkeys.test", PASSWORD, ADMIN_LOGIN)
    assert response.status_code == 429
    assertContains(response, LOCKED_TEXT, status_code=429)
    assert sign_in(client, "root@voxkeys.test", PASSWORD, LOGIN).status_code == 429


def test_staff_unlock_a_member_in_the_admin(client: Client, owner: Membership) -> None:
    fail(client, EMAIL, 5)
    assert sign_in(client, EMAIL, PASSWORD).status_code == 429
    staff = Client(REMOTE_ADDR="198.51.100.9")
    staff.force_login(UserFactory(email="root@voxkeys.test", is_staff=True, is_superuser=True))

    listing = staff.get("/admin/axes/accessattempt/?q=acme")
    assertContains(listing, EMAIL)
    assertContains(listing, "Locked Out")
    attempt = AccessAttempt.objects.get(username=EMAIL)
    assert staff.get(f"/admin/axes/accessattempt/{attempt.pk}/change/").status_code == 200
    response = staff.post(f"/admin/axes/accessattempt/{attempt.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302

    assert sign_in(client, EMAIL, PASSWORD).status_code == 302
    assert is_signed_in(client)


def test_staff_clean_up_expired_attempts_in_the_admin(client: Client, frozen: Any) -> None:
    staff = Client()
    staff.force_login(UserFactory(email="root@voxkeys.test", is_staff=True, is_superuser=True))
    fail(client, "old@acme.test", 1)
    frozen.move_to(START + timedelta(minutes=10))
    fail(client, "new@acme.test", 1)
    frozen.move_to(START + timedelta(minutes=16))
    response = staff.post(
        "/admin/axes/accessattempt/",
        {
            "action": "cleanup_expired_attempts",
            "_selected_action": list(AccessAttempt.objects.values_list("pk", flat=True)),
        },
        follow=True,
    )
    assertContains(response, "Cleaned up 1 expired access attempts.")
    assert list(AccessAttempt.objects.values_list("username", flat=True)) == ["new@acme.test"]


def test_x_forwarded_for_is_ignored_without_a_trusted_proxy(
    client: Client, owner: Membership
) -> None:
    for number in range(5):
        client.post(
            LOGIN,
            {"username": EMAIL, "password": "nope"},
            HTTP_X_FORWARDED_FOR=f"203.0.113.{number}",
        )
    response = client.post(
        LOGIN, {"username": EMAIL, "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.99"
    )
    assert response.status_code == 429


def test_behind_a_trusted_proxy_each_client_is_counted_apart(
    client: Client, owner: Membership, settings: Any
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    for _ in range(5):
        client.post(
            LOGIN, {"username": EMAIL, "password": "nope"}, HTTP_X_FORWARDED_FOR="203.0.113.5"
        )
    locked = client.post(
        LOGIN, {"username": EMAIL, "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.5"
    )
    assert locked.status_code == 429
    other = client.post(
        LOGIN, {"username": EMAIL, "password": PASSWORD}, HTTP_X_FORWARDED_FOR="203.0.113.6"
    )
    assert other.status_code == 302


# The idle timeout -----------------------------------------------------------------------------


@pytest.fixture
def signed_in(owner: Membership, frozen: Any) -> Client:
    client = Client()
    client.force_login(owner.user)
    return client


def test_a_session_used_within_2_hours_stays_signed_in(signed_in: Client, frozen: Any) -> None:
    frozen.move_to(START + timedelta(hours=1, minutes=59))
    assert signed_in.get("/").status_code == 200
    # Counted from the last use, not from signing in.
    frozen.move_to(START + timedelta(hours=3, minutes=58))
    assert signed_in.get("/").status_code == 200


def test_a_session_unused_for_over_2_hours_is_signed_out_and_told_why(
    signed_in: Client, frozen: Any
) -> None:
    frozen.move_to(START + timedelta(hours=2, minutes=1))
    response = signed_in.get("/settings/api-keys/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/settings/api-keys/"
    assert not is_signed_in(signed_in)
    login_page = signed_in.get(response["Location"])
    assertContains(
        login_page, "You were signed out after 2 hours without activity. Log in again to continue."
    )
    # Said once.
    assertNotContains(signed_in.get(LOGIN), "without activity")


def test_the_session_is_written_at_most_once_a_minute(signed_in: Client, frozen: Any) -> None:
    signed_in_at = signed_in.session[LAST_SEEN_SESSION_KEY]
    assert signed_in_at == START.timestamp()
    frozen.move_to(START + timedelta(seconds=59))
    signed_in.get("/")
    assert signed_in.session[LAST_SEEN_SESSION_KEY] == signed_in_at
    frozen.move_to(START + timedelta(seconds=60))
    signed_in.get("/")
    assert signed_in.session[LAST_SEEN_SESSION_KEY] == (START + timedelta(seconds=60)).timestamp()


def test_activity_does_not_stretch_the_session_past_its_age(
    owner: Membership, frozen: Any, settings: Any
) -> None:
    settings.SESSION_COOKIE_AGE = 3 * 3600
    client = Client()
    client.force_login(owner.user)
    for hours in (1, 2, 3):
        frozen.move_to(START + timedelta(hours=hours, seconds=-1))
        assert client.get("/").status_code == 200
    frozen.move_to(START + timedelta(hours=3, seconds=1))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(7200, "2 hours"), (5400, "1 hour 30 minutes"), (1200, "20 minutes"), (45, "45 seconds")],
)
def test_the_timeout_is_said_in_words(settings: Any, seconds: int, words: str) -> None:
    settings.SESSION_IDLE_TIMEOUT = seconds
    assert idle_timeout_in_words() == words
