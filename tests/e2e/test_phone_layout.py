"""The signed-in pages at phone and tablet widths: nothing needs sideways scrolling."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from apikeys.scopes import SCOPE_NAMES
from apikeys.services import create_key

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


@pytest.mark.parametrize("width", [375, 768, 1024, 1280])
def test_every_key_action_is_visible_without_sideways_scrolling(
    page: Page, live_server, owner, login, width: int
) -> None:
    create_key(
        account=owner.account,
        user=owner.user,
        name="CRM Connector – Salesforce",
        description="crm-1 in eu-west, owned by sales engineering",
        scopes=list(SCOPE_NAMES),
        allowed_ips="203.0.113.0/24 198.51.100.7",
    )
    page.set_viewport_size({"width": width, "height": 900})
    login(owner)
    page.goto(f"{live_server.url}/settings/api-keys/")
    for action in ("Edit", "Roll", "Revoke"):
        button = page.get_by_role("button", name=f"{action} CRM Connector – Salesforce")
        expect(button).to_be_in_viewport()
    assert page.evaluate("document.documentElement.scrollWidth") <= width
