from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core import mail
from django.db import connections

from accounts.models import Membership
from accounts.services import (
    LAST_OWNER,
    MANAGERS_ONLY,
    OWNERS_ONLY,
    MembershipRefused,
    change_role,
    remove_member,
)
from activity.models import ActivityEvent
from tests.factories import MembershipFactory
from tests.support.members import invite_as

pytestmark = pytest.mark.django_db


def refusal_of(action: object) -> str:
    with pytest.raises(MembershipRefused) as refused:
        action()  # type: ignore[operator]
    return refused.value.message


def test_an_admin_cannot_invite_an_owner(admin_member: Membership) -> None:
    assert refusal_of(lambda: invite_as(admin_member, "new@x.test", "owner")) == OWNERS_ONLY


def test_an_admin_invites_members_and_admins(admin_member: Membership) -> None:
    assert invite_as(admin_member, "a@x.test", "admin").invitation.role == "admin"
    assert invite_as(admin_member, "m@x.test", "member").invitation.role == "member"


def test_a_member_cannot_invite_anyone(member: Membership) -> None:
    assert refusal_of(lambda: invite_as(member, "new@x.test")) == MANAGERS_ONLY


def test_an_owner_invites_an_owner(owner: Membership) -> None:
    assert invite_as(owner, "co-owner@x.test", "owner").invitation.role == "owner"


def test_an_admin_cannot_make_someone_an_owner(
    admin_member: Membership, member: Membership
) -> None:
    message = refusal_of(
        lambda: change_role(membership=member, role="owner", actor=admin_member.user)
    )
    assert message == OWNERS_ONLY
    member.refresh_from_db()
    assert member.role == "member"


def test_an_admin_cannot_demote_or_remove_an_owner(
    owner: Membership, admin_member: Membership
) -> None:
    assert (
        refusal_of(lambda: change_role(membership=owner, role="member", actor=admin_member.user))
        == OWNERS_ONLY
    )
    assert refusal_of(lambda: remove_member(membership=owner, actor=admin_member.user)) == (
        OWNERS_ONLY
    )


def test_an_admin_changes_and_removes_members_and_admins(
    owner: Membership, admin_member: Membership, member: Membership
) -> None:
    other_admin = MembershipFactory(account=owner.account, role="admin")
    change_role(membership=member, role="admin", actor=admin_member.user)
    remove_member(membership=other_admin, actor=admin_member.user)
    member.refresh_from_db()
    assert member.role == "admin"
    assert not Membership.objects.filter(pk=other_admin.pk).exists()


def test_a_member_cannot_change_anyone(member: Membership, admin_member: Membership) -> None:
    assert (
        refusal_of(lambda: change_role(membership=admin_member, role="member", actor=member.user))
        == MANAGERS_ONLY
    )


def test_the_last_owner_can_be_neither_demoted_nor_removed_nor_leave(owner: Membership) -> None:
    assert refusal_of(lambda: change_role(membership=owner, role="admin", actor=owner.user)) == (
        LAST_OWNER
    )
    assert refusal_of(lambda: remove_member(membership=owner, actor=owner.user)) == LAST_OWNER
    owner.refresh_from_db()
    assert owner.role == "owner"


def test_one_of_two_owners_may_step_down_or_leave(owner: Membership) -> None:
    second = MembershipFactory(account=owner.account, role="owner")
    change_role(membership=second, role="admin", actor=second.user)
    second.refresh_from_db()
    assert second.role == "admin"
    third = MembershipFactory(account=owner.account, role="owner")
    remove_member(membership=third, actor=owner.user)
    assert owner.account.memberships.filter(role="owner").count() == 1


def test_anyone_may_leave(member: Membership, owner: Membership) -> None:
    remove_member(membership=member, actor=member.user)
    event = owner.account.activity_events.get()
    assert event.event_type == ActivityEvent.Type.LEFT
    assert event.details == {"member": "member@acme.test", "role": "member"}


def test_a_role_change_is_recorded_and_emailed_to_owners_and_admins(
    owner: Membership,
    admin_member: Membership,
    member: Membership,
    django_capture_on_commit_callbacks: object,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        change_role(membership=member, role="admin", actor=owner.user)
    event = owner.account.activity_events.get()
    assert event.event_type == ActivityEvent.Type.MEMBER_CHANGED
    assert event.actor_email == "owner@acme.test"
    # Owners and admins as they are after the change: the new admin included.
    assert sorted(message.to[0] for message in mail.outbox) == [
        "admin@acme.test",
        "member@acme.test",
        "owner@acme.test",
    ]
    assert "Changed member@acme.test from member to admin" in mail.outbox[0].subject
    assert "By:           owner@acme.test" in mail.outbox[0].body


def test_a_removal_is_recorded_as_removed(owner: Membership, member: Membership) -> None:
    remove_member(membership=member, actor=owner.user)
    event = owner.account.activity_events.get()
    assert event.event_type == ActivityEvent.Type.MEMBER_REMOVED
    assert event.details == {"member": "member@acme.test", "role": "member"}


@pytest.mark.django_db(transaction=True)
def test_two_owners_demoting_each_other_at_once_leave_one_owner(owner: Membership) -> None:
    second = MembershipFactory(account=owner.account, role="owner")
    start = threading.Barrier(2)

    def demote(target: Membership, actor: Membership) -> str:
        try:
            start.wait(timeout=30)
            change_role(membership=target, role="admin", actor=actor.user)
            return "changed"
        except MembershipRefused as refused:
            return refused.message
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(demote, [owner, second], [second, owner]))

    # The second one to run sees itself as the last owner (or no longer an owner at all).
    assert outcomes[-1] == "changed" and outcomes[0] in {LAST_OWNER, OWNERS_ONLY}
    assert owner.account.memberships.filter(role="owner").count() == 1
