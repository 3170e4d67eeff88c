"""Passkeys in Chromium, with the DevTools virtual authenticator standing in for Touch ID."""

from __future__ import annotations

import re

import pytest
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import Page, expect
from pytest_django.fixtures import Settings

from accounts.models import Membership
from tests.factories import PASSWORD
from tests.support.browser import Login


def two_factor_verify_exists() -> bool:
    try:
        reverse("two_factor_verify")
    except NoReverseMatch:
        return False
    return True


def add_virtual_authenticator(page: Page) -> None:
    """A platform authenticator that keeps discoverable credentials and verifies the user."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )


def add_passkey(page: Page, live_server_url: str, name: str) -> None:
    page.goto(f"{live_server_url}/settings/security/")
    page.get_by_label("Passkey name").fill(name)
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text(f"Passkey “{name}” added.")).to_be_visible()


@pytest.fixture
def page_with_passkey(login: Login, owner: Membership, live_server) -> Page:  # noqa: ANN001
    """The owner signed in, with a virtual authenticator and a passkey "Laptop" on it."""
    page = login(owner)
    add_virtual_authenticator(page)
    add_passkey(page, live_server.url, "Laptop")
    return page


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()


def test_a_passkey_is_added_signs_in_alone_and_is_removed(
    page_with_passkey: Page,
    owner: Membership,
    live_server,  # noqa: ANN001
) -> None:
    page = page_with_passkey
    passkeys = page.get_by_role("region", name="Passkeys and security keys")
    expect(passkeys.get_by_role("cell", name="Laptop", exact=True)).to_be_visible()
    expect(passkeys.get_by_role("cell", name="Never")).to_be_visible()
    assert owner.user.passkeys.get().transports == ["internal"]

    log_out(page)
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    passkey = owner.user.passkeys.get()
    assert passkey.last_used_at is not None
    assert passkey.sign_count > 0

    page.goto(f"{live_server.url}/settings/security/")
    page.get_by_role("link", name="Remove Laptop").click()
    page.get_by_role("button", name="Remove passkey").click()
    expect(page.get_by_text("Passkey “Laptop” removed.")).to_be_visible()
    expect(page.get_by_text("No passkeys yet.")).to_be_visible()
    assert not owner.user.passkeys.exists()


def test_removing_a_passkey_asks_for_the_password_when_sudo_mode_is_stale(
    page_with_passkey: Page, settings: Settings
) -> None:
    page = page_with_passkey
    # No minute of sudo mode is fresh any more.
    settings.SUDO_MODE_MINUTES = 0

    page.get_by_role("link", name="Remove Laptop").click()
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    settings.SUDO_MODE_MINUTES = 15
    page.get_by_role("button", name="Confirm password").click()
    page.get_by_role("button", name="Remove passkey").click()
    expect(page.get_by_text("Passkey “Laptop” removed.")).to_be_visible()


def test_an_assertion_from_an_origin_the_server_does_not_expect_is_refused(
    page_with_passkey: Page, owner: Membership, settings: Settings
) -> None:
    page = page_with_passkey
    log_out(page)
    # The browser signs for its real origin; the server now expects only another one.
    settings.WEBAUTHN_ORIGINS = ["https://voxpria.example"]

    page.get_by_role("button", name="Sign in with a passkey").click()

    expect(page.get_by_text("could not be verified for this site")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login/"))
    assert owner.user.passkeys.get().last_used_at is None


def test_a_closed_passkey_prompt_says_so(page: Page, owner: Membership, live_server) -> None:  # noqa: ANN001
    # No authenticator at all: Chromium's prompt can only fail (NotAllowedError).
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    page.goto(f"{live_server.url}/login/")
    page.route(
        "**/login/passkey/options/",
        lambda route: route.fulfill(
            status=200,
            content_type="application/json",
            body='{"challenge": "AAAA", "timeout": 1000, "rpId": "localhost",'
            ' "allowCredentials": [], "userVerification": "preferred"}',
        ),
    )
    page.get_by_role("button", name="Sign in with a passkey").click()
    expect(
        page.get_by_text("The passkey prompt was closed or timed out. Try again.")
    ).to_be_visible(timeout=15000)


@pytest.mark.skipif(
    not two_factor_verify_exists(),
    reason="the second-step page (two_factor_verify) is built by the signin part; run after merge",
)
def test_a_password_then_a_passkey_signs_in(page_with_passkey: Page, owner: Membership) -> None:
    page = page_with_passkey
    log_out(page)

    page.get_by_label("Email").fill(owner.user.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile(re.escape(reverse("two_factor_verify"))))
    page.get_by_role("button", name="Use a passkey").click()

    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert owner.user.passkeys.get().last_used_at is not None
