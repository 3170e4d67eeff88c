"""Every error at once, in Chromium: one submit shows all of a form's problems, with a summary
that takes the focus and links to each field; the allowlist is checked as it loses focus."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import Membership
from apikeys.models import ApiKey
from tests.support.browser import Login


def open_create_page(page: Page, live_server: LiveServer) -> None:
    page.goto(f"{live_server.url}/settings/api-keys/new/")
    expect(page.get_by_role("heading", name="Create New API Key")).to_be_visible()
    page.wait_for_load_state("domcontentloaded")


def test_a_create_with_three_bad_fields_shows_three_errors_in_one_submit(
    login: Login, owner: Membership, live_server: LiveServer
) -> None:
    page = login(owner)
    open_create_page(page, live_server)
    page.get_by_label("Key Name").fill("CRM sync")
    page.get_by_label("Expiration").select_option("custom")
    page.get_by_label("Allowed IP addresses").fill("10.0.0.300")
    page.get_by_role("button", name="Create API Key").click()

    summary = page.get_by_role("group", name="Fix these 3 problems to continue")
    expect(summary).to_be_focused()
    links = summary.get_by_role("link")
    expect(links).to_have_text(
        [
            "Expiration: Pick the date the key should expire on.",
            "Permission Scopes: Choose at least one permission scope.",
            "Allowed IP addresses: Not an IP address or range: “10.0.0.300”. Use addresses such "
            "as 203.0.113.7 or 2001:db8::7, or CIDR ranges such as 203.0.113.0/24.",
        ]
    )
    links.nth(1).click()
    expect(page.get_by_label("calls:read", exact=True)).to_be_focused()
    assert not ApiKey.objects.exists()


def test_an_allowlist_entry_is_checked_as_the_field_loses_focus(
    login: Login, owner: Membership, live_server: LiveServer
) -> None:
    page = login(owner)
    open_create_page(page, live_server)
    field = page.get_by_label("Allowed IP addresses")
    field.fill("203.0.113.0/24\n2001:db8::/32\n198.51.100.999")
    field.press("Tab")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(
        "Not an IP address or range: “198.51.100.999”. Use addresses such as 203.0.113.7 or "
        "2001:db8::7, or CIDR ranges such as 203.0.113.0/24."
    )
    field.fill("203.0.113.0/24\n2001:db8::/32")
    field.press("Tab")
    expect(field).not_to_have_attribute("aria-invalid", "true")
    expect(page.get_by_text("Not an IP address or range")).to_have_count(0)


def test_the_review_follows_environment_and_allowlist_and_the_reveal_says_where_to_verify(
    login: Login, owner: Membership, live_server: LiveServer
) -> None:
    page = login(owner)
    open_create_page(page, live_server)
    review = page.get_by_role("region", name="Review")
    expect(review).to_contain_text("A live key: it works with your real data")
    expect(review).to_contain_text("Expires on")
    expect(review).to_contain_text("Works from any IP address.")
    expect(review).to_contain_text("requests per second: the account's rate limit for each key.")

    page.get_by_label("Key Name").fill("Office Dialer")
    page.get_by_label("Test", exact=True).check()
    page.get_by_label("calls:read", exact=True).check()
    page.get_by_label("Allowed IP addresses").fill("203.0.113.0/24")
    expect(review).to_contain_text("A test key: it sees only test data")
    expect(review).to_contain_text("Works only from 203.0.113.0/24.")
    page.get_by_role("button", name="Create API Key").click()

    verify = page.get_by_role("region", name="Verify it works")
    expect(verify).to_contain_text(
        "This key only works from 203.0.113.0/24: run the check from one of those machines."
    )


def test_the_revealed_key_fits_a_375_px_phone(
    login: Login, owner: Membership, live_server: LiveServer
) -> None:
    page = login(owner)
    page.set_viewport_size({"width": 375, "height": 740})
    open_create_page(page, live_server)
    page.get_by_label("Key Name").fill("Phone")
    page.get_by_label("calls:read", exact=True).check()
    page.get_by_role("button", name="Create API Key").click()
    key = page.get_by_label("API key", exact=True)
    expect(key).to_have_value(re.compile("^vxp_live_"))
    # Every character in view: nothing to scroll inside the field, nothing past the screen.
    assert key.evaluate(
        "el => el.scrollWidth <= el.clientWidth && el.scrollHeight <= el.clientHeight"
    )
    assert key.evaluate("el => el.getBoundingClientRect().right") <= 375


def test_without_javascript_the_review_updates_on_the_server_round_trip(
    login_without_javascript: Login, owner: Membership
) -> None:
    page = login_without_javascript(owner)
    page.get_by_role("button", name="Create New API Key").first.click()
    review = page.get_by_role("region", name="Review")
    expect(review.get_by_text("Tick at least one scope")).to_be_visible()
    page.get_by_label("calls:read", exact=True).check()
    # The name is still empty: the review needs none (the button skips the browser's check).
    page.get_by_role("button", name="Update the review").click()
    expect(review.get_by_text("Tick at least one scope")).to_be_hidden()
    expect(review.get_by_role("listitem")).to_have_text(["see your calls and their outcomes"])
    expect(page.get_by_label("calls:read", exact=True)).to_be_checked()
    assert not ApiKey.objects.exists()
