from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.test import Client
from django.utils import timezone

from accounts.invitations import (
    InvitationState,
    find_invitation,
    invitation_state,
    token_digest,
)
from accounts.models import Invitation, Membership, User
from accounts.services import MembershipRefused
from activity.models import ActivityEvent
from tests.conftest import client_for
from tests.factories import UserFactory
from tests.support.members import invite_as, link_sent_to

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "a long and unusual passphrase 42"


def path_of(link: str) -> str:
    return link.removeprefix("http://testserver")


@pytest.fixture
def sent(owner: Membership, django_capture_on_commit_callbacks: object) -> str:
    """An invitation of new@x.test as admin; its link's path."""
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        invite_as(owner, "New@X.test ", "admin")
    return path_of(link_sent_to(mail.outbox, "new@x.test"))


def test_only_the_tokens_digest_is_stored(sent: str) -> None:
    token = sent.split("/")[2]
    invitation = Invitation.objects.get()
    assert invitation.token_digest == token_digest(token)
    assert token not in str(Invitation.objects.values().get())
    assert invitation.email == "new@x.test"


def test_the_email_canonical_form_is_what_is_invited_and_refused(owner: Membership) -> None:
    invite_as(owner, "ＮＥＷ@x.test")
    with pytest.raises(MembershipRefused, match="already been invited"):
        invite_as(owner, "new@X.TEST")


def test_an_invitation_to_a_member_is_refused(owner: Membership, member: Membership) -> None:
    with pytest.raises(MembershipRefused) as refused:
        invite_as(owner, " Member@ACME.test")
    assert refused.value.field == "email"
    assert "already a member" in refused.value.message


def test_a_junk_token_never_reaches_the_database(django_assert_num_queries: object) -> None:
    with django_assert_num_queries(0):  # type: ignore[operator]
        assert find_invitation("not-a-token") is None


def test_a_new_person_sets_a_name_and_password_and_joins_with_the_role(sent: str) -> None:
    client = Client()
    page = client.get(sent)
    assert page.status_code == 200
    assert b"Join Acme Voice" in page.content
    response = client.post(
        sent, {"full_name": "Nia New", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    )
    assert response.status_code == 302
    user = User.objects.get(email="new@x.test")
    assert user.full_name == "Nia New" and user.check_password(NEW_PASSWORD)
    assert user.memberships.get().role == "admin"
    assert client.get("/settings/members/").status_code == 200
    joined = ActivityEvent.objects.get(event_type=ActivityEvent.Type.JOINED)
    assert joined.details == {"member": "new@x.test", "role": "admin"}


def test_a_weak_password_is_an_error_next_to_the_field(sent: str) -> None:
    response = Client().post(sent, {"full_name": "Nia", "password1": "123", "password2": "123"})
    assert response.status_code == 422
    assert "This password is too short" in response.content.decode()
    assert not User.objects.filter(email="new@x.test").exists()


def test_mismatched_passwords_are_an_error(sent: str) -> None:
    response = Client().post(
        sent, {"full_name": "Nia", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD + "x"}
    )
    assert response.status_code == 422
    assert "The two passwords differ" in response.content.decode()


def test_the_link_works_once(sent: str) -> None:
    form = {"full_name": "Nia", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    Client().post(sent, form)
    again = Client().post(sent, form)
    assert again.status_code == 410
    assert "already used" in again.content.decode()
    assert Membership.objects.filter(user__email="new@x.test").count() == 1


def test_an_expired_link_gets_a_clear_page(sent: str) -> None:
    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=1)):
        response = Client().get(sent)
        assert invitation_state(Invitation.objects.get()) == InvitationState.EXPIRED
    assert response.status_code == 410
    assert "This invitation has expired" in response.content.decode()


def test_the_link_still_works_just_before_seven_days(sent: str) -> None:
    with time_machine.travel(timezone.now() + timedelta(days=7, seconds=-5)):
        assert Client().get(sent).status_code == 200


def test_the_ttl_is_a_setting(owner: Membership, settings: object) -> None:
    settings.INVITATION_TTL_DAYS = 2  # type: ignore[attr-defined]
    invitation = invite_as(owner, "x@x.test").invitation
    assert invitation.expires_at - invitation.sent_at == timedelta(days=2)


