"""The denser key list in Chromium: one row per key from a 768 px window, the ⋯ menu at mid
widths and buttons where they fit, every action by keyboard, the Live / Test filter, the tabs."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, Page, expect

from accounts.models import Membership
from apikeys.services import create_key
from tests.support.browser import Login, key_row, open_api_keys

INDEX = "/settings/api-keys/"

# Window widths and whether the list has room for the three buttons (else the ⋯ menu).
LAYOUTS = [(768, False), (1024, False), (1280, True), (1920, True)]


def tab_to(page: Page, target: Locator, *, limit: int = 80) -> None:
    for _ in range(limit):
        if target.evaluate("element => element === document.activeElement"):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {target}")


def seed_keys(owner: Membership) -> None:
    for name, environment in (("Main App", "live"), ("CRM sync", "live"), ("Staging", "test")):
        create_key(
            account=owner.account,
            user=owner.user,
            name=name,
            scopes=["calls:read", "contacts:read"],
            environment=environment,
        )


@pytest.mark.parametrize(("width", "buttons"), LAYOUTS, ids=[str(w) for w, _ in LAYOUTS])
def test_one_row_per_key_and_every_action_by_keyboard(
    page: Page, login: Login, owner: Membership, live_server, width: int, buttons: bool
) -> None:  # noqa: ANN001
    seed_keys(owner)
    page.set_viewport_size({"width": width, "height": 900})
    login(owner)
    # At 768 px the sidebar is a drawer: straight to the page.
    page.goto(live_server.url + INDEX)
    page.wait_for_load_state("domcontentloaded")
    active = page.get_by_role("region", name="Active keys")
    for header in ("Name", "Scopes", "Last used", "Expires"):
        expect(active.get_by_role("columnheader", name=header)).to_be_visible()
    # One row per key: name, scopes, last used and expiry side by side.
    row = key_row(page, "Main App")
    name_box = row.get_by_role("link", name="Main App").bounding_box()
    expiry_box = row.get_by_text("Expires in 90 days").bounding_box()
    assert name_box and expiry_box and abs(name_box["y"] - expiry_box["y"]) < 12
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    assert page.eval_on_selector(
        ".key-table", "t => t.parentElement.scrollWidth <= t.parentElement.clientWidth"
    )

    page.keyboard.press("Tab")
    if buttons:
        expect(row.get_by_role("button", name="Actions for Main App")).to_be_hidden()
        for action in ("Edit", "Roll", "Revoke"):
            button = row.get_by_role("button", name=f"{action} Main App")
            tab_to(page, button)
            page.keyboard.press("Enter")
            dialog = page.get_by_role("dialog")
            expect(dialog).to_be_visible()
            page.keyboard.press("Escape")
            expect(dialog).to_be_hidden()
            expect(button).to_be_focused()
        return

    expect(row.get_by_role("button", name="Edit Main App")).to_be_hidden()
    menu_button = row.get_by_role("button", name="Actions for Main App")
    tab_to(page, menu_button)
    expect(menu_button).to_have_attribute("aria-expanded", "false")
    page.keyboard.press("Enter")
    menu = page.get_by_role("menu", name="Actions for Main App")
    expect(menu).to_be_visible()
    expect(menu_button).to_have_attribute("aria-expanded", "true")
    items = [menu.get_by_role("menuitem", name=name) for name in ("Edit", "Roll", "Revoke")]
    expect(items[0]).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(items[1]).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(items[2]).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(items[0]).to_be_focused()
    page.keyboard.press("ArrowUp")
    expect(items[2]).to_be_focused()
    page.keyboard.press("Escape")
    expect(menu).to_be_hidden()
    expect(menu_button).to_be_focused()

    titles = ("Edit “Main App”", "Roll “Main App”?", "Revoke “Main App”?")
    for index, title in enumerate(titles):
        page.keyboard.press("ArrowDown" if index else "Enter")
        for _ in range(index):
            page.keyboard.press("ArrowDown")
        expect(items[index]).to_be_focused()
        page.keyboard.press("Enter")
        dialog = page.get_by_role("dialog", name=title)
        expect(dialog).to_be_visible()
        expect(menu).to_be_hidden()
        page.keyboard.press("Escape")
        expect(dialog).to_be_hidden()
        expect(menu_button).to_be_focused()


def test_the_menu_closes_on_tab_and_on_a_click_elsewhere(
    page: Page, login: Login, owner: Membership
) -> None:
    seed_keys(owner)
    page.set_viewport_size({"width": 1024, "height": 900})
    login(owner)
    open_api_keys(page)
    menu_button = key_row(page, "CRM sync").get_by_role("button", name="Actions for CRM sync")
    menu = page.get_by_role("menu", name="Actions for CRM sync")
    menu_button.click()
    expect(menu.get_by_role("menuitem", name="Edit")).to_be_focused()
    page.keyboard.press("Tab")
    expect(menu).to_be_hidden()
    menu_button.click()
    expect(menu).to_be_visible()
    page.get_by_role("heading", name="Active keys").click()
    expect(menu).to_be_hidden()
    expect(menu_button).to_have_attribute("aria-expanded", "false")


def test_live_and_test_filter_with_counts_and_the_tabs(
    page: Page, login: Login, owner: Membership
) -> None:
    seed_keys(owner)
    login(owner)
    open_api_keys(page)
    tabs = page.get_by_role("navigation", name="API Keys pages")
    expect(tabs.get_by_role("link", name="Keys")).to_have_attribute("aria-current", "page")
    filters = page.get_by_role("group", name="Show keys")
    expect(filters.get_by_role("button", name="All 3")).to_have_attribute("aria-pressed", "true")
    filters.get_by_role("button", name="Test 1").click()
    expect(filters.get_by_role("button", name="Test 1")).to_have_attribute("aria-pressed", "true")
    expect(key_row(page, "Staging")).to_be_visible()
    expect(key_row(page, "Main App")).to_be_hidden()
    filters.get_by_role("button", name="Live 2").click()
    expect(key_row(page, "Staging")).to_be_hidden()
    expect(key_row(page, "CRM sync")).to_be_visible()

    tabs.get_by_role("link", name="Activity").click()
    expect(page.get_by_role("heading", name="Activity", level=1)).to_be_visible()
    expect(
        page.get_by_role("navigation", name="API Keys pages").get_by_role("link", name="Activity")
    ).to_have_attribute("aria-current", "page")


def test_the_create_button_keeps_its_place_when_a_reason_shows(
    page: Page, login: Login, owner: Membership, member: Membership
) -> None:
    seed_keys(owner)
    boxes = []
    for who in (owner, member):
        page.context.clear_cookies()
        login(who)
        open_api_keys(page)
        boxes.append(page.get_by_role("button", name="Create New API Key").bounding_box())
    expect(page.get_by_text("Ask an owner or admin").first).to_be_visible()
    assert boxes[0] and boxes[1]
    assert abs(boxes[0]["x"] + boxes[0]["width"] - boxes[1]["x"] - boxes[1]["width"]) < 1
    assert abs(boxes[0]["y"] - boxes[1]["y"]) < 1


@pytest.mark.parametrize("width", [768, 1024, 1280, 1920])
def test_the_activity_table_never_scrolls_sideways(
    page: Page, login: Login, owner: Membership, live_server, width: int
) -> None:  # noqa: ANN001
    seed_keys(owner)
    page.set_viewport_size({"width": width, "height": 900})
    login(owner)
    page.goto(live_server.url + "/settings/api-keys/activity/")
    expect(page.get_by_role("link", name="Main App")).to_be_visible()
    assert page.eval_on_selector(
        ".activity-table", "t => t.parentElement.scrollWidth <= t.parentElement.clientWidth"
    )
