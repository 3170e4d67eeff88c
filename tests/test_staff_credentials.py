"""Staff in the admin: who may set a user's password or email, and what a staff reset leaves."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client

from accounts.models import Membership
from activity.models import ActivityEvent
from activity.summaries import event_summary
from tests.factories import PASSWORD
from tests.support.admin import STAFF_EMAIL, logged_in, new_superuser, staff_with, user_form

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "Tr0ub4dor&3-horse-staple"
SET_PASSWORD = {"usable_password": "true", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}


def helpdesk() -> Client:
    return logged_in(staff_with("accounts.change_user", "accounts.view_user"))


@pytest.mark.parametrize("role", ["owner", "admin_member"])
def test_staff_cannot_set_the_password_of_an_owner_or_admin(
    role: str, request: pytest.FixtureRequest
) -> None:
    target: Membership = request.getfixturevalue(role)
    client = helpdesk()
    url = f"/admin/accounts/user/{target.user_id}/password/"

    assert client.get(url).status_code == 403
    assert client.post(url, SET_PASSWORD).status_code == 403  # forged: no form was shown

    target.user.refresh_from_db()
    assert target.user.check_password(PASSWORD)
    assert not ActivityEvent.objects.exists()


@pytest.mark.parametrize("role", ["owner", "admin_member"])
def test_staff_cannot_change_the_email_of_an_owner_or_admin(
    role: str, request: pytest.FixtureRequest
) -> None:
    target: Membership = request.getfixturevalue(role)
    email = target.user.email
    client = helpdesk()
    url = f"/admin/accounts/user/{target.user_id}/change/"

    page = client.get(url).text
    assert 'name="email"' not in page  # shown read-only
    response = client.post(url, user_form(target.user, email="puppet@evil.example"))

    assert response.status_code == 302  # the rest of the form saves; the email is ignored
    target.user.refresh_from_db()
    assert target.user.email == email


def test_a_staff_email_change_of_a_member_is_recorded_and_told_to_both_addresses_and_owners(
    member: Membership, owner: Membership, on_commit_at_once: None
) -> None:
    response = helpdesk().post(
        f"/admin/accounts/user/{member.user_id}/change/",
        user_form(member.user, email="Member.New@ACME.test"),
    )
    assert response.status_code == 302
    member.user.refresh_from_db()
    assert member.user.email == "member.new@acme.test"
    event = ActivityEvent.objects.get()
    assert (event.event_type, event.actor_email) == (ActivityEvent.Type.EMAIL_CHANGED, STAFF_EMAIL)
    assert event_summary(event) == (
        "VoxPria staff changed the email of member@acme.test to member.new@acme.test"
    )
    assert sorted(message.to[0] for message in mail.outbox) == [
        "member.new@acme.test",
        "member@acme.test",
        "owner@acme.test",
    ]


def test_saving_a_user_without_changing_the_email_records_nothing(member: Membership) -> None:
    url = f"/admin/accounts/user/{member.user_id}/change/"
    response = helpdesk().post(url, user_form(member.user, full_name="Mem Ber"))
    assert response.status_code == 302
    assert not ActivityEvent.objects.exists()


def test_a_staff_password_reset_is_recorded_and_emailed_to_the_user_and_the_owners(
    member: Membership,
    owner: Membership,
    admin_member: Membership,
    django_capture_on_commit_callbacks: Callable,
) -> None:
    members_browser = Client()
    members_browser.force_login(member.user)
    client = helpdesk()

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/accounts/user/{member.user_id}/password/", SET_PASSWORD)

    assert response.status_code == 302
    member.user.refresh_from_db()
    assert member.user.check_password(NEW_PASSWORD)
    event = ActivityEvent.objects.get()
    assert (event.event_type, event.account, event.actor_email) == (
        ActivityEvent.Type.STAFF_PASSWORD_SET,
        member.account,
        STAFF_EMAIL,
    )
    assert event_summary(event) == "VoxPria staff set a new password for member@acme.test"
    # The member and the owner, each on their own; not the admin.
    assert sorted(message.to[0] for message in mail.outbox) == [
        "member@acme.test",
        "owner@acme.test",
    ]
    assert all(len(message.to) == 1 for message in mail.outbox)
    assert "VoxPria staff (helpdesk@voxkeys.test) set a new password" in mail.outbox[0].body
    assert NEW_PASSWORD not in mail.outbox[0].body
    # The member's own session ended with the old password.
    assert members_browser.get("/").status_code == 302
    assert SESSION_KEY not in members_browser.session


def test_a_superuser_may_set_an_owners_password_and_it_is_recorded(
    owner: Membership, django_capture_on_commit_callbacks: Callable
) -> None:
    client = logged_in(new_superuser())
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/accounts/user/{owner.user_id}/password/", SET_PASSWORD)
    assert response.status_code == 302
    assert ActivityEvent.objects.get().event_type == ActivityEvent.Type.STAFF_PASSWORD_SET
    assert [message.to for message in mail.outbox] == [["owner@acme.test"]]


def test_a_refused_form_records_nothing(member: Membership) -> None:
    response = helpdesk().post(
        f"/admin/accounts/user/{member.user_id}/password/",
        {**SET_PASSWORD, "password2": "something else"},
    )
    assert response.status_code == 200
    assert not ActivityEvent.objects.exists()
