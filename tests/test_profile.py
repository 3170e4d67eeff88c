"""Settings → Profile: the login's name, email (confirmed by a link, the old address told) and
password (other sessions signed out)."""

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
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, UserFactory
from tests.support.mail import link_in_last_email

pytestmark = pytest.mark.django_db

PROFILE = "/settings/profile/"
EMAIL = "/settings/profile/email/"
PASSWORD_URL = "/settings/profile/password/"
NEW_PASSWORD = "Tr0ub4dor&3-horse-staple"
NEW_EMAIL = "new.owner@acme.test"
START = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)


def test_the_page_shows_the_three_forms(owner_client: Client) -> None:
    response = owner_client.get(PROFILE)
    for heading in ["Profile", "Name", "Email", "Password"]:
        assertContains(response, f">{heading}</h")
    assertContains(response, "You sign in with <strong>owner@acme.test</strong>")
    assertContains(response, '<a href="/settings/profile/" class="nav__link" aria-current="page">')


def test_a_login_without_an_account_has_a_profile_too() -> None:
    client = Client()
    client.force_login(UserFactory(email="alone@acme.test"))
    assertContains(client.get(PROFILE), "You sign in with <strong>alone@acme.test</strong>")


def test_the_name_is_saved_trimmed(owner_client: Client, owner: Membership) -> None:
    assertRedirects(owner_client.post(PROFILE, {"full_name": "  Ada Lovelace "}), PROFILE)
    owner.user.refresh_from_db()
    assert owner.user.full_name == "Ada Lovelace"


def test_a_name_with_a_hidden_character_gets_an_error_by_the_field(
    owner_client: Client, owner: Membership
) -> None:
    response = owner_client.post(PROFILE, {"full_name": "Ada\u202eecalevoL"})
    assertContains(response, "Remove the invisible text-direction character", status_code=422)
    owner.user.refresh_from_db()
    assert owner.user.full_name == ""


# Email -----------------------------------------------------------------------------------------


def test_changing_the_email_sends_a_link_to_the_new_address_and_tells_the_old_one(
    owner_client: Client, owner: Membership, on_commit_at_once: None
) -> None:
    response = owner_client.post(EMAIL, {"email": " New.Owner@ACME.test"}, follow=True)
    assertContains(response, f"We sent a confirmation link to {NEW_EMAIL}")
    owner.user.refresh_from_db()
    assert owner.user.email == "owner@acme.test"  # not until the link is followed
    assert {message.to[0]: message.subject for message in mail.outbox} == {
        NEW_EMAIL: "[VoxPria] Confirm your new email address",
        "owner@acme.test": "[VoxPria] A change of your email address was requested",
    }
    link = link_in_last_email(NEW_EMAIL)

    # Opening the link changes nothing (mail scanners open links); its button does.
    assertContains(owner_client.get(link), "Confirm new email")
    owner.user.refresh_from_db()
    assert owner.user.email == "owner@acme.test"
    mail.outbox.clear()
    response = owner_client.post(link, follow=True)

    assertContains(response, f"Your email is now {NEW_EMAIL}")
    owner.user.refresh_from_db()
    assert owner.user.email == NEW_EMAIL
    event = ActivityEvent.objects.get(event_type=ActivityEvent.Type.EMAIL_CHANGED)
    assert event_summary(event) == f"owner@acme.test changed their email to {NEW_EMAIL}"
    assert sorted(message.to[0] for message in mail.outbox) == [NEW_EMAIL, "owner@acme.test"]
    assert (
        Client().post("/login/", {"username": NEW_EMAIL, "password": PASSWORD}).status_code == 302
    )


def test_the_email_link_works_once(
    owner_client: Client, owner: Membership, on_commit_at_once: None
) -> None:
    owner_client.post(EMAIL, {"email": NEW_EMAIL})
    link = link_in_last_email(NEW_EMAIL)
    owner_client.post(link)
    response = owner_client.post(link)
    assertContains(response, "already used", status_code=400)


