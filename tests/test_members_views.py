from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Membership
from accounts.sudo import SUDO_SESSION_KEY
from activity.models import ActivityEvent
from apikeys.models import ApiKey
from apikeys.services import create_key
from tests.conftest import client_for
from tests.factories import MembershipFactory
from tests.support.members import invite_as

pytestmark = pytest.mark.django_db
MEMBERS = "/settings/members/"


def key_by(membership: Membership, name: str) -> ApiKey:
    return create_key(
        account=membership.account, user=membership.user, name=name, scopes=["calls:read"]
    ).api_key


def test_every_member_sees_the_members_but_not_the_invitations(
    owner: Membership, member: Membership, member_client: Client
) -> None:
    invite_as(owner, "pending@x.test")
    response = member_client.get(MEMBERS)
    assertContains(response, "owner@acme.test")
    assertContains(response, "member@acme.test")
    assertContains(response, '<th scope="col">Last sign-in</th>', html=True)
    assertNotContains(response, "pending@x.test")
    assertNotContains(response, "Invite member")


def test_owners_see_pending_invitations(owner: Membership, owner_client: Client) -> None:
    invite_as(owner, "pending@x.test", "admin")
    response = owner_client.get(MEMBERS)
    assertContains(response, '<th scope="row">pending@x.test</th>', html=True)
    assertContains(response, "Invite member")


def test_members_is_in_the_sidebar_under_settings(owner_client: Client) -> None:
    response = owner_client.get("/")
    assertContains(
        response, '<a href="/settings/members/" class="nav__link">Members</a>', html=True
    )


def test_the_role_page_changes_a_role(owner: Membership, member: Membership) -> None:
    response = client_for(owner).post(f"{MEMBERS}{member.pk}/role/", {"role": "admin"})
    assert response.status_code == 302
    member.refresh_from_db()
    assert member.role == "admin"


def test_the_last_owner_demoting_themselves_gets_an_error_on_the_form(
    owner: Membership, owner_client: Client
) -> None:
    response = owner_client.post(f"{MEMBERS}{owner.pk}/role/", {"role": "member"})
    # An owner changes their own role on the same page as anyone else's.
    assert response.status_code == 422
    assertContains(response, "An account needs an owner", status_code=422)


def test_another_accounts_membership_is_not_found(
    owner_client: Client, other_owner: Membership
) -> None:
    assert owner_client.get(f"{MEMBERS}{other_owner.pk}/role/").status_code == 404
    assert owner_client.post(f"{MEMBERS}{other_owner.pk}/remove/").status_code == 404
    other_owner.refresh_from_db()


def test_an_admin_cannot_open_an_owners_role_page(
    owner: Membership, admin_member: Membership
) -> None:
    response = client_for(admin_member).get(f"{MEMBERS}{owner.pk}/role/")
    assertContains(response, "Only an owner can", status_code=403)


def test_the_role_page_needs_sudo(owner: Membership, member: Membership) -> None:
    client = Client()
    client.force_login(owner.user)
    session = client.session
    session.pop(SUDO_SESSION_KEY)  # as if the password was typed too long ago
    session.save()
    response = client.post(f"{MEMBERS}{member.pk}/role/", {"role": "admin"})
    assertContains(response, "Confirm your password", status_code=403)
    member.refresh_from_db()
    assert member.role == "member"


def test_removal_signs_the_member_out_of_that_account(
    owner: Membership, member: Membership
) -> None:
    elsewhere = MembershipFactory(user=member.user, role="member")
    removed_client = client_for(member)
    assertContains(removed_client.get("/"), "Acme Voice")
    response = client_for(owner).post(f"{MEMBERS}{member.pk}/remove/")
    assert response.status_code == 302
    after = removed_client.get("/settings/api-keys/")
    assertNotContains(after, "Acme Voice")
    assertContains(after, elsewhere.account.name)


def test_a_removed_member_with_nowhere_else_sees_no_account(
    owner: Membership, member: Membership
) -> None:
    removed_client = client_for(member)
    client_for(owner).post(f"{MEMBERS}{member.pk}/remove/")
    assertContains(removed_client.get(MEMBERS), "No account yet")


def test_the_last_owner_cannot_leave(owner: Membership, owner_client: Client) -> None:
    response = owner_client.post(f"{MEMBERS}leave/")
    assertContains(response, "An account needs an owner", status_code=403)
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_a_member_leaves(owner: Membership, member: Membership, member_client: Client) -> None:
    assert member_client.post(f"{MEMBERS}leave/").status_code == 302
    assert not Membership.objects.filter(pk=member.pk).exists()
    assert owner.account.activity_events.get().event_type == ActivityEvent.Type.LEFT


