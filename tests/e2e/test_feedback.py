"""After a change in Chromium: the message floats, can be dismissed, hides itself after about
6 s, and the key it is about lights up in the list for a few seconds."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from accounts.models import Membership
from apikeys.services import create_key
from tests.support.browser import Login, key_row, open_api_keys


def edit_name(page: Page, old: str, new: str) -> None:
    key_row(page, old).get_by_role("button", name=f"Edit {old}").click()
    dialog = page.get_by_role("dialog", name=f"Edit “{old}”")
    dialog.get_by_label("Key Name").fill(new)
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog).to_be_hidden()


def test_the_message_hides_itself_and_the_key_lights_up(
    page: Page, login: Login, owner: Membership
) -> None:
    page.set_viewport_size({"width": 1920, "height": 1000})
    create_key(account=owner.account, user=owner.user, name="Main App", scopes=["calls:read"])
    page.clock.install()
    login(owner)
    open_api_keys(page)
    heading_top = page.get_by_role("heading", name="API Keys", level=1).bounding_box()

    edit_name(page, "Main App", "Main Server")
    message = page.get_by_role("status").filter(has_text="API key “Main Server” updated.")
    expect(message).to_have_text("API key “Main Server” updated.")
    expect(message).to_be_visible()
    # It floats over the page: nothing below it moved down.
    assert page.get_by_role("heading", name="API Keys", level=1).bounding_box() == heading_top
    expect(key_row(page, "Main Server")).to_have_class("key-row key-row--changed")

    page.clock.run_for(4_500)
    expect(key_row(page, "Main Server")).to_have_class("key-row")
    expect(message).to_be_visible()
    page.clock.run_for(2_000)
    expect(message).to_have_count(0)


def test_the_message_can_be_dismissed_with_the_keyboard(
    page: Page, login: Login, owner: Membership
) -> None:
    page.set_viewport_size({"width": 1920, "height": 1000})
    create_key(account=owner.account, user=owner.user, name="Main App", scopes=["calls:read"])
    login(owner)
    open_api_keys(page)
    edit_name(page, "Main App", "Main Server")
    dismiss = page.get_by_role("button", name="Dismiss")
    dismiss.focus()
    page.keyboard.press("Enter")
    expect(page.get_by_text("API key “Main Server” updated.")).to_have_count(0)
    expect(page.locator("#main")).to_be_focused()
