"""The Django admin cannot be used to escalate privileges, to read secrets out, or unrecorded."""

from __future__ import annotations

import html
import re
import uuid

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.test import Client

from accounts.models import Account, Membership, User
from accounts.services import (
    MANAGER_ROLE_REFUSED,
    OWN_MEMBERSHIP_REFUSED,
    MembershipRefused,
    add_member,
    change_role,
)
from activity.models import ActivityEvent
from apikeys.admin import SECRET_FIELDS
from apikeys.models import ApiKey
from apikeys.services import create_key
from tests.factories import AccountFactory, MembershipFactory, UserFactory
from tests.support.admin import STAFF_EMAIL, logged_in, new_superuser, staff_with, user_form

pytestmark = pytest.mark.django_db

PRIVILEGE_INPUTS = ["is_staff", "is_superuser", "groups", "user_permissions"]
ADMIN_PASSWORD = "Tr0ub4dor&3-horse-staple"


@pytest.fixture
def superuser() -> User:
    return new_superuser()


@pytest.fixture
def customer() -> User:
    return UserFactory(email="customer@example.test", full_name="Cus Tomer")


def shown(response: object) -> str:
    """The page's text as a reader sees it (apostrophes are escaped in the HTML)."""
    return html.unescape(response.content.decode())


def has_input(page: str, name: str) -> bool:
    return re.search(rf'<(input|select|textarea)[^>]*name="{name}"', page) is not None


def forged_privileges() -> dict[str, object]:
    group = Group.objects.create(name="Everything")
    group.permissions.set(Permission.objects.all())
    return {
        "is_staff": "on",
        "is_superuser": "on",
        "groups": [group.pk],
        "user_permissions": [Permission.objects.get(codename="delete_account").pk],
    }


def assert_unprivileged(user: User, *, is_staff: bool) -> None:
    user.refresh_from_db()
    assert (user.is_staff, user.is_superuser) == (is_staff, False)
    assert not user.groups.exists()
    assert not user.user_permissions.exclude(codename__in=["change_user", "add_user"]).exists()


# Staff status, superuser status, groups and permissions --------------------------------------


def test_staff_see_privileges_read_only_and_superusers_can_edit_them(
    superuser: User, customer: User
) -> None:
    staff = staff_with("accounts.change_user")
    for target in (staff, customer):
        page = logged_in(staff).get(f"/admin/accounts/user/{target.pk}/change/").text
        assert has_input(page, "full_name")
        for name in PRIVILEGE_INPUTS:
            assert not has_input(page, name), name
        assert "Superuser status" in page  # shown, as text

    page = logged_in(superuser).get(f"/admin/accounts/user/{customer.pk}/change/").text
    for name in PRIVILEGE_INPUTS:
        assert has_input(page, name), name


@pytest.mark.parametrize("whom", ["themselves", "a customer"])
def test_a_forged_post_grants_no_privileges(customer: User, whom: str) -> None:
    staff = staff_with("accounts.change_user")
    target = staff if whom == "themselves" else customer
    response = logged_in(staff).post(
        f"/admin/accounts/user/{target.pk}/change/",
        user_form(target, full_name="Renamed", **forged_privileges()),
    )
    assert response.status_code == 302
    target.refresh_from_db()
    assert target.full_name == "Renamed"  # the form was saved, without the forged fields
    assert_unprivileged(target, is_staff=whom == "themselves")


def test_a_forged_add_form_creates_an_unprivileged_user() -> None:
    staff = staff_with("accounts.add_user", "accounts.change_user")
    page = logged_in(staff).get("/admin/accounts/user/add/").text
    for name in PRIVILEGE_INPUTS:
        assert not has_input(page, name), name
    response = logged_in(staff).post(
        "/admin/accounts/user/add/",
        {
            "email": "new@example.test",
            "usable_password": "true",
            "password1": ADMIN_PASSWORD,
            "password2": ADMIN_PASSWORD,
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            **forged_privileges(),
        },
    )
    assert response.status_code == 302
    assert_unprivileged(User.objects.get(email="new@example.test"), is_staff=False)