def test_removing_a_member_leads_to_the_keys_they_saw(
    owner: Membership, admin_member: Membership
) -> None:
    seen = key_by(admin_member, "Deploy bot")
    key_by(owner, "Owner's own")
    client = client_for(owner)
    confirm = client.get(f"{MEMBERS}{admin_member.pk}/remove/")
    assertContains(confirm, "Deploy bot")
    response = client.post(f"{MEMBERS}{admin_member.pk}/remove/")
    assert response.url == f"/settings/api-keys/former-members/{admin_member.user_id}/"
    page = client.get(response.url)
    assertContains(page, "Deploy bot")
    assertNotContains(page, "Owner&#x27;s own")
    assertContains(page, f'href="/settings/api-keys/{seen.pk}/roll/"')
    members = client.get(MEMBERS)
    assertContains(members, "Keys former members saw")
    assertContains(
        members, f'<a href="{response.url}">admin@acme.test</a>: 1 active key', html=False
    )


def test_the_batch_roll_rolls_every_key_a_former_member_saw_with_one_grace(
    owner: Membership, admin_member: Membership
) -> None:
    first, second = key_by(admin_member, "One"), key_by(admin_member, "Two")
    client = client_for(owner)
    client.post(f"{MEMBERS}{admin_member.pk}/remove/")
    response = client.post(
        f"/settings/api-keys/former-members/{admin_member.user_id}/", {"grace": "1h"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]  # the new secrets are on it
    for key in (first, second):
        key.refresh_from_db()
        assert key.replaced_by is not None and key.replaced_by.created_by == owner.user
        assert key.revoked_at is None and key.expires_at is not None
    assert response.content.decode().count("vxp_live_") >= 2
    assert ActivityEvent.objects.filter(event_type=ActivityEvent.Type.ROLLED).count() == 2


def test_the_key_list_and_page_say_created_by_a_former_member(
    owner: Membership, admin_member: Membership
) -> None:
    key = key_by(admin_member, "Deploy bot")
    client = client_for(owner)
    client.post(f"{MEMBERS}{admin_member.pk}/remove/")
    former = f"/settings/api-keys/former-members/{admin_member.user_id}/"
    assertContains(
        client.get("/settings/api-keys/"), f'<a href="{former}">a former member</a>', html=True
    )
    assertContains(client.get(f"/settings/api-keys/{key.pk}/"), "a former member")


def test_the_former_member_page_is_not_for_current_members(
    owner: Membership, admin_member: Membership, owner_client: Client
) -> None:
    key_by(admin_member, "Deploy bot")
    response = owner_client.get(f"/settings/api-keys/former-members/{admin_member.user_id}/")
    assert response.status_code == 404


def test_admin_membership_changes_are_emailed_like_the_pages(
    staff_client: Client,
    owner: Membership,
    member: Membership,
    django_capture_on_commit_callbacks: object,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
        staff_client.post(f"/admin/accounts/membership/{member.pk}/delete/", {"post": "yes"})
    assert not Membership.objects.filter(pk=member.pk).exists()
    notice = next(m for m in mail.outbox if m.to == ["owner@acme.test"])
    assert "Removed member@acme.test (member)" in notice.subject
    assert "staff@voxkeys.test" in notice.body


def test_an_owner_may_change_their_own_role_but_removes_only_others(
    owner: Membership, member: Membership, owner_client: Client
) -> None:
    response = owner_client.get(MEMBERS)
    assertContains(response, f'href="{MEMBERS}{owner.pk}/role/"')
    assertNotContains(response, f'href="{MEMBERS}{owner.pk}/remove/"')
    assertContains(response, f'href="{MEMBERS}{member.pk}/remove/"')


@pytest.mark.parametrize(
    "path",
    [
        f"{MEMBERS}99999999999999999999/role/",
        f"{MEMBERS}99999999999999999999/remove/",
        f"{MEMBERS}invitations/99999999999999999999/revoke/",
        f"{MEMBERS}invitations/99999999999999999999/resend/",
        "/settings/api-keys/former-members/99999999999999999999/",
    ],
)
def test_ids_too_large_for_the_database_are_not_found(owner_client: Client, path: str) -> None:
    assert owner_client.get(path).status_code == 404
    assert owner_client.post(path).status_code == 404
