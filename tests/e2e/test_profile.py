"""Settings → Profile in the browser: reached from the sidebar, accessible, a password change."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from accounts.models import Membership
from tests.factories import PASSWORD
from tests.support.browser import Login, assert_no_serious_violations

NEW_PASSWORD = "Tr0ub4dor&3-horse-staple"


def test_changing_the_password_on_the_profile(login: Login, owner: Membership) -> None:
    page: Page = login(owner)
    page.get_by_role("navigation").get_by_role("link", name="Profile").click()
    expect(page.get_by_role("heading", name="Profile", level=1)).to_be_visible()
    assert_no_serious_violations(page, "the profile")

    password = page.get_by_role("region", name="Password")
    password.get_by_label("Current password").fill("not it")
    password.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    password.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    password.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("region", name="Password")).to_contain_text("Wrong password.")

    password = page.get_by_role("region", name="Password")
    password.get_by_label("Current password").fill(PASSWORD)
    password.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    password.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    password.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("status")).to_contain_text("Your password was changed")
    expect(page.get_by_role("heading", name="Profile", level=1)).to_be_visible()
