"""Settings → Members in Chromium: invitations from the email to the account, role changes,
removal and rolling the keys the removed member saw; axe-core on every page of the flow."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import time_machine
from django.core.mail import EmailMessage
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from accounts.models import Membership, User
from apikeys.models import ApiKey
from apikeys.services import create_key
from tests.support.browser import Login, assert_no_serious_violations, open_members
from tests.support.members import invite_as, link_sent_to

NEW_PASSWORD = "a long and unusual passphrase 42"


@pytest.fixture
def signed_out_page(browser: Browser, browser_context_args: dict) -> Iterator[Page]:
    """A second browser, nobody signed in: the invited person's."""
    context = browser.new_context(**browser_context_args)
    yield context.new_page()
    context.close()


def test_invite_a_new_person_who_sets_a_password_and_joins_as_admin(
    login: Login,
    owner: Membership,
    signed_out_page: Page,
    mailoutbox: list[EmailMessage],
) -> None:
    page = login(owner)
    open_members(page)
    assert_no_serious_violations(page, "the Members page")
    page.get_by_role("link", name="Invite member").click()
    assert_no_serious_violations(page, "the invite page")
    page.get_by_label("Email").fill("Nia@Example.test")
    page.get_by_label("Role", exact=True).select_option("admin")
    page.get_by_role("button", name="Send invitation").click()
    expect(page.get_by_text("Invitation sent to nia@example.test as Admin.")).to_be_visible()
    invitations = page.get_by_role("region", name="Pending invitations")
    expect(invitations.get_by_role("row", name=re.compile("nia@example.test"))).to_be_visible()

    invited = signed_out_page
    invited.goto(link_sent_to(mailoutbox, "nia@example.test"))
    expect(invited.get_by_role("heading", name="Join Acme Voice")).to_be_visible()
    assert_no_serious_violations(invited, "the invitation page")
    invited.get_by_label("Your name").fill("Nia New")
    invited.get_by_label("Password", exact=True).fill("short")
    invited.get_by_label("Password again").fill("short")
    invited.get_by_role("button", name="Join Acme Voice").click()
    expect(invited.get_by_text("This password is too short.")).to_be_visible()
    invited.get_by_label("Password", exact=True).fill(NEW_PASSWORD)
    invited.get_by_label("Password again").fill(NEW_PASSWORD)
    invited.get_by_role("button", name="Join Acme Voice").click()
    expect(invited.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(invited.get_by_text("Welcome to Acme Voice: you joined as admin.")).to_be_visible()
    expect(invited.locator(".sidebar__user").get_by_text("Admin", exact=True)).to_be_visible()
    assert User.objects.get(email="nia@example.test").check_password(NEW_PASSWORD)


def test_an_existing_user_accepts_while_signed_in(
    login: Login,
    owner: Membership,
    other_owner: Membership,
    mailoutbox: list[EmailMessage],
    live_server,  # noqa: ANN001
) -> None:
    invite_as(owner, "Owner@Globex.test", "member", site_url=live_server.url)
    page = login(other_owner)
    page.goto(link_sent_to(mailoutbox, "owner@globex.test"))
    page.get_by_role("button", name="Join Acme Voice").click()
    expect(page.get_by_text("Welcome to Acme Voice: you joined as member.")).to_be_visible()
    open_members(page)
    expect(page.get_by_role("row", name=re.compile("owner@globex.test"))).to_contain_text("Member")


def test_a_mismatching_signed_in_user_is_told_which_address_it_is_for(
    login: Login,
    owner: Membership,
    member: Membership,
    mailoutbox: list[EmailMessage],
    live_server,  # noqa: ANN001
) -> None:
    invite_as(owner, "someone@x.test", site_url=live_server.url)
    page = login(member)
    page.goto(link_sent_to(mailoutbox, "someone@x.test"))
    expect(page.get_by_role("alert")).to_contain_text(
        "This invitation is for someone@x.test, but you are signed in as member@acme.test."
    )
    expect(page.get_by_role("button", name="Join Acme Voice")).to_have_count(0)
    assert_no_serious_violations(page, "the mismatch page")


def test_revoked_and_expired_links_get_a_clear_page(
    login: Login,
    owner: Membership,
    signed_out_page: Page,
    mailoutbox: list[EmailMessage],
    live_server,  # noqa: ANN001
) -> None:
    invite_as(owner, "revoked@x.test", site_url=live_server.url)
    invite_as(owner, "late@x.test", site_url=live_server.url)
    page = login(owner)
    open_members(page)
    page.get_by_role("link", name="Revoke the invitation of revoked@x.test").click()
    page.get_by_role("button", name="Revoke invitation").click()
    expect(page.get_by_text("The invitation of revoked@x.test was revoked.")).to_be_visible()

    signed_out_page.goto(link_sent_to(mailoutbox, "revoked@x.test"))
    expect(
        signed_out_page.get_by_role("heading", name="This invitation was revoked")
    ).to_be_visible()
    assert_no_serious_violations(signed_out_page, "the revoked page")
    with time_machine.travel(timezone.now() + timedelta(days=7, minutes=1)):
        signed_out_page.goto(link_sent_to(mailoutbox, "late@x.test"))
        expect(
            signed_out_page.get_by_role("heading", name="This invitation has expired")
        ).to_be_visible()


def test_change_a_members_role(login: Login, owner: Membership, member: Membership) -> None:
    page = login(owner)
    open_members(page)
    page.get_by_role("link", name="Change role of member@acme.test").click()
    assert_no_serious_violations(page, "the role page")
    page.get_by_label("Role", exact=True).select_option("admin")
    page.get_by_role("button", name="Save role").click()
    expect(page.get_by_text("member@acme.test is now admin.")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("member@acme.test"))).to_contain_text("Admin")


def test_remove_a_member_and_roll_the_keys_they_created(
    login: Login, owner: Membership, admin_member: Membership
) -> None:
    for name in ("Deploy bot", "CRM sync"):
        create_key(
            account=admin_member.account, user=admin_member.user, name=name, scopes=["calls:read"]
        )
    page = login(owner)
    open_members(page)
    page.get_by_role("link", name="Remove admin@acme.test").click()
    expect(page.get_by_text("Deploy bot")).to_be_visible()
    assert_no_serious_violations(page, "the remove page")
    page.get_by_role("button", name="Remove member").click()
    expect(page.get_by_role("heading", name="Keys admin@acme.test saw")).to_be_visible()
    assert_no_serious_violations(page, "the former member's keys")
    page.get_by_label("In 1 hour").check()
    page.get_by_role("button", name="Roll all keys").click()
    expect(page.get_by_text("2 keys rolled.")).to_be_visible()
    for name in ("Deploy bot", "CRM sync"):
        assert page.get_by_label(name).input_value().startswith("vxp_live_")
    assert ApiKey.objects.filter(replaced_by__isnull=False).count() == 2

    page.get_by_role("link", name="Back to API Keys").click()
    # One row per key: each old secret works for its hour of grace under its successor, whose
    # secret only the owner saw.
    rows = page.get_by_role("region", name="Active keys").get_by_role("row")
    expect(rows.filter(has_text="Deploy bot")).to_have_count(1)
    expect(rows.filter(has_text="former member")).to_have_count(0)
