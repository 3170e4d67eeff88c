"""Settings -> Security's sessions: listed at sign-in, gone at sign-out, signed out from another."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Membership, UserSession
from accounts.twofactor.sessions import (
    UNKNOWN_DEVICE,
    device_name,
    end_other_sessions,
    live_sessions,
    session_store,
)
from tests.factories import PASSWORD
from tests.support.sessions import CHROME_ON_MAC, FIREFOX_ON_WINDOWS, browser, sign_in
from tests.support.twofactor import give_authenticator_app

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
SECURITY = reverse("security")
SIGN_OUT_OTHERS = reverse("end_other_sessions")


def sign_out_url(row: UserSession) -> str:
    return reverse("end_session", args=[row.pk])


def session_key(client: Client) -> str:
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert key
    return key


def row_of(client: Client) -> UserSession:
    return UserSession.objects.get(session_key=session_key(client))


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_signing_in_lists_the_session_with_its_address_device_and_expiry(
    owner: Membership, clock: Any
) -> None:
    client = sign_in(browser(ip="198.51.100.4"), owner.user)

    row = row_of(client)
    assert row.user == owner.user
    assert row.ip_address == "198.51.100.4"
    assert row.user_agent == CHROME_ON_MAC
    assert row.created_at == row.last_seen_at == START
    assert row.expires_at == START + timedelta(seconds=settings.SESSION_COOKIE_AGE)


def test_signing_out_removes_the_session_from_the_list(owner: Membership) -> None:
    client = sign_in(browser(), owner.user)

    client.post(reverse("logout"))

    assert not UserSession.objects.filter(user=owner.user).exists()


def test_the_list_marks_this_session_and_shows_the_others_newest_first(
    owner: Membership, clock: Any
) -> None:
    laptop = sign_in(browser(ip="203.0.113.1"), owner.user)
    clock.shift(timedelta(minutes=5))
    desktop = sign_in(browser(ip="203.0.113.2", user_agent=FIREFOX_ON_WINDOWS), owner.user)

    listed = live_sessions(user=owner.user, current_session_key=session_key(laptop))

    assert [(s.device, s.ip_address, s.is_current) for s in listed] == [
        ("Firefox 133 on Windows", "203.0.113.2", False),
        ("Chrome 131 on macOS", "203.0.113.1", True),
    ]
    page = desktop.get(SECURITY)
    assertContains(page, "Chrome 131 on macOS")
    assertContains(page, "203.0.113.1")
    assertContains(page, "This session", count=1)
    assertContains(page, "5 minutes ago")
    assertContains(page, f'action="{sign_out_url(row_of(laptop))}"')
    assertNotContains(page, f'action="{sign_out_url(row_of(desktop))}"')
    assertContains(page, "Sign out all other sessions")


def test_with_no_other_session_there_is_nothing_to_sign_out(owner: Membership) -> None:
    page = sign_in(browser(), owner.user).get(SECURITY)

    assertContains(page, "This session")
    assertNotContains(page, "Sign out all other sessions")


def test_sessions_past_their_expiry_are_not_listed_and_their_rows_go(
    owner: Membership, clock: Any
) -> None:
    old = sign_in(browser(), owner.user)
    key = session_key(old)
    UserSession.objects.filter(session_key=key).update(expires_at=START + timedelta(minutes=1))
    clock.shift(timedelta(minutes=1))

    assert live_sessions(user=owner.user, current_session_key=None) == []
    assert not UserSession.objects.filter(session_key=key).exists()


def test_idle_sessions_are_not_listed(owner: Membership, clock: Any) -> None:
    sign_in(browser(), owner.user)
    clock.shift(timedelta(seconds=settings.SESSION_IDLE_TIMEOUT))
    assert len(live_sessions(user=owner.user, current_session_key=None)) == 1

    clock.shift(timedelta(seconds=1))

    assert live_sessions(user=owner.user, current_session_key=None) == []


def test_a_half_signed_in_session_is_marked_until_its_time_runs_out(
    owner: Membership, clock: Any
) -> None:
    give_authenticator_app(owner.user)
    sign_in(browser(), owner.user)  # the password only
    [listed] = live_sessions(user=owner.user, current_session_key=None)
    assert listed.awaiting_second_factor

    clock.shift(timedelta(seconds=settings.TWO_FACTOR_PENDING_SECONDS + 1))

    assert live_sessions(user=owner.user, current_session_key=None) == []


def test_a_session_gone_from_the_store_is_not_listed(owner: Membership) -> None:
    client = sign_in(browser(), owner.user)
    session_store(session_key(client)).delete()

    assert live_sessions(user=owner.user, current_session_key=None) == []
    assert not UserSession.objects.filter(user=owner.user).exists()


def test_sessions_a_new_password_signed_out_are_not_listed(owner: Membership) -> None:
    other = sign_in(browser(ip="203.0.113.9"), owner.user)
    this = sign_in(browser(), owner.user)

    response = this.post(
        reverse("profile_password"),
        {
            "current_password": PASSWORD,
            "new_password1": "a brand new passphrase 42",
            "new_password2": "a brand new passphrase 42",
        },
    )

    assert response.status_code == 302
    owner.user.refresh_from_db()
    listed = live_sessions(user=owner.user, current_session_key=session_key(this))
    assert [(s.ip_address, s.is_current) for s in listed] == [("203.0.113.7", True)]
    assert other.get(SECURITY)["Location"].startswith("/login/")


def test_a_rotated_session_key_keeps_its_row_and_its_mark(owner: Membership) -> None:
    client = sign_in(browser(), owner.user)
    row = row_of(client)
    session = client.session
    session.cycle_key()  # what the second step of sign-in does, and a password change
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key

    page = client.get(SECURITY)

    assertContains(page, "This session")
    row.refresh_from_db()
    assert row.session_key == session.session_key


def test_signing_out_another_session_signs_out_its_next_request(owner: Membership) -> None:
    laptop = sign_in(browser(ip="203.0.113.1"), owner.user)
    phone = sign_in(browser(ip="203.0.113.2"), owner.user)

    response = laptop.post(sign_out_url(row_of(phone)))

    assert response.status_code == 302
    assert response["Location"] == f"{SECURITY}#sessions"
    assert phone.get(SECURITY)["Location"] == f"/login/?next={SECURITY}"
    assert laptop.get(SECURITY).status_code == 200
    assert UserSession.objects.filter(user=owner.user).count() == 1


def test_another_users_session_is_not_found_and_nothing_is_ended(
    owner: Membership, member: Membership
) -> None:
    mine = sign_in(browser(), owner.user)
    theirs = sign_in(browser(), member.user)

    assert mine.post(sign_out_url(row_of(theirs))).status_code == 404
    assert theirs.get(SECURITY).status_code == 200
    assert UserSession.objects.filter(user=member.user).exists()


@pytest.mark.parametrize("session_id", ["0", "99999999999999999999"])
def test_session_ids_that_name_nothing_are_not_found(owner: Membership, session_id: str) -> None:
    client = sign_in(browser(), owner.user)

    assert client.post(f"{SECURITY}sessions/{session_id}/sign-out/").status_code == 404


def test_signing_out_this_session_from_the_list_signs_it_out(owner: Membership) -> None:
    client = sign_in(browser(), owner.user)

    response = client.post(sign_out_url(row_of(client)))

    assert response["Location"] == reverse("login")
    assert client.get(SECURITY)["Location"].startswith("/login/")


def test_signing_out_is_a_post_with_its_csrf_token(owner: Membership) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner.user)
    other = sign_in(browser(), owner.user)

    assert client.get(sign_out_url(row_of(other))).status_code == 405
    assert client.post(sign_out_url(row_of(other))).status_code == 403
    assert client.post(SIGN_OUT_OTHERS).status_code == 403
    assert other.get(SECURITY).status_code == 200


def test_signing_out_all_other_sessions_keeps_this_one(
    owner: Membership, member: Membership
) -> None:
    this = sign_in(browser(), owner.user)
    others = [sign_in(browser(ip=f"203.0.113.{n}"), owner.user) for n in (20, 21)]
    someone_else = sign_in(browser(), member.user)

    response = this.post(SIGN_OUT_OTHERS, follow=True)

    assertContains(response, "2 other sessions were signed out.")
    for other in others:
        assert other.get(SECURITY)["Location"].startswith("/login/")
    assert this.get(SECURITY).status_code == 200
    assert someone_else.get(SECURITY).status_code == 200
    assert [row.session_key for row in UserSession.objects.filter(user=owner.user)] == [
        session_key(this)
    ]


def test_ending_other_sessions_with_none_left_ends_none(owner: Membership) -> None:
    client = sign_in(browser(), owner.user)

    assert end_other_sessions(user=owner.user, current_session_key=session_key(client)) == 0
    assert client.get(SECURITY).status_code == 200


def usersession_updates(queries: CaptureQueriesContext) -> int:
    return sum(
        1
        for query in queries.captured_queries
        if query["sql"].startswith('UPDATE "accounts_usersession"')
    )


def test_last_seen_moves_at_most_once_a_minute_with_one_update(
    owner: Membership, clock: Any
) -> None:
    client = sign_in(browser(), owner.user)
    row = row_of(client)

    clock.shift(timedelta(seconds=59))
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("dashboard"))
    assert usersession_updates(queries) == 0
    row.refresh_from_db()
    assert row.last_seen_at == START

    clock.shift(timedelta(seconds=1))
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("dashboard"))
    assert usersession_updates(queries) == 1
    row.refresh_from_db()
    assert row.last_seen_at == START + timedelta(minutes=1)


@pytest.mark.parametrize(
    ("user_agent", "device"),
    [
        (CHROME_ON_MAC, "Chrome 131 on macOS"),
        (FIREFOX_ON_WINDOWS, "Firefox 133 on Windows"),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
            "Mobile Safari 17 on iOS",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Mobile Safari/537.36",
            "Chrome Mobile 131 on Android",
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
            "Edge 131 on Windows",
        ),
        ("curl/8.5.0", "curl 8"),
        ("", UNKNOWN_DEVICE),
        ("\x00<script>", UNKNOWN_DEVICE),
    ],
)
def test_devices_are_named_from_the_user_agent(user_agent: str, device: str) -> None:
    assert device_name(user_agent) == device


def test_the_prune_command_deletes_expired_and_idle_rows_only(
    owner: Membership, member: Membership, clock: Any
) -> None:
    idle = sign_in(browser(), owner.user)
    expired = sign_in(browser(), member.user)
    UserSession.objects.filter(session_key=session_key(expired)).update(expires_at=START)
    clock.shift(timedelta(seconds=settings.SESSION_IDLE_TIMEOUT + 1))
    fresh = sign_in(browser(), owner.user)

    call_command("prune_signed_in_sessions")

    assert list(UserSession.objects.values_list("session_key", flat=True)) == [session_key(fresh)]
    assert not UserSession.objects.filter(session_key=session_key(idle)).exists()
