"""Sudo mode in Chromium: an old password confirmation is asked again, in the dialog or a page."""

from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import Membership
from accounts.sudo import SUDO_SESSION_KEY
from apikeys.models import ApiKey
from tests.factories import PASSWORD
from tests.support.browser import Login

CONFIRM = "/account/confirm-password/"


def confirmation_goes_stale(page: Page) -> None:
    """Move the session's password confirmation 16 minutes into the past."""
    (cookie,) = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = SessionStore(session_key=cookie["value"])
    session[SUDO_SESSION_KEY] = (timezone.now() - timedelta(minutes=16)).timestamp()
    session.save()


def test_the_dialog_asks_for_the_password_then_shows_the_create_form(
    login: Login, owner: Membership
) -> None:
    page = login(owner)
    page.get_by_role("navigation").get_by_role("link", name="API Keys").click()
    confirmation_goes_stale(page)

    page.get_by_role("button", name="Create New API Key").first.click()
    dialog = page.get_by_role("dialog", name="Confirm your password")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Password", exact=True)).to_be_focused()

    dialog.get_by_label("Password", exact=True).fill("not my password")
    dialog.get_by_role("button", name="Confirm password").click()
    expect(dialog.get_by_text("Wrong password. Try again.")).to_be_visible()
    expect(dialog.get_by_label("Password", exact=True)).to_be_focused()

    dialog.get_by_label("Password", exact=True).fill(PASSWORD)
    dialog.get_by_role("button", name="Confirm password").click()
    create = page.get_by_role("dialog", name="Create New API Key")
    expect(create).to_be_visible()
    expect(create.get_by_label("Key Name")).to_be_focused()
    # Still the same page, with the form's script-driven parts working.
    expect(page).to_have_url(re.compile(r"/settings/api-keys/$"))
    expect(create.get_by_label("Expiry date")).to_have_count(1)
    expect(create.get_by_label("Expiry date")).to_be_hidden()

    create.get_by_label("Key Name").fill("After Sudo")
    create.get_by_label("calls:read", exact=True).check()
    create.get_by_role("button", name="Create API Key").click()
    expect(page.get_by_role("dialog", name="Your new API key")).to_be_visible()
    assert ApiKey.objects.get().name == "After Sudo"


def test_cancel_closes_the_password_dialog(login: Login, owner: Membership) -> None:
    page = login(owner)
    page.get_by_role("navigation").get_by_role("link", name="API Keys").click()
    confirmation_goes_stale(page)
    page.get_by_role("button", name="Create New API Key").first.click()
    dialog = page.get_by_role("dialog", name="Confirm your password")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(page.get_by_role("button", name="Create New API Key").first).to_be_focused()


def test_the_lockout_shows_in_the_dialog(login: Login, owner: Membership) -> None:
    page = login(owner)
    page.get_by_role("navigation").get_by_role("link", name="API Keys").click()
    confirmation_goes_stale(page)
    page.get_by_role("button", name="Create New API Key").first.click()
    dialog = page.get_by_role("dialog", name="Confirm your password")
    for attempt in range(5):
        dialog.get_by_label("Password", exact=True).fill(f"guess {attempt}")
        # One answer at a time: the next guess goes into the form that answer brings.
        with page.expect_response(lambda response: response.url.endswith(CONFIRM)):
            dialog.get_by_role("button", name="Confirm password").click()

    locked = page.get_by_role("dialog", name="Too many attempts")
    expect(locked).to_contain_text("Try again after")
    locked.get_by_role("button", name="Close").last.click()
    expect(locked).to_be_hidden()


def test_without_javascript_a_page_asks_for_the_password_then_returns(
    login_without_javascript: Login, owner: Membership
) -> None:
    page = login_without_javascript(owner)
    confirmation_goes_stale(page)

    page.get_by_role("button", name="Create New API Key").first.click()
    expect(page.get_by_role("heading", name="Confirm your password", level=1)).to_be_visible()
    page.get_by_label("Password", exact=True).fill("not my password")
    page.get_by_role("button", name="Confirm password").click()
    expect(page.get_by_text("Wrong password. Try again.")).to_be_visible()

    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Confirm password").click()
    expect(page.get_by_role("heading", name="Create New API Key")).to_be_visible()
    assert page.url.endswith("/settings/api-keys/new/")
    page.get_by_label("Key Name").fill("No Script Sudo")
    page.get_by_label("calls:read", exact=True).check()
    page.get_by_role("button", name="Create API Key").click()
    expect(page.get_by_role("heading", name="Your new API key")).to_be_visible()
    assert ApiKey.objects.get().name == "No Script Sudo"
