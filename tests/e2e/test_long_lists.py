"""Long lists in Chromium: the key list's search and pages, the expired and revoked keys fetched
when their section opens, the activity log's Older and Newer, and its key search suggesting."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from accounts.models import Membership
from activity.paging import EVENTS_PER_PAGE
from apikeys.views import KEYS_PER_PAGE
from tests.support.browser import Login
from tests.support.scale import grow


def test_the_key_list_searches_and_pages(
    page: Page,
    login: Login,
    owner: Membership,
    live_server,  # noqa: ANN001
) -> None:
    grow(owner, keys=KEYS_PER_PAGE + 2, revoked=1)
    login(owner)
    page.goto(f"{live_server.url}/settings/api-keys/")
    active = page.get_by_role("region", name="Active keys")
    expect(active.locator("tr.key-row")).to_have_count(KEYS_PER_PAGE)
    page.get_by_role("link", name="Next").click()
    expect(active.locator("tr.key-row")).to_have_count(2)
    page.get_by_role("link", name="Previous").click()
    page.get_by_label("Find a key").fill("Key 01")
    page.get_by_role("button", name="Search").click()
    expect(active.locator("tr.key-row")).to_have_count(10)
    expect(active.get_by_role("link", name="Key 015", exact=True)).to_be_visible()
    # The revoked key's row comes when its section is opened.
    inactive = page.locator("#inactive-keys")
    expect(inactive.locator("tr.key-row")).to_have_count(0)
    page.get_by_text("Expired and revoked keys (1)").click()
    expect(inactive.locator("tr.key-row")).to_have_count(1)
    expect(inactive.get_by_text("Revoked", exact=True).first).to_be_visible()


def test_the_activity_log_goes_older_and_newer_and_suggests_keys(
    page: Page,
    login: Login,
    owner: Membership,
    live_server,  # noqa: ANN001
) -> None:
    grow(owner, keys=3, edits=EVENTS_PER_PAGE)
    login(owner)
    page.goto(f"{live_server.url}/settings/api-keys/activity/")
    rows = page.locator(".activity-table tbody tr")
    expect(rows).to_have_count(EVENTS_PER_PAGE)
    page.get_by_role("link", name="Older").click()
    expect(rows).to_have_count(3)
    expect(page.get_by_role("link", name="Older")).to_have_count(0)
    page.get_by_role("link", name="Newer").click()
    expect(rows).to_have_count(EVENTS_PER_PAGE)
    expect(page.get_by_role("link", name="Newer")).to_have_count(0)
    # The key box suggests the account's keys as one types, and filters by the one chosen.
    box = page.get_by_label("Key", exact=True)
    box.fill("Key")
    expect(page.locator("#activity-key-options option")).to_have_count(3)
    box.fill("Key 002")
    expect(page.locator("#activity-key-options option")).to_have_count(1)
    value = page.locator("#activity-key-options option").first.get_attribute("value")
    assert value is not None and value.startswith("vxp_live_")
    box.fill(value)
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(box).to_have_value(value)
