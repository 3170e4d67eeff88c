"""Steps the browser tests share: the API Keys page, its dialogs, axe-core, the copied command."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from accounts.models import Membership
from accounts.sudo import SUDO_SESSION_KEY

# The `login` fixture (tests/e2e/conftest.py): signs the member in and returns the page.
Login = Callable[[Membership], Page]
BLOCKING_IMPACTS = {"serious", "critical"}


def open_api_keys(page: Page) -> None:
    """Step 1: Settings → API Keys in the sidebar."""
    page.get_by_role("navigation").get_by_role("link", name="API Keys").click()
    expect(page.get_by_role("heading", name="API Keys", level=1)).to_be_visible()
    # The heading shows before the deferred scripts run; a click before then would follow the
    # buttons' no-JavaScript fallback (a whole page) instead of opening the dialog.
    page.wait_for_load_state("domcontentloaded")


def open_create_dialog(page: Page) -> Locator:
    page.get_by_role("button", name="Create New API Key").first.click()
    dialog = page.get_by_role("dialog", name="Create New API Key")
    expect(dialog).to_be_visible()
    return dialog


def create_through_dialog(page: Page, name: str, scopes: list[str]) -> str:
    """Fill and submit the create form; return the key the reveal shows."""
    dialog = open_create_dialog(page)
    dialog.get_by_label("Key Name").fill(name)
    for scope in scopes:
        dialog.get_by_label(scope, exact=True).check()
    dialog.get_by_role("button", name="Create API Key").click()
    reveal = page.get_by_role("dialog", name="Your new API key")
    expect(reveal).to_be_visible()
    return reveal.get_by_label("API key", exact=True).input_value()


def key_row(page: Page, name: str) -> Locator:
    return page.get_by_role("region", name="Active keys").get_by_role("row", name=re.compile(name))


def assert_no_serious_violations(page: Page, where: str) -> None:
    results = Axe().run(page)
    violations = [
        f"{violation['id']} ({violation['impact']}): {violation['help']} "
        f"{[node['target'] for node in violation['nodes']]}"
        for violation in results.response["violations"]
        if violation["impact"] in BLOCKING_IMPACTS
    ]
    assert violations == [], f"{where}: {violations}"


def run_copied_command(command: str) -> tuple[int, dict[str, Any]]:
    """Run the reveal's curl command as a developer would; return the status and the body."""
    result = subprocess.run(
        ["bash", "-c", command + ' -s -w "\\n%{http_code}"'],
        capture_output=True,
        text=True,
        timeout=30,
    )
    body, _, status = result.stdout.rpartition("\n")
    return int(status), json.loads(body)


def open_members(page: Page) -> None:
    """Settings → Members in the sidebar."""
    page.get_by_role("navigation").get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="Members", level=1)).to_be_visible()


def confirmation_goes_stale(page: Page) -> None:
    """Move the browser session's password confirmation (sudo mode) 16 minutes into the past."""
    (cookie,) = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = SessionStore(session_key=cookie["value"])
    session[SUDO_SESSION_KEY] = (timezone.now() - timedelta(minutes=16)).timestamp()
    session.save()
