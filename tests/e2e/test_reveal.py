"""The reveal: the key on one line beside its Copy button, and Verify it works as tabs (curl,
Python, Node, PHP), each block copyable, none breaking the key across lines."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from accounts.models import Membership
from tests.support.browser import (
    Login,
    assert_no_serious_violations,
    create_through_dialog,
    open_api_keys,
)

TABS = ["curl", "Python", "Node", "PHP"]
# The same request in every tab: the credits endpoint, the key as a Bearer token.
EXPECTED = {
    "curl": ['curl -X GET "{url}"', '-H "Authorization: Bearer {secret}"'],
    "Python": ['requests.get(\n    "{url}"', '{{"Authorization": "Bearer {secret}"}}'],
    "Node": ['fetch("{url}"', '{{ Authorization: "Bearer {secret}" }}'],
    "PHP": ["wp_remote_get( '{url}'", "'Authorization' => 'Bearer {secret}'"],
}


def credits_url(page: Page) -> str:
    return page.url.split("/settings/")[0] + "/api/v1/credits"


def block(reveal: Locator, tab: str) -> Locator:
    return reveal.get_by_role("tabpanel", name=tab).locator("pre")


def lines_the_key_spans(page: Page, code: Locator, secret: str) -> int:
    """How many rendered lines the key's characters take in the code block."""
    return code.evaluate(
        """(pre, secret) => {
            const text = pre.firstChild.firstChild;
            const start = text.data.indexOf(secret);
            const range = document.createRange();
            range.setStart(text, start);
            range.setEnd(text, start + secret.length);
            return new Set([...range.getClientRects()].map((rect) => Math.round(rect.top))).size;
        }""",
        secret,
    )


def test_verify_tabs_switch_by_click_and_arrow_keys_and_each_copy_copies_its_block(
    login: Login, owner: Membership
) -> None:
    page = login(owner)
    open_api_keys(page)
    secret = create_through_dialog(page, "Production Server – Main App", ["calls:read"])
    reveal = page.get_by_role("dialog", name="Your new API key")
    url = credits_url(page)

    tablist = reveal.get_by_role("tablist", name="Verify it works")
    expect(tablist.get_by_role("tab")).to_have_text(TABS)
    expect(reveal.get_by_role("tab", name="curl")).to_have_attribute("aria-selected", "true")
    expect(reveal.get_by_role("tabpanel")).to_have_count(1)
    expect(reveal.get_by_role("tabpanel")).to_have_accessible_name("curl")
    # The panels' own titles are for the page without JavaScript; the tabs name them here.
    expect(reveal.get_by_role("heading", name="Python")).to_have_count(0)
    assert_no_serious_violations(page, "the reveal's tabs")

    # Click: each tab shows its block, and its Copy copies exactly that block.
    for tab in TABS:
        reveal.get_by_role("tab", name=tab).click()
        expect(reveal.get_by_role("tab", name=tab)).to_have_attribute("aria-selected", "true")
        expect(reveal.get_by_role("tabpanel")).to_have_accessible_name(tab)
        code = block(reveal, tab)
        text = code.text_content()
        for fragment in EXPECTED[tab]:
            assert fragment.format(url=url, secret=secret) in text, (tab, text)
        copy = "Copy command" if tab == "curl" else "Copy code"
        copied = "Command copied" if tab == "curl" else "Code copied"
        reveal.get_by_role("tabpanel").get_by_role("button", name=copy).click()
        expect(reveal.get_by_role("tabpanel").get_by_role("button", name=copied)).to_be_visible()
        assert page.evaluate("navigator.clipboard.readText()") == text

    # Arrow keys move along the tabs (and wrap around); Home and End jump to the ends.
    reveal.get_by_role("tab", name="curl").click()
    for key, tab in [
        ("ArrowRight", "Python"),
        ("ArrowRight", "Node"),
        ("ArrowRight", "PHP"),
        ("ArrowRight", "curl"),
        ("ArrowLeft", "PHP"),
        ("Home", "curl"),
        ("End", "PHP"),
    ]:
        page.keyboard.press(key)
        selected = reveal.get_by_role("tab", name=tab)
        expect(selected).to_be_focused()
        expect(selected).to_have_attribute("aria-selected", "true")
        expect(reveal.get_by_role("tabpanel")).to_have_accessible_name(tab)
    # One tab stop for the whole list: Tab goes on into the panel, to its Copy button.
    expect(reveal.get_by_role("tab", name="curl")).to_have_attribute("tabindex", "-1")
    page.keyboard.press("Tab")
    expect(reveal.get_by_role("tabpanel").get_by_role("button", name="Code copied")).to_be_focused()

    # Copying a block with the key counts as copying the key: Done closes without asking.
    reveal.get_by_role("button", name="Done").click()
    expect(reveal).to_be_hidden()


def test_the_key_is_never_broken_across_lines(login: Login, owner: Membership) -> None:
    page = login(owner)
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("button", name="Menu").click()
    open_api_keys(page)
    secret = create_through_dialog(page, "WordPress Integration", ["contacts:read"])
    reveal = page.get_by_role("dialog", name="Your new API key")
    key_field = reveal.get_by_label("API key", exact=True)
    copy = reveal.get_by_role("button", name="Copy", exact=True)
    # The key's field and its Copy button share a row.
    field_box, copy_box = key_field.bounding_box(), copy.bounding_box()
    assert abs(field_box["y"] - copy_box["y"]) < field_box["height"]
    assert copy_box["x"] > field_box["x"] + field_box["width"] - 1
    for tab in TABS:
        reveal.get_by_role("tab", name=tab).click()
        code = block(reveal, tab)
        code.scroll_into_view_if_needed()
        assert lines_the_key_spans(page, code, secret) == 1, tab
        # Too wide for a phone: the block scrolls sideways rather than wrapping.
        assert code.evaluate("pre => pre.scrollWidth > pre.clientWidth"), tab


def test_without_javascript_all_four_blocks_show(
    login_without_javascript: Login, owner: Membership
) -> None:
    page = login_without_javascript(owner)
    page.get_by_role("button", name="Create New API Key").first.click()
    page.get_by_label("Key Name").fill("No Script")
    page.get_by_label("calls:read", exact=True).check()
    page.get_by_role("button", name="Create API Key").click()
    secret = page.get_by_label("API key", exact=True).input_value()

    expect(page.get_by_role("tablist")).to_have_count(0)
    expect(page.get_by_role("heading", name="Verify it works")).to_be_visible()
    for tab in TABS:
        expect(page.get_by_role("heading", name=tab, exact=True)).to_be_visible()
        code = page.get_by_role("tabpanel", name=tab).locator("pre")
        expect(code).to_be_visible()
        expect(code).to_contain_text(f"Bearer {secret}")
