"""The signed-in pages from 320 to 1920 px: nothing scrolls sideways, every action is in reach."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect

from apikeys.models import ApiKey, KeyClient
from apikeys.scopes import SCOPE_NAMES
from apikeys.services import create_key, revoke_key

PHONE = {"width": 375, "height": 740}


def fits_horizontally(page: Page, selector: str) -> bool:
    return page.eval_on_selector(selector, "el => el.scrollWidth <= el.clientWidth")


def test_phone_width_create_dialog_and_key_list_fit(page: Page, live_server, owner, login) -> None:
    page.set_viewport_size(PHONE)
    login(owner)
    page.goto(f"{live_server.url}/settings/api-keys/")
    page.get_by_role("button", name="Create New API Key").first.click()
    dialog = page.get_by_role("dialog", name="Create New API Key")
    dialog.get_by_label("Key Name").fill("Phone")
    dialog.get_by_label("webhooks:manage", exact=True).check()
    assert fits_horizontally(page, "dialog[open]")
    dialog.get_by_role("button", name="Create API Key").click()
    reveal = page.get_by_role("dialog", name="Your new API key")
    expect(reveal.get_by_role("button", name="Copy", exact=True)).to_be_visible()
    assert fits_horizontally(page, "dialog[open]")
    reveal.get_by_role("button", name="Copy", exact=True).click()
    reveal.get_by_role("button", name="Done").click()
    expect(page.get_by_role("region", name="Active keys")).to_contain_text("Phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


# 1440: the narrowest common window where the key list is a table.
WIDTHS = [320, 375, 768, 1024, 1280, 1440, 1920]
LONG_NAME = "CRM Connector – Salesforce production, EU region, owned by sales engineering"

# Text nodes in `root` holding a word (letters only) laid out over more than one line.
BROKEN_WORDS = """root => {
  const broken = [];
  const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  while (walker.nextNode()) {
    const node = walker.currentNode;
    for (const match of node.data.matchAll(/[A-Za-z]{2,}/g)) {
      range.setStart(node, match.index);
      range.setEnd(node, match.index + match[0].length);
      const lines = new Set(
        Array.from(range.getClientRects()).filter(r => r.width > 0).map(r => Math.round(r.top))
      );
      if (lines.size > 1) broken.push(match[0]);
    }
  }
  return broken;
}"""
# Elements that scroll sideways inside the page (a table wider than its card, say).
SIDEWAYS_SCROLLERS = """root => Array.from(root.querySelectorAll("*")).filter(el => {
  const overflow = getComputedStyle(el).overflowX;
  return (overflow === "auto" || overflow === "scroll") && el.scrollWidth > el.clientWidth + 1;
}).map(el => el.className || el.tagName)"""


def assert_fits(page: Page, width: int, where: str) -> None:
    """Nothing scrolls sideways, the page or anything in it, and no word is broken."""
    assert page.evaluate("document.documentElement.scrollWidth") <= width, where
    main = page.locator("main")
    assert main.evaluate(SIDEWAYS_SCROLLERS) == [], where
    assert main.evaluate(BROKEN_WORDS) == [], where


def assert_clickable(page: Page, button: Locator, width: int) -> None:
    """Visible, inside the window's width, and the topmost thing where a click would land."""
    expect(button).to_be_visible()
    button.click(trial=True)
    box = button.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_and_every_action_is_reachable(
    page: Page, live_server, owner, login, width: int
) -> None:
    everything = create_key(
        account=owner.account,
        user=owner.user,
        name=LONG_NAME,
        description="crm-1 in eu-west, owned by sales engineering",
        scopes=list(SCOPE_NAMES),
        allowed_ips="203.0.113.0/24 198.51.100.7",
    ).api_key
    ApiKey.objects.filter(pk=everything.pk).update(last_used_at=timezone.now())
    create_key(
        account=owner.account,
        user=owner.user,
        name="Staging",
        scopes=["calls:read"],
        environment="test",
    )
    retired = create_key(
        account=owner.account, user=owner.user, name="Retired", scopes=["contacts:read"]
    ).api_key
    revoke_key(key=retired, user=owner.user)
    KeyClient.objects.create(
        api_key=everything,
        ip_address="198.51.100.7",
        first_seen=timezone.now() - timedelta(days=2),
        last_seen=timezone.now(),
        user_agent="Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko)",
        requests=1_204,
    )

    page.set_viewport_size({"width": width, "height": 900})
    login(owner)
    assert_fits(page, width, "the dashboard")

    page.goto(f"{live_server.url}/settings/api-keys/")
    page.get_by_text("Expired and revoked keys (1)").click()
    active = page.get_by_role("region", name="Active keys")
    # Table or cards, every value keeps its label in sight: a column header or its own.
    expect(active.get_by_text("Last used", exact=True).filter(visible=True).first).to_be_visible()
    # From 768 px the table (with its column headers), below it labelled cards.
    expect(active.get_by_role("columnheader", name="Last used")).to_be_visible(visible=width >= 768)
    # Mid widths fold the three buttons into each key's ⋯ menu.
    in_menu = 768 <= width < 1280
    for key_name in (LONG_NAME, "Staging"):
        if in_menu:
            menu_button = page.get_by_role("button", name=f"Actions for {key_name}")
            assert_clickable(page, menu_button, width)
            menu_button.click()
            menu = page.get_by_role("menu", name=f"Actions for {key_name}")
            for action in ("Edit", "Roll", "Revoke"):
                assert_clickable(page, menu.get_by_role("menuitem", name=action), width)
            page.keyboard.press("Escape")
            continue
        for action in ("Edit", "Roll", "Revoke"):
            assert_clickable(page, page.get_by_role("button", name=f"{action} {key_name}"), width)
    name_link = active.get_by_role("link", name=LONG_NAME)
    expect(name_link).to_have_attribute("title", LONG_NAME)
    assert_fits(page, width, "the key list")

    name_link.click()
    expect(page.get_by_role("heading", name=LONG_NAME, level=1)).to_be_visible()
    for action in ("Edit", "Roll", "Revoke"):
        assert_clickable(page, page.get_by_role("button", name=f"{action} {LONG_NAME}"), width)
    assert_fits(page, width, "the key's page")

    page.goto(f"{live_server.url}/settings/api-keys/activity/")
    expect(page.get_by_role("heading", name="Activity", level=1)).to_be_visible()
    assert_fits(page, width, "the activity page")