def test_superusers_grant_privileges(superuser: User, customer: User) -> None:
    response = logged_in(superuser).post(
        f"/admin/accounts/user/{customer.pk}/change/",
        user_form(customer, is_staff="on", user_permissions=[Permission.objects.first().pk]),
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.is_staff and customer.user_permissions.count() == 1


def test_staff_cannot_take_over_superusers_or_other_staff(superuser: User) -> None:
    staff = staff_with("accounts.change_user", "accounts.delete_user")
    colleague = staff_with("apikeys.change_apikey", email="colleague@voxkeys.test")
    client = logged_in(staff)
    for target in (superuser, colleague):
        # Setting their password (or email) would let the staff user sign in as them.
        password_url = f"/admin/accounts/user/{target.pk}/password/"
        assert client.get(password_url).status_code == 403
        response = client.post(
            password_url,
            {"usable_password": "true", "password1": ADMIN_PASSWORD, "password2": ADMIN_PASSWORD},
        )
        assert response.status_code == 403
        change_url = f"/admin/accounts/user/{target.pk}/change/"
        assert 'name="_save"' not in client.get(change_url).text  # view only
        assert client.post(change_url, user_form(target, email="me@evil.test")).status_code == 403
        assert (
            client.post(f"/admin/accounts/user/{target.pk}/delete/", {"post": "yes"}).status_code
            == 403
        )
        target.refresh_from_db()
        assert target.email != "me@evil.test" and not target.check_password(ADMIN_PASSWORD)


def test_staff_cannot_add_permissions_to_a_group(superuser: User) -> None:
    staff = staff_with("auth.change_group")
    group = Group.objects.create(name="Support")
    staff.groups.add(group)
    every_permission = list(Permission.objects.values_list("pk", flat=True))
    url = f"/admin/auth/group/{group.pk}/change/"
    assert not has_input(logged_in(staff).get(url).text, "permissions")
    response = logged_in(staff).post(url, {"name": "Support", "permissions": every_permission})
    assert response.status_code == 302
    assert not group.permissions.exists()

    response = logged_in(superuser).post(url, {"name": "Support", "permissions": every_permission})
    assert response.status_code == 302
    assert group.permissions.count() == len(every_permission)


# Memberships ---------------------------------------------------------------------------------

MEMBERSHIP_PERMS = [
    "accounts.view_membership",
    "accounts.add_membership",
    "accounts.change_membership",
    "accounts.delete_membership",
    "accounts.view_user",
    "accounts.view_account",
]


@pytest.fixture
def helpdesk() -> User:
    """Staff who manage memberships, and may change accounts (for the account page's inline)."""
    return staff_with(*MEMBERSHIP_PERMS, "accounts.change_account", "accounts.change_user")


def test_staff_are_not_offered_the_owner_role(helpdesk: User, superuser: User) -> None:
    assert 'value="owner"' not in logged_in(helpdesk).get("/admin/accounts/membership/add/").text
    assert 'value="owner"' in logged_in(superuser).get("/admin/accounts/membership/add/").text


@pytest.mark.parametrize(
    "role, whom, message",
    [
        ("owner", "customer", MANAGER_ROLE_REFUSED),
        ("admin", "themselves", OWN_MEMBERSHIP_REFUSED),
        ("member", "themselves", OWN_MEMBERSHIP_REFUSED),
    ],
)
def test_a_forged_membership_is_refused_with_a_reason(
    helpdesk: User, customer: User, account: Account, role: str, whom: str, message: str
) -> None:
    user = customer if whom == "customer" else helpdesk
    response = logged_in(helpdesk).post(
        "/admin/accounts/membership/add/", {"user": user.pk, "account": account.pk, "role": role}
    )
    assert response.status_code == 200
    assert message in shown(response)
    assert not Membership.objects.filter(user=user).exists()
    assert not ActivityEvent.objects.exists()


def test_owner_memberships_are_read_only_to_staff(helpdesk: User, owner: Membership) -> None:
    client = logged_in(helpdesk)
    url = f"/admin/accounts/membership/{owner.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and 'name="_save"' not in page.text
    assert not has_input(page.text, "role")
    assert client.post(url, {"role": "member"}).status_code == 403
    assert (
        client.post(f"/admin/accounts/membership/{owner.pk}/delete/", {"post": "yes"}).status_code
        == 403
    )
    response = client.post(
        "/admin/accounts/membership/",
        {"action": "delete_selected", "_selected_action": [owner.pk], "post": "yes"},
    )
    assert response.status_code == 403
    owner.refresh_from_db()
    assert owner.role == Membership.Role.OWNER
    assert not ActivityEvent.objects.exists()


def test_staff_cannot_change_their_own_membership(helpdesk: User, account: Account) -> None:
    mine = MembershipFactory(user=helpdesk, account=account, role=Membership.Role.MEMBER)
    client = logged_in(helpdesk)
    assert (
        client.post(f"/admin/accounts/membership/{mine.pk}/change/", {"role": "admin"}).status_code
        == 403
    )
    mine.refresh_from_db()
    assert mine.role == Membership.Role.MEMBER


def test_superusers_manage_owner_memberships(
    superuser: User, customer: User, owner: Membership
) -> None:
    client = logged_in(superuser)
    response = client.post(
        "/admin/accounts/membership/add/",
        {"user": customer.pk, "account": owner.account_id, "role": "owner"},
    )
    assert response.status_code == 302
    response = client.post(f"/admin/accounts/membership/{owner.pk}/change/", {"role": "admin"})
    assert response.status_code == 302
    assert Membership.objects.get(user=customer).role == Membership.Role.OWNER
    owner.refresh_from_db()
    assert owner.role == Membership.Role.ADMIN


def test_staff_cannot_make_a_member_an_admin(helpdesk: User, member: Membership) -> None:
    """The takeover the rule stops: a login staff control, made admin, could create keys."""
    url = f"/admin/accounts/membership/{member.pk}/change/"
    response = logged_in(helpdesk).post(url, {"role": "admin"})
    assert response.status_code == 200
    assert MANAGER_ROLE_REFUSED in shown(response)
    member.refresh_from_db()
    assert member.role == Membership.Role.MEMBER


def test_staff_cannot_add_a_login_they_control_as_an_admin(
    helpdesk: User, account: Account
) -> None:
    puppet = UserFactory(email="puppet@evil.example")
    response = logged_in(helpdesk).post(
        "/admin/accounts/membership/add/",
        {"user": puppet.pk, "account": account.pk, "role": "admin"},
    )
    assert response.status_code == 200
    assert MANAGER_ROLE_REFUSED in shown(response)
    assert not Membership.objects.filter(user=puppet).exists()


def test_staff_are_offered_only_the_member_role(helpdesk: User) -> None:
    page = logged_in(helpdesk).get("/admin/accounts/membership/add/").text
    assert 'value="member"' in page
    assert 'value="admin"' not in page and 'value="owner"' not in page


def test_superusers_change_other_roles(superuser: User, member: Membership) -> None:
    url = f"/admin/accounts/membership/{member.pk}/change/"
    assert logged_in(superuser).post(url, {"role": "admin"}).status_code == 302
    member.refresh_from_db()
    assert member.role == Membership.Role.ADMIN


def account_form(account: Account, rows: list[dict[str, object]]) -> dict[str, object]:
    """The account change form with its membership rows (existing rows first, with their id)."""
    data: dict[str, object] = {
        "name": account.name,
        "status": account.status,
        "api_key_limit": account.api_key_limit,
        "credit_balance": account.credit_balance,
        "api_rate_limit": account.api_rate_limit,
        "max_key_lifetime_days": "",
        "memberships-TOTAL_FORMS": len(rows),
        "memberships-INITIAL_FORMS": sum("id" in row for row in rows),
    }
    for index, row in enumerate(rows):
        for field, value in {"account": account.pk, **row}.items():
            data[f"memberships-{index}-{field}"] = value
    return data


def test_account_inline_locks_owner_rows_and_refuses_new_owners(
    helpdesk: User, customer: User, owner: Membership
) -> None:
    account = owner.account
    url = f"/admin/accounts/account/{account.pk}/change/"
    client = logged_in(helpdesk)
    page = client.get(url).text
    assert re.search(r'<select name="memberships-0-role"[^>]*disabled', page)
    assert re.search(r'<input type="checkbox" name="memberships-0-DELETE"[^>]*disabled', page)
    # The empty row the "Add another" button copies offers no owner role.
    empty_row = re.search(r'<select name="memberships-__prefix__-role".*?</select>', page, re.S)
    assert empty_row and 'value="owner"' not in empty_row.group()

    owner_row = {"id": owner.pk, "user": customer.pk, "role": "member", "DELETE": "on"}
    response = client.post(url, account_form(account, [owner_row]))
    assert response.status_code == 302  # the disabled fields kept their values
    owner.refresh_from_db()
    assert (owner.user.email, owner.role) == ("owner@acme.test", Membership.Role.OWNER)

    new_owner = {"user": customer.pk, "role": "owner"}
    response = client.post(
        url, account_form(account, [{"id": owner.pk, "role": "owner"}, new_owner])
    )
    assert response.status_code == 200
    assert MANAGER_ROLE_REFUSED in shown(response)
    assert not Membership.objects.filter(user=customer).exists()

    myself = {"user": helpdesk.pk, "role": "admin"}
    response = client.post(url, account_form(account, [{"id": owner.pk, "role": "owner"}, myself]))
    assert OWN_MEMBERSHIP_REFUSED in shown(response)
    assert not Membership.objects.filter(user=helpdesk).exists()
    assert not ActivityEvent.objects.exists()


def test_user_page_inline_refuses_owner_memberships(helpdesk: User, customer: User) -> None:
    account = AccountFactory(name="Globex")
    response = logged_in(helpdesk).post(
        f"/admin/accounts/user/{customer.pk}/change/",
        user_form(
            customer,
            **{
                "memberships-TOTAL_FORMS": "1",
                "memberships-0-account": account.pk,
                "memberships-0-user": customer.pk,
                "memberships-0-role": "owner",
            },
        ),
    )
    assert response.status_code == 200
    assert MANAGER_ROLE_REFUSED in shown(response)
    assert not Membership.objects.filter(user=customer).exists()


def test_deleting_an_owner_user_is_refused_to_staff(owner: Membership) -> None:
    # The cascade would remove the owner membership the staff user may not remove.
    staff = staff_with("accounts.delete_user", "accounts.change_user", *MEMBERSHIP_PERMS)
    url = f"/admin/accounts/user/{owner.user_id}/delete/"
    assert logged_in(staff).post(url, {"post": "yes"}).status_code == 403
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_the_services_refuse_what_the_forms_hide(
    helpdesk: User, customer: User, owner: Membership
) -> None:
    with pytest.raises(MembershipRefused, match="Only a superuser can make someone an owner"):
        add_member(account=owner.account, user=customer, role="owner", staff=helpdesk)
    with pytest.raises(MembershipRefused, match="Only a superuser"):
        change_role(membership=owner, role="member", actor=helpdesk, as_staff=True)
    with pytest.raises(MembershipRefused, match="permission to add"):
        add_member(
            account=owner.account,
            user=customer,
            role="member",
            staff=staff_with("accounts.view_membership", email="viewer@voxkeys.test"),
        )
    assert not ActivityEvent.objects.exists()


# The activity log ----------------------------------------------------------------------------

WHERE = {"REMOTE_ADDR": "198.51.100.7", "HTTP_USER_AGENT": "Helpdesk Browser/1.0"}


def only_event(event_type: str, actor: str = STAFF_EMAIL) -> ActivityEvent:
    event = ActivityEvent.objects.get(event_type=event_type)  # exactly one
    assert (event.actor_email, event.ip_address, event.user_agent) == (
        actor,
        "198.51.100.7",
        "Helpdesk Browser/1.0",
    )
    assert event.api_key is None
    return event


def test_membership_admin_records_add_change_and_remove(
    superuser: User, customer: User, account: Account
) -> None:
    client = logged_in(superuser)
    response = client.post(
        "/admin/accounts/membership/add/",
        {"user": customer.pk, "account": account.pk, "role": "member"},
        **WHERE,
    )
    assert response.status_code == 302
    membership = Membership.objects.get(user=customer)
    event = only_event("member_added", superuser.email)
    assert (event.account, event.details) == (
        account,
        {"member": "customer@example.test", "role": "member"},
    )

    url = f"/admin/accounts/membership/{membership.pk}/change/"
    assert client.post(url, {"role": "admin"}, **WHERE).status_code == 302
    event = only_event("member_changed", superuser.email)
    assert (event.account, event.details) == (
        account,
        {"member": "customer@example.test", "role": "admin", "old_role": "member"},
    )
    assert client.post(url, {"role": "admin"}, **WHERE).status_code == 302
    assert ActivityEvent.objects.count() == 2  # saved unchanged: nothing to record

    delete_url = f"/admin/accounts/membership/{membership.pk}/delete/"
    assert client.post(delete_url, {"post": "yes"}, **WHERE).status_code == 302
    assert not Membership.objects.filter(pk=membership.pk).exists()
    event = only_event("member_removed", superuser.email)
    assert (event.account, event.details) == (
        account,
        {"member": "customer@example.test", "role": "admin"},
    )
    assert ActivityEvent.objects.count() == 3


def test_bulk_delete_records_each_removal(
    superuser: User, admin_member: Membership, member: Membership
) -> None:
    response = logged_in(superuser).post(
        "/admin/accounts/membership/",
        {
            "action": "delete_selected",
            "_selected_action": [admin_member.pk, member.pk],
            "post": "yes",
        },
        **WHERE,
    )
    assert response.status_code == 302
    assert not Membership.objects.exists()
    events = ActivityEvent.objects.filter(event_type="member_removed")
    assert sorted(event.details["member"] for event in events) == [
        "admin@acme.test",
        "member@acme.test",
    ]
    assert {event.actor_email for event in events} == {superuser.email}


def test_account_inline_records_add_change_and_remove(
    superuser: User, customer: User, owner: Membership, admin_member: Membership, member: Membership
) -> None:
    account = owner.account
    # Rows in the inline's order: by user email.
    rows = [
        {"id": admin_member.pk, "user": admin_member.user_id, "role": "admin", "DELETE": "on"},
        {"id": member.pk, "user": member.user_id, "role": "admin"},
        {"id": owner.pk, "user": owner.user_id, "role": "owner"},
        {"user": customer.pk, "role": "member"},
    ]
    response = logged_in(superuser).post(
        f"/admin/accounts/account/{account.pk}/change/", account_form(account, rows), **WHERE
    )
    assert response.status_code == 302, response.text
    assert set(account.memberships.values_list("user__email", "role")) == {
        ("customer@example.test", "member"),
        ("member@acme.test", "admin"),
        ("owner@acme.test", "owner"),
    }
    events = {event.event_type: event for event in ActivityEvent.objects.all()}
    assert len(events) == ActivityEvent.objects.count() == 3
    assert events["member_removed"].details == {"member": "admin@acme.test", "role": "admin"}
    assert events["member_changed"].details == {
        "member": "member@acme.test",
        "role": "admin",
        "old_role": "member",
    }
    assert events["member_added"].details == {"member": "customer@example.test", "role": "member"}
    for event in events.values():
        assert (event.account, event.actor_email, event.ip_address) == (
            account,
            superuser.email,
            "198.51.100.7",
        )


def test_user_page_inline_records_an_addition(superuser: User, customer: User) -> None:
    account = AccountFactory(name="Globex")
    response = logged_in(superuser).post(
        f"/admin/accounts/user/{customer.pk}/change/",
        user_form(
            customer,
            **{
                "memberships-TOTAL_FORMS": "1",
                "memberships-0-account": account.pk,
                "memberships-0-user": customer.pk,
                "memberships-0-role": "admin",
            },
        ),
        **WHERE,
    )
    assert response.status_code == 302
    event = only_event("member_added", superuser.email)
    assert (event.account, event.details) == (
        account,
        {"member": "customer@example.test", "role": "admin"},
    )


def test_a_membership_change_and_its_event_commit_together(
    helpdesk: User, customer: User, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    def failing_record(**kwargs: object) -> None:
        raise RuntimeError("the activity log is unavailable")

    monkeypatch.setattr("accounts.services.record_event", failing_record)
    with pytest.raises(RuntimeError):
        add_member(account=account, user=customer, role="member", staff=helpdesk)
    assert not Membership.objects.filter(user=customer).exists()


# No oracle on secrets ------------------------------------------------------------------------


@pytest.fixture
def staff_client(superuser: User) -> Client:
    return logged_in(superuser)


@pytest.fixture
def keys(owner: Membership) -> list[ApiKey]:
    """Two keys whose digests sort the other way round from the list's default order."""
    made = [
        create_key(
            account=owner.account,
            user=owner.user,
            name=name,
            scopes=["calls:read"],
            creation_token=uuid.uuid4(),
        ).api_key
        for name in ("Older", "Newer")
    ]
    ApiKey.objects.filter(pk=made[0].pk).update(key_digest="f" * 64)
    ApiKey.objects.filter(pk=made[1].pk).update(key_digest="0" * 64)
    for key in made:
        key.refresh_from_db()
    return made


def names_listed(page: str) -> list[str]:
    return re.findall(r">(Older|Newer)</a>", page)


@pytest.mark.parametrize(
    "path",
    [
        "/admin/apikeys/apikey/?key_digest__startswith=f",
        "/admin/apikeys/apikey/?key_digest={digest}",
        "/admin/apikeys/apikey/?key_digest__gt=0",
        "/admin/apikeys/apikey/?key_digest__regex=^f",
        "/admin/apikeys/apikey/?creation_token={token}",
        "/admin/apikeys/apikey/?creation_token__isnull=False",
        "/admin/apikeys/apikey/?replaced_by__key_digest__startswith=f",
        "/admin/apikeys/apikey/?account__api_keys__key_digest__startswith=f",
        "/admin/activity/activityevent/?api_key__key_digest__startswith=f",
        "/admin/activity/activityevent/?related_key__creation_token={token}",
        "/admin/activity/activityevent/?account__api_keys__key_digest={digest}",
        "/admin/accounts/account/?api_keys__key_digest__startswith=f",
        "/admin/accounts/account/?api_keys__creation_token={token}",
        "/admin/accounts/user/?memberships__account__api_keys__key_digest__startswith=f",
    ],
)
def test_secret_fields_cannot_be_filtered(
    staff_client: Client, keys: list[ApiKey], path: str
) -> None:
    url = path.format(digest=keys[0].key_digest, token=keys[0].creation_token)
    response = staff_client.get(url)
    # DisallowedModelAdminLookup: refused before any query, whatever the value.
    assert response.status_code == 400
    assert "Older" not in response.text and "Acme Voice" not in response.text


def test_allowed_filters_still_work(staff_client: Client, keys: list[ApiKey]) -> None:
    page = staff_client.get("/admin/apikeys/apikey/?environment__exact=live&status=active")
    assert names_listed(page.text) == ["Newer", "Older"]


@pytest.mark.parametrize(
    "order", ["-key_digest", "key_digest", "-creation_token", "creation_token", "99"]
)
def test_the_list_cannot_be_ordered_by_a_secret(
    staff_client: Client, keys: list[ApiKey], order: str
) -> None:
    # Ordered by -key_digest, "Older" (ffff…) would come first; the default is newest first.
    page = staff_client.get("/admin/apikeys/apikey/", {"o": order})
    assert page.status_code == 200
    assert names_listed(page.text) == ["Newer", "Older"]


@pytest.mark.parametrize("changelist", ["apikeys/apikey", "activity/activityevent"])
@pytest.mark.parametrize("query", ["{digest_prefix}", "{digest}", "{token}", "{token_prefix}"])
def test_search_never_matches_a_secret(
    staff_client: Client, keys: list[ApiKey], changelist: str, query: str
) -> None:
    key = keys[0]
    q = query.format(
        digest_prefix=key.key_digest[:8],
        digest=key.key_digest,
        token=key.creation_token,
        token_prefix=str(key.creation_token)[:8],
    )
    page = staff_client.get(f"/admin/{changelist}/", {"q": q})
    assert page.status_code == 200
    assert "0 results" in page.text
    assert "Older" not in page.text


def test_no_admin_lists_searches_or_orders_by_a_secret() -> None:
    """Every registered admin, so an admin added later cannot reopen the oracle."""
    for model, model_admin in admin.site._registry.items():
        names = [
            *model_admin.list_display,
            *model_admin.list_filter,
            *model_admin.search_fields,
            *(model_admin.ordering or []),
            *(model_admin.sortable_by or []),
            model_admin.date_hierarchy or "",
        ]
        for name in names:
            if isinstance(name, str):
                parts = set(name.lstrip("^=@-").split("__"))
                assert not parts & SECRET_FIELDS, (model.__name__, name)
        if model in (ApiKey, ActivityEvent):
            for secret in SECRET_FIELDS:
                assert not model_admin.lookup_allowed(f"{secret}__startswith", "a", None)