def test_a_revoked_link_gets_a_clear_page(sent: str, owner_client: Client) -> None:
    invitation = Invitation.objects.get()
    assert owner_client.post(f"/settings/members/invitations/{invitation.pk}/revoke/").status_code
    response = Client().get(sent)
    assert response.status_code == 410
    assert "revoked" in response.content.decode()
    event = ActivityEvent.objects.get(event_type=ActivityEvent.Type.INVITATION_REVOKED)
    assert event.actor_email == "owner@acme.test"


def test_an_unknown_link_gets_a_clear_page() -> None:
    response = Client().get("/invitations/" + "A" * 43 + "/")
    assert response.status_code == 404
    assert "does not work" in response.content.decode()
    assert Client().get("/invitations/%00junk/").status_code == 404


def test_resending_replaces_the_link(
    sent: str, owner_client: Client, django_capture_on_commit_callbacks: object
) -> None:
    invitation = Invitation.objects.get()
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        owner_client.post(f"/settings/members/invitations/{invitation.pk}/resend/")
    new_link = path_of(link_sent_to(mail.outbox, "new@x.test"))
    assert new_link != sent
    assert Client().get(sent).status_code == 404
    assert Client().get(new_link).status_code == 200


def test_a_signed_in_user_with_the_address_joins(
    owner: Membership, django_capture_on_commit_callbacks: object
) -> None:
    existing = UserFactory(email="known@x.test")
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        invite_as(owner, "KNOWN@x.test")
    link = path_of(link_sent_to(mail.outbox, "known@x.test"))
    signed_out = Client().get(link)
    assert "Log in to accept" in signed_out.content.decode()
    client = Client()
    client.force_login(existing)
    assert client.post(link).status_code == 302
    assert existing.memberships.get().account == owner.account


def test_a_mismatching_signed_in_user_is_told_which_address(
    sent: str, other_owner: Membership
) -> None:
    response = client_for(other_owner).post(sent)
    assert response.status_code == 403
    assert "This invitation is for <strong>new@x.test</strong>" in response.content.decode()
    assert not other_owner.user.memberships.filter(account__name="Acme Voice").exists()


def test_the_invitation_and_its_events_are_emailed(sent: str) -> None:
    invitation_email = next(m for m in mail.outbox if m.to == ["new@x.test"])
    assert invitation_email.subject == "[VoxPria] You are invited to join Acme Voice"
    notice = next(m for m in mail.outbox if m.to == ["owner@acme.test"])
    assert "Invited new@x.test as admin" in notice.subject


def test_an_admin_posting_owner_gets_an_error_next_to_the_role(
    admin_member: Membership,
) -> None:
    response = client_for(admin_member).post(
        "/settings/members/invite/", {"email": "x@x.test", "role": "owner"}
    )
    assert response.status_code == 422
    assert "Only an owner can invite owners" in response.content.decode()
    assert not Invitation.objects.exists()


def test_the_invite_form_answers_bad_input_with_errors(owner_client: Client) -> None:
    response = owner_client.post("/settings/members/invite/", {"email": "nope", "role": "king"})
    assert response.status_code == 422
    body = response.content.decode()
    assert "Enter a valid email address." in body and "Choose a role." in body


def test_a_member_is_refused_the_invite_page(member_client: Client) -> None:
    response = member_client.get("/settings/members/invite/")
    assert response.status_code == 403
    assert "Only the account&#x27;s owners and admins" in response.content.decode()


def test_a_name_with_hidden_characters_is_an_error_next_to_the_field(sent: str) -> None:
    response = Client().post(
        sent,
        {"full_name": "Nia\u202eweN", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )
    assert response.status_code == 422
    assert 'id="id_full_name_error"' in response.content.decode()
    assert not User.objects.filter(email="new@x.test").exists()


def test_joining_is_emailed_to_owners_and_admins(
    sent: str, django_capture_on_commit_callbacks: object
) -> None:
    form = {"full_name": "Nia", "password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        Client().post(sent, form)
    subjects = [m.subject for m in mail.outbox if m.to == ["owner@acme.test"]]
    assert "[VoxPria] new@x.test joined as admin in Acme Voice" in subjects


def test_an_unknown_role_is_an_error_next_to_the_field(
    owner: Membership, member: Membership, owner_client: Client
) -> None:
    response = owner_client.post(f"/settings/members/{member.pk}/role/", {"role": "king"})
    assert response.status_code == 422
    assert "Choose a role." in response.content.decode()
