"""The key lifecycle in Chromium: a test key with a custom expiry, roll, edit, the activity log."""

from __future__ import annotations

import re
from datetime import timedelta

from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Membership
from apikeys.models import ApiKey
from apikeys.services import create_key
from tests.support.browser import (
    Login,
    key_row,
    open_api_keys,
    open_create_dialog,
    run_copied_command,
)


def in_words(days_ahead: int) -> tuple[str, str]:
    """The ISO date `days_ahead` from today, and how the page says it."""
    day = timezone.localdate() + timedelta(days=days_ahead)
    return day.isoformat(), f"{day.day} {day:%B %Y}"


def test_create_a_test_key_with_a_custom_expiry(login: Login, owner: Membership) -> None:
    page = login(owner)
    open_api_keys(page)
    dialog = open_create_dialog(page)
    dialog.get_by_label("Key Name").fill("Staging Server")
    dialog.get_by_label("Description").fill("staging-1, owned by QA")
    dialog.get_by_label("Test", exact=True).check()
    dialog.get_by_label("calls:read", exact=True).check()

    # 90 days is the default, and the review says the date in words.
    expect(dialog.get_by_label("Expiration")).to_have_value("90")
    expect(dialog.get_by_text(f"Expires on {in_words(90)[1]}.")).to_be_visible()
    # The date picker appears only for a custom date; "No expiration" warns in place.
    expect(dialog.get_by_label("Expiry date")).to_be_hidden()
    dialog.get_by_label("Expiration").select_option("never")
    expect(dialog.get_by_text("A key without an expiration works until")).to_be_visible()
    expect(dialog.get_by_text("Never expires.")).to_be_visible()
    dialog.get_by_label("Expiration").select_option("custom")
    expect(dialog.get_by_text("A key without an expiration works until")).to_be_hidden()
    iso, words = in_words(40)
    dialog.get_by_label("Expiry date").fill(iso)
    expect(dialog.get_by_text(f"Expires on {words}.")).to_be_visible()

    dialog.get_by_role("button", name="Create API Key").click()
    reveal = page.get_by_role("dialog", name="Your new API key")
    expect(reveal.get_by_text(f"Expires on {words}.")).to_be_visible()
    secret = reveal.get_by_label("API key", exact=True).input_value()
    assert secret.startswith("vxp_test_")
    reveal.get_by_role("button", name="Copy", exact=True).click()
    reveal.get_by_role("button", name="Done").click()

    row = key_row(page, "Staging Server")
    expect(row.get_by_text("Test", exact=True)).to_be_visible()
    expect(row).to_contain_text("staging-1, owned by QA")
    key = ApiKey.objects.get()
    # The key stops at the start of that day: 39 to 40 days from now, by the time of day.
    days_left = round((key.expires_at - timezone.now()).total_seconds() / 86400)
    assert days_left in (39, 40)
    expect(row).to_contain_text(f"Expires in {days_left} days")
    assert (key.environment, key.description) == ("test", "staging-1, owned by QA")


def test_roll_a_key_and_use_both_during_the_grace_period(login: Login, owner: Membership) -> None:
    old = create_key(account=owner.account, user=owner.user, name="Main App", scopes=["calls:read"])
    page = login(owner)
    open_api_keys(page)
    key_row(page, "Main App").get_by_role("button", name="Roll").click()
    dialog = page.get_by_role("dialog", name="Roll “Main App”?")
    expect(dialog.get_by_label("In 24 hours")).to_be_checked()
    dialog.get_by_label("In 1 hour").check()
    dialog.get_by_role("button", name="Roll API Key").click()

    reveal = page.get_by_role("dialog", name="Your new API key")
    expect(reveal).to_contain_text("was rolled")
    # The same not-copied guard as a new key.
    reveal.get_by_role("button", name="Done").click()
    expect(reveal.get_by_text("You haven't copied the key.")).to_be_visible()
    reveal.get_by_role("button", name="Go back to the key").click()
    reveal.get_by_role("button", name="Copy command").click()
    command = page.evaluate("navigator.clipboard.readText()")
    new_secret = reveal.get_by_label("API key", exact=True).input_value()
    assert new_secret in command and new_secret != old.secret

    status, body = run_copied_command(command)
    assert (status, body["balance"]) == (200, 5000)
    status, _ = run_copied_command(command.replace(new_secret, old.secret))
    assert status == 200  # the old key still works during its grace period

    reveal.get_by_role("button", name="Done").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    rows = page.get_by_role("region", name="Active keys").get_by_role(
        "row", name=re.compile("Main App")
    )
    # One row: the old secret shows under its successor (apikeys/_previous_secret.html).
    expect(rows).to_have_count(1)
    expect(page.get_by_text("API key “Main App” rolled.")).to_be_visible()


