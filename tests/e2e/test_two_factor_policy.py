"""The two-factor requirement in Chromium: an owner turns it on from the Members page, and a
member without a second factor who signs in is held on Settings → Security."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.models import Membership
from tests.factories import PASSWORD, MembershipFactory
from tests.support.browser import Login, assert_no_serious_violations, open_members
from tests.support.twofactor import give_authenticator_app, give_passkey


@pytest.fixture
def member_page(browser: Browser, browser_context_args: dict) -> Iterator[Page]:
    """A second browser: the member's."""
    context = browser.new_context(**browser_context_args)
    yield context.new_page()
    context.close()


def test_an_owner_requires_two_factor_and_a_member_without_it_is_held_on_security(
    login: Login,
    owner: Membership,
    member: Membership,
    member_page: Page,
    live_server,  # noqa: ANN001
) -> None:
    enrolled = MembershipFactory(
        account=owner.account, role=Membership.Role.MEMBER, user__email="kim@acme.test"
    )
    give_authenticator_app(enrolled.user)
    give_passkey(enrolled.user)
    page = login(owner)
    # Given after signing in, so this session needs no second step (tested on its own).
    give_passkey(owner.user)
    open_members(page)
    members = page.get_by_role("region", name="Members")
    expect(members.get_by_role("row", name="kim@acme.test")).to_contain_text("On · 2 methods")
    expect(members.get_by_role("row", name="member@acme.test")).to_contain_text("Off")

    page.get_by_role("button", name="Require two-factor authentication").click()
    dialog = page.get_by_role("dialog", name="Require two-factor authentication?")
    expect(dialog).to_be_visible()
    not_enrolled = dialog.get_by_role("list", name="Members not enrolled yet")
    expect(not_enrolled.get_by_role("listitem")).to_have_text(["member@acme.test"])
    assert_no_serious_violations(page, "the requirement's confirmation")
    dialog.get_by_role("button", name="Require two-factor authentication").click()
    expect(page.get_by_text("Acme Voice now requires two-factor authentication.")).to_be_visible()
    expect(
        page.get_by_role("region", name="Two-factor authentication").get_by_text("Required")
    ).to_be_visible()

    held = member_page
    held.goto(f"{live_server.url}/login/")
    held.get_by_label("Email").fill(member.user.email)
    held.get_by_label("Password").fill(PASSWORD)
    held.get_by_role("button", name="Log in").click()
    expect(held.get_by_role("heading", name="Security", level=1)).to_be_visible()
    expect(held.get_by_text("Acme Voice requires two-factor authentication.")).to_be_visible()
    assert_no_serious_violations(held, "the Security page of a held member")

    held.get_by_role("navigation").get_by_role("link", name="API Keys").click()
    expect(held.get_by_role("heading", name="Security", level=1)).to_be_visible()
    assert held.url == f"{live_server.url}/settings/security/"
    held.goto(f"{live_server.url}/settings/api-keys/")
    assert held.url == f"{live_server.url}/settings/security/"
    expect(held.get_by_role("heading", name="API Keys")).to_have_count(0)


def test_without_javascript_the_confirmation_is_a_page(
    login_without_javascript: Login, owner: Membership, member: Membership
) -> None:
    page = login_without_javascript(owner)
    give_authenticator_app(owner.user)
    open_members(page)
    page.get_by_role("button", name="Require two-factor authentication").click()
    expect(page.get_by_role("heading", name="Require two-factor authentication?")).to_be_visible()
    expect(
        page.get_by_role("list", name="Members not enrolled yet").get_by_role("listitem")
    ).to_have_text(["member@acme.test"])
    page.get_by_role("button", name="Require two-factor authentication").click()
    expect(page.get_by_text("Acme Voice now requires two-factor authentication.")).to_be_visible()
