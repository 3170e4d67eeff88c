"""Step 6 of the guide, verbatim: copy the curl command from the reveal and run it."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from accounts.models import Membership
from apikeys.services import revoke_key
from tests.support.browser import Login, create_through_dialog, open_api_keys, run_copied_command


def test_copied_curl_command_returns_the_balance(
    login: Login, owner: Membership, page: Page
) -> None:
    login(owner)
    open_api_keys(page)
    secret = create_through_dialog(page, "Development Environment", ["calls:read"])
    reveal = page.get_by_role("dialog", name="Your new API key")

    reveal.get_by_role("button", name="Copy command").click()
    expect(reveal.get_by_role("button", name="Command copied")).to_be_visible()
    command = page.evaluate("navigator.clipboard.readText()")
    assert command.startswith("curl -X GET ") and secret in command

    status, body = run_copied_command(command)
    assert status == 200
    assert body["balance"] == 5000

    revoke_key(key=owner.account.api_keys.get(), user=owner.user)
    status, body = run_copied_command(command)
    assert status == 401
    assert body["error"]["code"] == "revoked_api_key"
