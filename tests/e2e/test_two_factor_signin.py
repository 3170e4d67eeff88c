"""Signing in with a second factor in Chromium: the password, then the code."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import Membership
from accounts.sudo import SUDO_SESSION_KEY
from accounts.twofactor.factors import issue_recovery_codes
from tests.factories import PASSWORD
from tests.support.twofactor import give_authenticator_app, totp_code


def sign_in_with_password(page: Page, live_server, membership: Membership) -> None:  # noqa: ANN001
    page.goto(f"{live_server.url}/settings/api-keys/")
    page.get_by_label("Email").fill(membership.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Two-factor authentication")).to_be_visible()


def test_the_password_then_the_authenticator_code_reach_the_page_asked_for(
    page: Page, live_server, owner: Membership
) -> None:
    device = give_authenticator_app(owner.user)
    sign_in_with_password(page, live_server, owner)
    code = page.get_by_label("6-digit code")
    expect(code).to_be_focused()

    code.fill("000000" if totp_code(device) != "000000" else "111111")
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_text("That code is not right, or was already used.")).to_be_visible()

    page.get_by_label("6-digit code").fill(totp_code(device))
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_role("heading", name="API Keys", level=1)).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/settings/api-keys/")


def test_a_recovery_code_signs_in(page: Page, live_server, owner: Membership) -> None:
    give_authenticator_app(owner.user)
    codes = issue_recovery_codes(owner.user)
    sign_in_with_password(page, live_server, owner)
    page.get_by_text("Use a recovery code").click()
    page.get_by_label("Recovery code").fill(codes[0])
    page.get_by_role("button", name="Verify with recovery code").click()
    expect(page.get_by_role("heading", name="API Keys", level=1)).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You have 9 left")


def test_cancel_signs_out(page: Page, live_server, owner: Membership) -> None:
    give_authenticator_app(owner.user)
    sign_in_with_password(page, live_server, owner)
    page.get_by_role("button", name="Cancel and sign out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")


def test_sudo_mode_takes_an_authenticator_code_in_the_dialog(
    page: Page, live_server, owner: Membership
) -> None:
    device = give_authenticator_app(owner.user)
    sign_in_with_password(page, live_server, owner)
    page.get_by_label("6-digit code").fill(totp_code(device))
    page.get_by_role("button", name="Verify", exact=True).click()
    expect(page.get_by_role("heading", name="API Keys", level=1)).to_be_visible()
    (cookie,) = [c for c in page.context.cookies() if c["name"] == settings.SESSION_COOKIE_NAME]
    session = SessionStore(session_key=cookie["value"])
    session[SUDO_SESSION_KEY] = (timezone.now() - timedelta(minutes=16)).timestamp()
    session.save()

    page.get_by_role("button", name="Create New API Key").first.click()
    dialog = page.get_by_role("dialog", name="Confirm your password")
    expect(dialog.get_by_label("Password", exact=True)).to_be_focused()
    dialog.get_by_text("Use your authenticator app instead").click()
    # The code just used to sign in is spent: the app's next one.
    dialog.get_by_label("6-digit code").fill(totp_code(device, steps=1))
    dialog.get_by_role("button", name="Confirm with code").click()
    create = page.get_by_role("dialog", name="Create New API Key")
    expect(create.get_by_label("Key Name")).to_be_focused()
