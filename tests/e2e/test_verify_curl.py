"""Step 6 of the guide, verbatim: copy the curl command from the reveal and run it."""

from __future__ import annotations

import json
import subprocess

from playwright.sync_api import Page, expect

from accounts.models import Membership
from apikeys.services import revoke_key
from tests.e2e.test_api_keys_page import Login, create_through_dialog, open_api_keys


def run_copied_command(command: str) -> tuple[int, dict]:
    result = subprocess.run(
        ["bash", "-c", command + ' -s -w "\\n%{http_code}"'],
        capture_output=True,
        text=True,
        timeout=30,
    )
    body, _, status = result.stdout.rpartition("\n")
    return int(status), json.loads(body)


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