def test_the_email_link_expires_after_an_hour(
    owner_client: Client, owner: Membership, on_commit_at_once: None
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        owner_client.post(EMAIL, {"email": NEW_EMAIL})
        clock.move_to(START + timedelta(seconds=3601))
        response = owner_client.post(link_in_last_email(NEW_EMAIL))
    assertContains(response, "This link has expired", status_code=400)
    owner.user.refresh_from_db()
    assert owner.user.email == "owner@acme.test"


def test_a_forged_or_foreign_link_is_refused(
    owner_client: Client, member_client: Client, on_commit_at_once: None
) -> None:
    owner_client.post(EMAIL, {"email": NEW_EMAIL})
    link = link_in_last_email(NEW_EMAIL)
    assertContains(member_client.post(link), "for another login", status_code=400)
    assertContains(owner_client.post(link[:-3] + "xx/"), "not valid", status_code=400)


@pytest.mark.parametrize(
    ("typed", "error"),
    [
        ("member@acme.test", "Another login already uses this email address."),
        ("MEMBER@acme.te\u017ft", "Another login already uses this email address."),
        ("owner@ACME.test", "This is already your email address."),
        ("not an email", "Enter a valid email address."),
    ],
)
def test_a_refused_email_gets_an_error_by_the_field(
    owner_client: Client, member: Membership, typed: str, error: str
) -> None:
    response = owner_client.post(EMAIL, {"email": typed})
    assertContains(response, error, status_code=422)
    assert mail.outbox == []


def test_changing_the_email_needs_the_password_confirmed_recently(owner: Membership) -> None:
    client = Client()
    with time_machine.travel(START, tick=False) as clock:
        client.force_login(owner.user)
        clock.move_to(START + timedelta(minutes=16))
        response = client.post(EMAIL, {"email": NEW_EMAIL})
    assertContains(response, "Confirm your password", status_code=403)
    assert mail.outbox == []


# Password --------------------------------------------------------------------------------------


def test_changing_the_password_signs_out_other_sessions_but_not_this_one(
    owner_client: Client, owner: Membership, on_commit_at_once: None
) -> None:
    MembershipFactory(user=owner.user, account=AccountFactory(name="Globex"))
    elsewhere = Client()
    elsewhere.force_login(owner.user)
    mail.outbox.clear()  # the new-browser alert of `elsewhere`

    response = owner_client.post(
        PASSWORD_URL,
        {
            "current_password": PASSWORD,
            "new_password1": NEW_PASSWORD,
            "new_password2": NEW_PASSWORD,
        },
        follow=True,
    )

    assertContains(response, "Your password was changed, and your other sessions signed out.")
    assert owner_client.get(PROFILE).status_code == 200
    assert elsewhere.get(PROFILE).status_code == 302
    assert SESSION_KEY not in elsewhere.session
    owner.user.refresh_from_db()
    assert owner.user.check_password(NEW_PASSWORD)
    events = ActivityEvent.objects.filter(event_type=ActivityEvent.Type.PASSWORD_CHANGED)
    assert events.count() == 2  # one in each of the login's accounts
    assert [message.subject for message in mail.outbox] == ["[VoxPria] Your password was changed"]


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"current_password": "wrong"}, "Wrong password. Try again."),
        ({"new_password2": "something-else-Entirely1"}, "The two password fields didn"),
        ({"new_password1": "short", "new_password2": "short"}, "This password is too short."),
    ],
)
def test_a_refused_password_change_gets_an_error_by_the_field(
    owner_client: Client, owner: Membership, data: dict[str, str], error: str
) -> None:
    form = {"current_password": PASSWORD, "new_password1": NEW_PASSWORD}
    form["new_password2"] = NEW_PASSWORD
    response = owner_client.post(PASSWORD_URL, {**form, **data})
    assertContains(response, error, status_code=422)
    owner.user.refresh_from_db()
    assert owner.user.check_password(PASSWORD)
    assert not ActivityEvent.objects.exists()


def test_guessing_the_current_password_is_locked_out_like_the_login(
    owner_client: Client, owner: Membership
) -> None:
    guess: dict[str, Any] = {
        "current_password": "guess",
        "new_password1": NEW_PASSWORD,
        "new_password2": NEW_PASSWORD,
    }
    statuses = [owner_client.post(PASSWORD_URL, guess).status_code for _ in range(5)]
    assert statuses == [422, 422, 422, 422, 429]
    response = owner_client.post(PASSWORD_URL, {**guess, "current_password": PASSWORD})
    assert response.status_code == 429
    assert User.objects.get(pk=owner.user_id).check_password(PASSWORD)


def test_an_address_taken_after_the_link_was_sent_is_refused_at_the_link(
    owner_client: Client, owner: Membership, on_commit_at_once: None
) -> None:
    owner_client.post(EMAIL, {"email": NEW_EMAIL})
    UserFactory(email=NEW_EMAIL)
    response = owner_client.post(link_in_last_email(NEW_EMAIL))
    assertContains(response, "Another login already uses this email address.", status_code=400)
    owner.user.refresh_from_db()
    assert owner.user.email == "owner@acme.test"
