"""Settings → API Keys with the keyboard alone, and axe-core's check in light and dark mode."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from accounts.models import Membership
from apikeys.models import ApiKey
from apikeys.services import create_key, revoke_key
from tests.support.browser import Login, assert_no_serious_violations

# Both colour schemes the stylesheet follows (prefers-color-scheme); axe checks contrast in each.
COLOR_SCHEMES = ["light", "dark"]


def tab_to(page: Page, target: Locator, *, limit: int = 40) -> None:
    """Press Tab until `target` has the focus, as a keyboard user would."""
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


def test_create_copy_and_revoke_with_the_keyboard_alone(login: Login, owner: Membership) -> None:
    page = login(owner)
    page.goto(page.url.rstrip("/") + "/settings/api-keys/")
    page.keyboard.press("Tab")  # into the page, from the address bar

    create = page.get_by_role("button", name="Create New API Key").first
    tab_to(page, create)
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog", name="Create New API Key")
    expect(dialog.get_by_label("Key Name")).to_be_focused()
    page.keyboard.type("Keyboard Only")

    tab_to(page, dialog.get_by_label("calls:read", exact=True))
    page.keyboard.press("Space")
    expect(dialog.get_by_role("region", name="Review")).to_contain_text(
        "see your calls and their outcomes"
    )
    tab_to(page, dialog.get_by_role("button", name="Create API Key"))
    page.keyboard.press("Enter")

    reveal = page.get_by_role("dialog", name="Your new API key")
    copy = reveal.get_by_role("button", name="Copy", exact=True)
    expect(copy).to_be_focused()
    secret = reveal.get_by_label("API key", exact=True).input_value()
    page.keyboard.press("Enter")
    expect(reveal.get_by_role("button", name="Copied", exact=True)).to_be_focused()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    # The page behind the modal dialog is inert: Tab cycles through the dialog (and, past its
    # last control, the browser's own UI, where document.activeElement is the body).
    for _ in range(8):
        page.keyboard.press("Tab")
        assert reveal.evaluate(
            "dialog => dialog.contains(document.activeElement)"
            " || document.activeElement === document.body"
        )

    tab_to(page, reveal.get_by_role("button", name="Done"))
    page.keyboard.press("Enter")
    expect(reveal).to_be_hidden()
    expect(create).to_be_focused()

    revoke = page.get_by_role("row", name="Keyboard Only").get_by_role("button", name="Revoke")
    tab_to(page, revoke)
    page.keyboard.press("Enter")
    confirm = page.get_by_role("dialog", name="Revoke “Keyboard Only”?")
    # Cancel, the safe choice, has the focus; Esc closes and gives the focus back.
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    page.keyboard.press("Escape")
    expect(confirm).to_be_hidden()
    expect(revoke).to_be_focused()

    page.keyboard.press("Enter")
    tab_to(page, confirm.get_by_role("button", name="Revoke key"))
    page.keyboard.press("Enter")
    expect(confirm).to_be_hidden()
    # The revoked key's button is gone, so the focus lands on the list, not on the page body.
    expect(page.get_by_role("heading", name="Active keys")).to_be_focused()
    assert ApiKey.objects.get(name="Keyboard Only").revoked_at is not None


@pytest.mark.parametrize("scheme", COLOR_SCHEMES)
def test_page_form_and_reveal_pass_axe(
    page: Page, login: Login, owner: Membership, scheme: str
) -> None:
    page.emulate_media(color_scheme=scheme)
    for name in ("Production Server – Main App", "CRM Connector – Salesforce"):
        create_key(account=owner.account, user=owner.user, name=name, scopes=["calls:read"])
    revoked = create_key(
        account=owner.account, user=owner.user, name="Old Key", scopes=["contacts:read"]
    )
    ApiKey.objects.filter(pk=revoked.api_key.pk).update(revoked_at=revoked.api_key.created_at)

    login(owner)
    page.get_by_role("navigation").get_by_role("link", name="API Keys").click()
    page.get_by_text("Revoked keys (1)").click()
    assert_no_serious_violations(page, f"the page ({scheme})")

    page.get_by_role("button", name="Create New API Key").click()
    dialog = page.get_by_role("dialog", name="Create New API Key")
    dialog.get_by_label("Key Name").fill("   ")
    dialog.get_by_role("button", name="Create API Key").click()
    expect(dialog.get_by_text("Give the key a descriptive name.", exact=True)).to_be_visible()
    assert_no_serious_violations(page, f"the form with errors ({scheme})")

    dialog.get_by_label("Key Name").fill("Axe Check")
    dialog.get_by_label("webhooks:manage").check()
    dialog.get_by_role("button", name="Create API Key").click()
    reveal = page.get_by_role("dialog", name="Your new API key")
    expect(reveal).to_be_visible()
    assert_no_serious_violations(page, f"the reveal ({scheme})")

    reveal.get_by_role("button", name="Done").click()
    expect(reveal.get_by_text("You haven't copied the key.")).to_be_visible()
    assert_no_serious_violations(page, f"the copy guard ({scheme})")


@pytest.mark.parametrize("scheme", COLOR_SCHEMES)
def test_every_signed_in_page_passes_axe(
    page: Page, login: Login, owner: Membership, scheme: str
) -> None:
    create_key(account=owner.account, user=owner.user, name="CRM sync", scopes=["calls:read"])
    create_key(
        account=owner.account,
        user=owner.user,
        name="Staging",
        scopes=["calls:read"],
        environment="test",
        expiration="30",
    )
    old = create_key(account=owner.account, user=owner.user, name="Old", scopes=["calls:read"])
    revoke_key(key=old.api_key, user=owner.user)
    page.emulate_media(color_scheme=scheme)

    login(owner)
    # The stylesheet follows the scheme: the page's own background is light or dark.
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == {"light": "rgb(246, 247, 251)", "dark": "rgb(14, 18, 32)"}[scheme]
    assert_no_serious_violations(page, f"the dashboard ({scheme})")
    page.get_by_role("link", name="Manage API keys").click()
    page.get_by_text("Expired and revoked keys (1)").click()
    assert_no_serious_violations(page, f"the key table ({scheme})")
    page.get_by_role("link", name="CRM sync").click()
    assert_no_serious_violations(page, f"the key's page ({scheme})")
    page.goto(page.url.split("/settings/")[0] + "/settings/api-keys/activity/")
    assert_no_serious_violations(page, f"the activity page ({scheme})")

    # A phone: the key list as cards, and the navigation drawer open over the page.
    page.set_viewport_size({"width": 375, "height": 740})
    page.get_by_role("link", name="API Keys", exact=True).click()
    page.get_by_text("Expired and revoked keys (1)").click()
    assert_no_serious_violations(page, f"the key cards ({scheme})")
    page.get_by_role("button", name="Menu", exact=True).click()
    expect(page.get_by_role("button", name="Close menu")).to_be_focused()
    assert_no_serious_violations(page, f"the open drawer ({scheme})")
