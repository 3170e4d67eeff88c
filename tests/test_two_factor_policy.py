"""An account's "Require two-factor authentication": who may set it, what it tells whom, the
members it holds on Settings -> Security, the Members page's column and the invitations."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.core import mail
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import get_resolver

from accounts.models import Account, Membership
from accounts.services import MembershipRefused
from accounts.twofactor.factors import last_factor_refusal
from accounts.twofactor.policy import members_without_two_factor, set_two_factor_requirement
from activity.models import ActivityEvent
from activity.summaries import event_summary
from tests.conftest import client_for
from tests.factories import AccountFactory, MembershipFactory
from tests.support.htmx import HTMX
from tests.support.members import invite_as, link_sent_to
from tests.support.twofactor import (
    give_authenticator_app,
    give_passkey,
    past_second_factor,
    require_two_factor,
)
from tests.support.urls import iter_routes

pytestmark = pytest.mark.django_db

SECURITY = "/settings/security/"
# What a held member may still open, besides everything under SECURITY.
REACHABLE_WHILE_HELD = {"security", "logout", "switch_account", "confirm_password"}
HELD_MESSAGE = "Acme Voice requires two-factor authentication: set it up here to continue."
HELD_PAGE = "Acme Voice requires two-factor authentication. Nothing was changed"


@pytest.fixture
def owner_client(owner: Membership) -> Client:
    return past_second_factor(client_for(owner))


def signed_in(membership: Membership) -> Client:
    return past_second_factor(client_for(membership))


@pytest.fixture
def requiring(owner: Membership) -> Account:
    give_authenticator_app(owner.user)
    require_two_factor(owner)
    owner.account.refresh_from_db()
    return owner.account


def walked_paths() -> list[tuple[str, str | None]]:
    """Every route of the URLconf as a path (each parameter "1"), with its name."""
    return [
        ("/" + re.sub(r"<[^>]+>|\(\?P<[^>]+>[^)]*\)", "1", route).lstrip("^").rstrip("$"), p.name)
        for route, p in iter_routes(get_resolver().url_patterns)
    ]


def is_reachable(path: str, name: str | None) -> bool:
    return path.startswith(SECURITY) or name in REACHABLE_WHILE_HELD


# Setting it


def test_an_owner_turns_the_requirement_on_and_it_is_recorded(
    owner: Membership, admin_member: Membership
) -> None:
    give_passkey(owner.user)
    assert set_two_factor_requirement(
        account=owner.account, actor=owner.user, required=True, site_url="http://testserver"
    )
    owner.account.refresh_from_db()
    assert owner.account.require_two_factor
    event = ActivityEvent.objects.get(event_type=ActivityEvent.Type.TWO_FACTOR_REQUIRED)
    assert event.account == owner.account and event.actor == owner.user
    assert event_summary(event) == "Required two-factor authentication of every member"


def test_turning_it_on_twice_changes_and_records_nothing_the_second_time(
    requiring: Account, owner: Membership
) -> None:
    assert not set_two_factor_requirement(
        account=owner.account, actor=owner.user, required=True, site_url="http://testserver"
    )
    assert (
        ActivityEvent.objects.filter(event_type=ActivityEvent.Type.TWO_FACTOR_REQUIRED).count() == 1
    )


@pytest.mark.parametrize("role", [Membership.Role.ADMIN, Membership.Role.MEMBER])
def test_only_an_owner_may_set_it(account: Account, role: str) -> None:
    someone = MembershipFactory(account=account, role=role)
    with pytest.raises(MembershipRefused, match="Only an owner"):
        set_two_factor_requirement(
            account=account, actor=someone.user, required=True, site_url="http://testserver"
        )
    account.refresh_from_db()
    assert not account.require_two_factor
    assert not ActivityEvent.objects.exists()


def test_an_owner_without_two_factor_must_set_it_up_before_requiring_it(
    owner_client: Client, owner: Membership
) -> None:
    with pytest.raises(MembershipRefused, match="for yourself first"):
        require_two_factor(owner)
    page = owner_client.get("/settings/members/two-factor/").text
    assert "Set up two-factor authentication for yourself first" in page
    assert "Require two-factor authentication</button>" not in page
    assert owner_client.post("/settings/members/two-factor/", {"required": "1"}).status_code == 403
    owner.account.refresh_from_db()
    assert not owner.account.require_two_factor


def test_an_owner_who_lost_their_factors_may_still_stop_requiring_it(
    requiring: Account, owner: Membership
) -> None:
    owner.user.totpdevice_set.all().delete()
    assert set_two_factor_requirement(
        account=requiring, actor=owner.user, required=False, site_url="http://testserver"
    )


def test_an_owner_of_another_account_may_not_set_it(
    account: Account, other_owner: Membership
) -> None:
    with pytest.raises(MembershipRefused):
        set_two_factor_requirement(
            account=account, actor=other_owner.user, required=True, site_url="http://x.test"
        )


def test_turning_it_on_emails_owners_admins_and_each_member_without_two_factor(
    owner: Membership,
    admin_member: Membership,
    member: Membership,
    django_capture_on_commit_callbacks,  # noqa: ANN001
) -> None:
    enrolled = MembershipFactory(account=owner.account, role=Membership.Role.MEMBER)
    give_passkey(enrolled.user)
    give_passkey(owner.user)
    with django_capture_on_commit_callbacks(execute=True):
        require_two_factor(owner)
    by_subject: dict[str, list[str]] = {}
    for message in mail.outbox:
        by_subject.setdefault(message.subject, []).extend(message.to)
    managers = by_subject.pop(
        "[VoxPria] Required two-factor authentication of every member in Acme Voice"
    )
    assert sorted(managers) == ["admin@acme.test", "owner@acme.test"]
    asked = by_subject.pop("[VoxPria] Acme Voice now requires two-factor authentication")
    assert sorted(asked) == ["admin@acme.test", "member@acme.test"]
    assert by_subject == {}
    body = next(m.body for m in mail.outbox if m.to == ["member@acme.test"] and "now" in m.subject)
    assert (
        "Acme Voice now requires two-factor authentication: set it up under Settings → Security "
        "at\nhttp://testserver/settings/security/" in body
    )
    assert "Until then you can only reach that page." in body


def test_turning_it_off_emails_owners_and_admins_only(
    requiring: Account,
    owner: Membership,
    member: Membership,
    django_capture_on_commit_callbacks,  # noqa: ANN001
) -> None:
    mail.outbox.clear()  # requiring it
    with django_capture_on_commit_callbacks(execute=True):
        set_two_factor_requirement(
            account=requiring, actor=owner.user, required=False, site_url="http://testserver"
        )
    assert [(m.subject, m.to) for m in mail.outbox] == [
        (
            "[VoxPria] Stopped requiring two-factor authentication in Acme Voice",
            ["owner@acme.test"],
        )
    ]
    event = ActivityEvent.objects.get(event_type=ActivityEvent.Type.TWO_FACTOR_NOT_REQUIRED)
    assert event_summary(event) == "Stopped requiring two-factor authentication"


def test_members_without_two_factor_are_those_with_neither_an_app_nor_a_passkey(
    owner: Membership, admin_member: Membership, member: Membership
) -> None:
    give_authenticator_app(owner.user)
    give_passkey(admin_member.user)
    unconfirmed = MembershipFactory(account=owner.account, user__email="half@acme.test")
    unconfirmed.user.totpdevice_set.create(name="Half", confirmed=False)
    gone = MembershipFactory(account=owner.account, user__is_active=False)
    without = members_without_two_factor(owner.account)
    assert [user.email for user in without] == ["half@acme.test", "member@acme.test"]
    assert gone.user not in without


def test_the_last_factor_cannot_be_removed_while_an_account_requires_it(
    requiring: Account, owner: Membership
) -> None:
    refusal = last_factor_refusal(owner.user)
    assert refusal is not None and refusal.startswith("Acme Voice requires two-factor")
    give_passkey(owner.user)
    assert last_factor_refusal(owner.user) is None


def test_the_last_factor_can_be_removed_once_the_requirement_is_off(
    requiring: Account, owner: Membership
) -> None:
    set_two_factor_requirement(
        account=requiring, actor=owner.user, required=False, site_url="http://testserver"
    )
    assert last_factor_refusal(owner.user) is None


# The Members page


def test_the_confirmation_lists_the_members_not_enrolled_yet(
    owner_client: Client, owner: Membership, member: Membership
) -> None:
    give_authenticator_app(owner.user)
    MembershipFactory(
        account=owner.account, role=Membership.Role.MEMBER, user__full_name="Ada Byron"
    )
    response = owner_client.get("/settings/members/two-factor/")
    assert response.status_code == 200
    listed = re.search(r'<ul aria-label="Members not enrolled yet">(.*?)</ul>', response.text, re.S)
    assert listed is not None
    assert "member@acme.test" in listed.group(1) and "Ada Byron" in listed.group(1)
    assert "owner@acme.test" not in listed.group(1)
    assert "2 members are not enrolled yet" in response.text


def test_the_confirmation_is_dialog_content_for_htmx(
    owner_client: Client, owner: Membership
) -> None:
    response = owner_client.get("/settings/members/two-factor/", headers=HTMX)
    assert response.status_code == 200
    assert "<html" not in response.text
    assert 'hx-post="/settings/members/two-factor/"' in response.text
    assert "Require two-factor authentication?" in response.text


def test_the_owner_turns_it_on_from_the_members_page(
    owner_client: Client, owner: Membership
) -> None:
    give_authenticator_app(owner.user)
    response = owner_client.post("/settings/members/two-factor/", {"required": "1"})
    assert response.status_code == 302 and response["Location"] == "/settings/members/"
    owner.account.refresh_from_db()
    assert owner.account.require_two_factor
    page = owner_client.get("/settings/members/").text
    assert "Acme Voice now requires two-factor authentication." in page
    assert "Stop requiring two-factor authentication" in page


def test_htmx_turning_it_off_reloads_the_members_page(
    requiring: Account, owner_client: Client
) -> None:
    response = owner_client.post("/settings/members/two-factor/", {"required": "0"}, headers=HTMX)
    assert response["HX-Redirect"] == "/settings/members/"
    requiring.refresh_from_db()
    assert not requiring.require_two_factor


@pytest.mark.parametrize("posted", [{}, {"required": "yes"}, {"required": ""}])
def test_a_junk_submission_changes_nothing(
    owner_client: Client, owner: Membership, posted: dict[str, str]
) -> None:
    response = owner_client.post("/settings/members/two-factor/", posted)
    assert response.status_code == 403
    owner.account.refresh_from_db()
    assert not owner.account.require_two_factor


@pytest.mark.parametrize("role", [Membership.Role.ADMIN, Membership.Role.MEMBER])
def test_a_non_owner_sees_whether_it_is_required_but_no_control(
    requiring: Account, role: str
) -> None:
    someone = MembershipFactory(account=requiring, role=role)
    give_passkey(someone.user)
    client = signed_in(someone)
    page = client.get("/settings/members/").text
    assert "Required" in page and "Only an owner can change this." in page
    assert "/settings/members/two-factor/" not in page
    assert client.get("/settings/members/two-factor/").status_code == 403
    assert client.post("/settings/members/two-factor/", {"required": "0"}).status_code == 403
    requiring.refresh_from_db()
    assert requiring.require_two_factor


def test_the_members_column_shows_each_members_status_and_method_count(
    owner_client: Client, owner: Membership, member: Membership, admin_member: Membership
) -> None:
    give_authenticator_app(owner.user)
    give_passkey(owner.user)
    give_passkey(admin_member.user)
    page = owner_client.get("/settings/members/").text
    rows = {
        email: row
        for row in re.findall(r"<tr>(.*?)</tr>", page, re.S)
        for email in re.findall(r"<td>([\w.@]+@acme\.test)</td>", row)
    }
    assert "On · 2 methods" in rows["owner@acme.test"]
    assert "On · 1 method<" in rows["admin@acme.test"]
    assert "Off" in rows["member@acme.test"]
    assert "Two-factor</th>" in page


def test_the_members_page_costs_the_same_queries_however_many_members(
    owner_client: Client, owner: Membership
) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get("/settings/members/").status_code == 200
        return len(captured)

    give_authenticator_app(owner.user)
    queries()  # the session's first save
    few = queries()
    for _ in range(5):
        joined = MembershipFactory(account=owner.account, role=Membership.Role.MEMBER)
        give_authenticator_app(joined.user)
        give_passkey(joined.user)
    assert queries() == few


# Invitations


def test_an_invitation_into_a_requiring_account_says_so(
    requiring: Account, owner: Membership, client: Client, on_commit_at_once: None
) -> None:
    invite_as(owner, "new@example.test")
    [message] = [m for m in mail.outbox if m.to == ["new@example.test"]]
    expected = "Acme Voice requires two-factor authentication: you'll set it up after joining."
    assert expected in message.body
    page = client.get(link_sent_to(mail.outbox, "new@example.test"))
    assert expected in page.content.decode().replace("&#x27;", "'")


def test_an_invitation_into_another_account_does_not(
    owner: Membership, client: Client, on_commit_at_once: None
) -> None:
    invite_as(owner, "new@example.test")
    [message] = [m for m in mail.outbox if m.to == ["new@example.test"]]
    assert "two-factor" not in message.body
    page = client.get(link_sent_to(mail.outbox, "new@example.test"))
    assert "two-factor" not in page.content.decode()


# The hold


def test_a_held_member_reaches_only_the_security_page_and_its_ways_out(
    requiring: Account, member: Membership
) -> None:
    client = signed_in(member)
    walked = []
    for path, name in walked_paths():
        # Signing out (this session, or its list entry /sessions/1/) would end the walk.
        if name in {"logout", "end_session"} or path.startswith("/api/"):
            continue
        reachable = is_reachable(path, name)
        response = client.get(path)
        htmx = client.get(path, headers=HTMX)
        posted = client.post(path)
        if reachable:
            # A view may send the member to Security itself (nothing to remove, say), never
            # with the hold's message.
            assert HELD_MESSAGE not in [str(m) for m in get_messages(response.wsgi_request)], path
            assert "HX-Redirect" not in htmx, path
            assert HELD_PAGE not in posted.text, path
        else:
            assert (response.status_code, response["Location"]) == (302, SECURITY), path
            assert (htmx.status_code, htmx["HX-Redirect"]) == (200, SECURITY), path
            assert posted.status_code == 403, path
            assert HELD_PAGE in posted.text, path
        walked.append(path)
    for expected in ("/", "/settings/api-keys/", "/settings/api-keys/1/revoke/", "/admin/"):
        assert expected in walked
    assert SECURITY in walked
    assert client.post("/logout/").status_code == 302
    assert client.get("/settings/api-keys/")["Location"].startswith("/login/")


def test_the_held_member_is_told_why_on_the_security_page(
    requiring: Account, member: Membership
) -> None:
    client = signed_in(member)
    response = client.get("/settings/api-keys/", follow=True)
    assert response.redirect_chain == [(SECURITY, 302)]
    page = response.content.decode()
    assert "Acme Voice requires two-factor authentication: set it up here to continue." in page
    assert "Add an authenticator app or a passkey below" in page


def test_once_enrolled_the_member_reaches_everything(
    requiring: Account, member: Membership
) -> None:
    give_authenticator_app(member.user)
    client = signed_in(member)
    for path, name in walked_paths():
        # Signing out (this session, or its list entry /sessions/1/) would end the walk.
        if name in {"logout", "end_session"} or path.startswith("/api/"):
            continue
        response = client.get(path)
        assert response.get("Location") != SECURITY, path
        assert "HX-Redirect" not in client.get(path, headers=HTMX), path
    assert client.get("/settings/api-keys/").status_code == 200
    assert "Add an authenticator app or a passkey below" not in client.get(SECURITY).text


def test_in_an_account_that_does_not_require_it_the_member_works_normally(
    requiring: Account, member: Membership
) -> None:
    elsewhere = MembershipFactory(
        user=member.user, account=AccountFactory(name="Zeta"), role=Membership.Role.OWNER
    )
    client = signed_in(member)
    assert client.get("/settings/api-keys/").status_code == 302
    switched = client.post("/account/switch/", {"account": elsewhere.account_id, "next": "/"})
    assert switched.status_code == 302
    assert client.get("/settings/api-keys/").status_code == 200
    assert client.post("/account/switch/", {"account": requiring.pk}).status_code == 302
    assert client.get("/settings/api-keys/")["Location"] == SECURITY


def test_the_api_is_not_held_a_session_never_authenticates_there(
    requiring: Account, member: Membership
) -> None:
    response = signed_in(member).get("/api/v1/contacts")
    assert response.status_code == 401


def test_requests_outside_a_requiring_account_never_ask_for_factors(
    owner_client: Client, owner: Membership
) -> None:
    with CaptureQueriesContext(connection) as captured:
        assert owner_client.get("/settings/api-keys/").status_code == 200
    assert not [query for query in captured if "otp_totp" in query["sql"]]
