"""Forgot password: Django's views and tokens, the same answer for every email, throttled, and
a reset that ends every session, is recorded in each account and is emailed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from pytest_django.asserts import assertContains, assertRedirects

from accounts.models import Membership, User
from activity.models import ActivityEvent
from activity.summaries import event_summary
from tests.factories import PASSWORD, AccountFactory, MembershipFactory
from tests.support.mail import link_in_last_email

pytestmark = pytest.mark.django_db

RESET = "/password-reset/"
NEW_PASSWORD = "Tr0ub4dor&3-horse-staple"
START = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def ask(client: Client, email: str, **extra: Any) -> Any:
    return client.post(RESET, {"email": email}, **extra)


def choose(client: Client, link: str, password: str = NEW_PASSWORD) -> Any:
    """Follow the emailed link and submit the new password; return the last response."""
    response = client.get(link, follow=True)
    if response.context and response.context.get("validlink"):
        return client.post(
            response.redirect_chain[-1][0],
            {"new_password1": password, "new_password2": password},
            follow=True,
        )
    return response


def test_the_login_page_offers_it(client: Client) -> None:
    assertContains(client.get("/login/"), f'<a href="{RESET}">Forgot password?</a>', html=True)


def test_known_and_unknown_emails_get_the_same_answer(
    client: Client, owner: Membership, on_commit_at_once: None
) -> None:
    known = ask(client, "owner@acme.test")
    unknown = ask(client, "nobody@acme.test")
    assertRedirects(known, "/password-reset/sent/")
    assertRedirects(unknown, "/password-reset/sent/")
    assert [message.to for message in mail.outbox] == [["owner@acme.test"]]
    assert mail.outbox[0].subject == "[VoxPria] Reset your password"
    assert "works once, for 60 minutes" in mail.outbox[0].body


@pytest.mark.parametrize("typed", [" OWNER@acme.test", "owner@acme.te\u017ft"])
def test_any_spelling_of_the_email_finds_the_login(
    client: Client, owner: Membership, on_commit_at_once: None, typed: str
) -> None:
    ask(client, typed)
    assert [message.to for message in mail.outbox] == [["owner@acme.test"]]


def test_a_dotless_i_finds_nobody(client: Client, on_commit_at_once: None) -> None:
    MembershipFactory(user__email="admin@voxkeys.test")
    assertRedirects(ask(client, "adm\u0131n@voxkeys.test"), "/password-reset/sent/")
    assert mail.outbox == []


def test_a_bad_email_gets_an_error_by_the_field(client: Client) -> None:
    response = ask(client, "not an email")
    assert response.status_code == 200
    assertContains(response, "Enter a valid email address.")


def test_the_link_sets_a_new_password_and_works_once(
    client: Client, owner: Membership, on_commit_at_once: None
) -> None:
    ask(client, "owner@acme.test")
    link = link_in_last_email("owner@acme.test")

    response = choose(Client(), link)
    assertContains(response, "Password saved")
    assert (
        Client().post("/login/", {"username": "owner@acme.test", "password": NEW_PASSWORD})[
            "Location"
        ]
        == "/"
    )

    again = choose(Client(), link, "another-Passw0rd-entirely")
    assertContains(again, "This link doesn't work")
    owner.user.refresh_from_db()
    assert owner.user.check_password(NEW_PASSWORD)


def test_the_link_expires_after_an_hour(
    client: Client, owner: Membership, on_commit_at_once: None
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        ask(client, "owner@acme.test")
        link = link_in_last_email("owner@acme.test")
        clock.move_to(START + timedelta(seconds=3601))
        assertContains(choose(Client(), link), "This link doesn't work")
    owner.user.refresh_from_db()
    assert owner.user.check_password(PASSWORD)


def test_a_reset_signs_every_session_out_and_is_recorded_in_each_account_and_emailed(
    client: Client, owner: Membership, on_commit_at_once: None
) -> None:
    MembershipFactory(user=owner.user, account=AccountFactory(name="Globex"))
    signed_in = Client()
    signed_in.force_login(owner.user)

    ask(client, "owner@acme.test")
    choose(Client(), link_in_last_email("owner@acme.test"))

    assert signed_in.get("/").status_code == 302
    assert SESSION_KEY not in signed_in.session
    events = ActivityEvent.objects.filter(event_type=ActivityEvent.Type.PASSWORD_RESET)
    assert sorted(event.account.name for event in events) == ["Acme Voice", "Globex"]
    assert {event.actor_email for event in events} == {"owner@acme.test"}
    assert event_summary(events[0]) == "owner@acme.test reset their password with an emailed link"
    assert mail.outbox[-1].subject == "[VoxPria] Your password was reset"
    assert mail.outbox[-1].to == ["owner@acme.test"]


def test_a_reset_lifts_a_sign_in_lockout(
    client: Client, owner: Membership, on_commit_at_once: None
) -> None:
    for _ in range(5):
        client.post("/login/", {"username": "owner@acme.test", "password": "wrong"})
    ask(client, "owner@acme.test")
    choose(Client(), link_in_last_email("owner@acme.test"))
    response = client.post("/login/", {"username": "owner@acme.test", "password": NEW_PASSWORD})
    assert response.status_code == 302


def test_three_requests_an_hour_per_email_known_or_not(
    client: Client, owner: Membership, on_commit_at_once: None
) -> None:
    for email in ["owner@acme.test", "nobody@acme.test"]:
        statuses = [ask(client, email).status_code for _ in range(4)]
        assert statuses == [302, 302, 302, 429]
    assert len(mail.outbox) == 3
    throttled = ask(client, "OWNER@acme.test")
    assertContains(throttled, "Too many requests", status_code=429)
    assert ask(client, "someone.else@acme.test").status_code == 302


def test_twenty_requests_an_hour_per_address(client: Client, on_commit_at_once: None) -> None:
    statuses = [ask(client, f"guess{number}@acme.test").status_code for number in range(21)]
    assert statuses == [302] * 20 + [429]
    assert ask(Client(REMOTE_ADDR="198.51.100.7"), "guess0@acme.test").status_code == 302


def test_an_inactive_login_gets_no_link(
    client: Client, owner: Membership, on_commit_at_once: None
) -> None:
    User.objects.filter(pk=owner.user_id).update(is_active=False)
    ask(client, "owner@acme.test")
    assert mail.outbox == []
