"""The navigation drawer on phones and tablets: over the page, with Close, Esc, focus kept in."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

NARROW_WIDTHS = [320, 768]


def focus_is_in_drawer(page: Page) -> bool:
    return page.evaluate("document.getElementById('sidebar').contains(document.activeElement)")


@pytest.mark.parametrize("width", NARROW_WIDTHS)
def test_menu_opens_a_drawer_over_the_page_and_close_shuts_it(
    page: Page, live_server, owner, login, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    login(owner)
    menu = page.get_by_role("button", name="Menu", exact=True)
    nav_link = page.get_by_role("link", name="API Keys", exact=True)
    expect(nav_link).to_be_hidden()
    menu_box = menu.bounding_box()
    menu.click()
    drawer = page.get_by_role("complementary", name="Main navigation")
    close = drawer.get_by_role("button", name="Close menu")
    expect(close).to_be_focused()
    expect(menu).to_have_attribute("aria-expanded", "true")
    # An overlay: the page under it, Menu included, stays where it was.
    assert menu.bounding_box() == menu_box
    assert drawer.bounding_box()["x"] == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    close.click()
    expect(nav_link).to_be_hidden()
    expect(menu).to_have_attribute("aria-expanded", "false")
    expect(menu).to_be_focused()

    menu.click()
    nav_link.click()
    expect(page).to_have_url(f"{live_server.url}/settings/api-keys/")


def test_tab_stays_in_the_open_drawer_and_esc_closes_it(
    page: Page, live_server, owner, login
) -> None:
    page.set_viewport_size({"width": 375, "height": 740})
    login(owner)
    menu = page.get_by_role("button", name="Menu", exact=True)
    menu.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("button", name="Close menu")).to_be_focused()
    for _ in range(12):
        page.keyboard.press("Tab")
        assert focus_is_in_drawer(page)
    for _ in range(12):
        page.keyboard.press("Shift+Tab")
        assert focus_is_in_drawer(page)
    page.keyboard.press("Escape")
    expect(page.get_by_role("link", name="API Keys", exact=True)).to_be_hidden()
    expect(menu).to_be_focused()
    # Space opens it too, as it does any button.
    page.keyboard.press("Space")
    expect(page.get_by_role("button", name="Close menu")).to_be_focused()


def test_clicking_beside_the_drawer_closes_it(page: Page, live_server, owner, login) -> None:
    page.set_viewport_size({"width": 768, "height": 900})
    login(owner)
    page.get_by_role("button", name="Menu", exact=True).click()
    expect(page.get_by_role("link", name="API Keys", exact=True)).to_be_visible()
    page.mouse.click(700, 450)
    expect(page.get_by_role("link", name="API Keys", exact=True)).to_be_hidden()


def test_wide_windows_have_no_menu_or_close(page: Page, live_server, owner, login) -> None:
    page.set_viewport_size({"width": 1024, "height": 800})
    login(owner)
    expect(page.get_by_role("link", name="API Keys", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Menu", exact=True)).to_be_hidden()
    expect(page.get_by_role("button", name="Close menu")).to_be_hidden()


def test_without_javascript_menu_and_close_are_links_that_still_work(
    live_server, owner, login_without_javascript
) -> None:
    page = login_without_javascript(owner)
    page.set_viewport_size({"width": 375, "height": 740})
    nav_link = page.get_by_role("link", name="Dashboard", exact=True)
    expect(nav_link).to_be_hidden()
    page.get_by_role("link", name="Menu", exact=True).click()
    expect(nav_link).to_be_visible()
    page.get_by_role("link", name="Close menu").click()
    expect(nav_link).to_be_hidden()
    page.get_by_role("link", name="Menu", exact=True).click()
    nav_link.click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