def test_edit_a_keys_scopes(login: Login, owner: Membership) -> None:
    create_key(account=owner.account, user=owner.user, name="CRM Sync", scopes=["contacts:read"])
    page = login(owner)
    open_api_keys(page)
    key_row(page, "CRM Sync").get_by_role("button", name="Edit").click()
    dialog = page.get_by_role("dialog", name="Edit “CRM Sync”")
    expect(dialog.get_by_label("Key Name")).to_have_value("CRM Sync")
    expect(dialog.get_by_label("contacts:read", exact=True)).to_be_checked()
    dialog.get_by_label("contacts:write", exact=True).check()
    dialog.get_by_label("contacts:read", exact=True).uncheck()
    dialog.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_text("API key “CRM Sync” updated.")).to_be_visible()
    row = key_row(page, "CRM Sync")
    expect(row.get_by_text("contacts:write")).to_be_visible()
    expect(row.get_by_text("contacts:read")).to_have_count(0)
    assert ApiKey.objects.get().scopes == "contacts:write"


def test_read_and_filter_the_activity_page(
    login: Login, owner: Membership, member: Membership
) -> None:
    first = create_key(account=owner.account, user=owner.user, name="First", scopes=["calls:read"])
    create_key(account=owner.account, user=owner.user, name="Second", scopes=["calls:write"])
    page = login(owner)
    open_api_keys(page)
    key_row(page, "First").get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("dialog")).to_be_hidden()

    page.get_by_role("link", name="Activity").click()
    expect(page.get_by_role("heading", name="Activity", level=1)).to_be_visible()
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(4)  # the header and three events, newest first
    expect(rows.nth(1)).to_contain_text("Revoked")
    expect(rows.nth(1)).to_contain_text("owner@acme.test")
    expect(rows.nth(1)).to_contain_text("127.0.0.1")
    page.get_by_label("Event", exact=True).select_option("created")
    page.get_by_label("Key", exact=True).fill(first.api_key.masked_key)
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(1)).to_contain_text("Created a live key with calls:read")


def test_the_lifecycle_without_javascript(
    login_without_javascript: Login, owner: Membership
) -> None:
    page = login_without_javascript(owner)

    # Create a test key with a custom date: the date field is simply always there.
    page.get_by_role("button", name="Create New API Key").first.click()
    page.get_by_label("Key Name").fill("No Script")
    page.get_by_label("Test", exact=True).check()
    page.get_by_label("Expiration").select_option("custom")
    iso, words = in_words(30)
    page.get_by_label("Expiry date").fill(iso)
    page.get_by_label("calls:read", exact=True).check()
    page.get_by_role("button", name="Create API Key").click()
    expect(page.get_by_role("heading", name="Your new API key")).to_be_visible()
    expect(page.get_by_text(f"Expires on {words}.")).to_be_visible()
    assert page.get_by_label("API key", exact=True).input_value().startswith("vxp_test_")
    page.get_by_role("link", name="Done").click()

    # Edit, as a page.
    key_row(page, "No Script").get_by_role("button", name="Edit").click()
    page.get_by_label("calls:write", exact=True).check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("API key “No Script” updated.")).to_be_visible()

    # Roll, as a page: the old key stops now.
    key_row(page, "No Script").get_by_role("button", name="Roll").click()
    page.get_by_label("Now").check()
    page.get_by_role("button", name="Roll API Key").click()
    expect(page.get_by_role("heading", name="Your new API key")).to_be_visible()
    expect(page.get_by_text("has stopped working")).to_be_visible()
    page.get_by_role("link", name="Done").click()
    expect(key_row(page, "No Script")).to_have_count(1)

    page.get_by_role("link", name="Activity").click()
    rows = page.get_by_role("table").get_by_role("row")
    expect(rows).to_have_count(4)
    expect(rows.nth(1)).to_contain_text("Rolled")
