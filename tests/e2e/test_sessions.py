"""Settings -> Security's sessions in Chromium: one person in two browsers, one ends the other."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.models import Membership
from tests.factories import PASSWORD


@pytest.fixture
def other_page(browser: Browser, browser_context_args: dict) -> Iterator[Page]:
    """A second browser: its own context, so its own cookies."""
    context = browser.new_context(**browser_context_args)
    yield context.new_page()
    context.close()


@pytest.fixture
def signed_in_twice(page: Page, other_page: Page, live_server, owner: Membership) -> None:  # noqa: ANN001
    """The owner signed in in the other browser first, then in this one."""
    for browser_page in (other_page, page):
        browser_page.goto(f"{live_server.url}/login/")
        browser_page.get_by_label("Email").fill(owner.user.email)
        browser_page.get_by_label("Password").fill(PASSWORD)
        browser_page.get_by_role("button", name="Log in").click()
        expect(browser_page.get_by_role("heading", name="Dashboard")).to_be_visible()


@pytest.mark.usefixtures("signed_in_twice")
def test_signing_out_the_other_browser_sends_it_to_the_login_page(
    page: Page,
    other_page: Page,
    live_server,  # noqa: ANN001
) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Security").click()
    sessions = page.get_by_role("region", name="Sessions")
    rows = sessions.get_by_role("row")
    expect(rows).to_have_count(3)  # the header and two sessions
    this_row = rows.filter(has_text="This session")
    expect(this_row).to_have_count(1)
    expect(this_row.get_by_role("button", name="Sign out")).to_have_count(0)
    expect(sessions.get_by_role("cell", name="127.0.0.1", exact=True)).to_have_count(2)

    sessions.get_by_role("button", name="Sign out", exact=False).filter(
        has_not_text="all other"
    ).click()

    expect(page.get_by_role("status")).to_contain_text("The session was signed out.")
    expect(page.get_by_role("region", name="Sessions").get_by_role("row")).to_have_count(2)
    expect(sessions.get_by_role("button", name="Sign out all other sessions")).to_have_count(0)
    other_page.goto(f"{live_server.url}/settings/api-keys/")
    expect(other_page).to_have_url(f"{live_server.url}/login/?next=/settings/api-keys/")
    page.goto(f"{live_server.url}/settings/api-keys/")
    expect(page.get_by_role("heading", name="API Keys", level=1)).to_be_visible()


@pytest.mark.usefixtures("signed_in_twice")
def test_sign_out_all_other_sessions_keeps_this_browser(
    page: Page,
    other_page: Page,
    live_server,  # noqa: ANN001
) -> None:
    page.goto(f"{live_server.url}/settings/security/")

    page.get_by_role("button", name="Sign out all other sessions").click()

    expect(page.get_by_role("status")).to_contain_text("1 other session was signed out.")
    other_page.reload()
    expect(other_page.get_by_role("heading", name="Log in")).to_be_visible()
