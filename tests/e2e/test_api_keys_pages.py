"""The same flow as whole pages: without JavaScript, and from a direct link to a dialog's URL."""

from __future__ import annotations

from playwright.sync_api import expect

from accounts.models import Membership
from apikeys.keys import key_digest, masked_key
from apikeys.models import ApiKey
from tests.support.browser import Login


def test_without_javascript_every_step_is_a_page(
    login_without_javascript: Login, owner: Membership
) -> None:
    page = login_without_javascript(owner)

    page.get_by_role("button", name="Create New API Key").first.click()
    expect(page.get_by_role("heading", name="Create New API Key")).to_be_visible()
    expect(page.get_by_role("dialog")).to_have_count(0)
    page.get_by_label("Key Name").fill("No Script")
    page.get_by_role("button", name="Create API Key").click()
    expect(page.get_by_text("Choose at least one permission scope.", exact=True)).to_be_visible()
    page.get_by_label("calls:read", exact=True).check()
    page.get_by_role("button", name="Create API Key").click()

    expect(page.get_by_role("heading", name="Your new API key")).to_be_visible()
    # No Copy button without JavaScript: the read-only field is there to select and copy.
    expect(page.get_by_role("button", name="Copy", exact=True)).to_have_count(0)
    secret = page.get_by_label("API key", exact=True).input_value()
    assert ApiKey.objects.get().key_digest == key_digest(secret)
    page.get_by_role("link", name="Done").click()

    row = page.get_by_role("row", name="No Script")
    expect(row).to_contain_text(masked_key(secret))
    assert secret not in page.content()
    row.get_by_role("button", name="Revoke").click()
    expect(page.get_by_role("heading", name="Revoke “No Script”?")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    assert ApiKey.objects.get().is_active
    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("status")).to_contain_text("API key “No Script” revoked.")
    assert not ApiKey.objects.get().is_active


def test_a_direct_link_to_the_form_works_as_a_page_with_copy(
    login: Login, owner: Membership, live_server
) -> None:  # noqa: ANN001
    page = login(owner)
    page.goto(f"{live_server.url}/settings/api-keys/new/")
    page.get_by_label("Key Name").fill("Direct Link")
    page.get_by_label("contacts:read", exact=True).check()
    page.get_by_role("button", name="Create API Key").click()
    secret = page.get_by_label("API key", exact=True).input_value()
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.get_by_role("button", name="Copied", exact=True)).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
