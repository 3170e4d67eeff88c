"""The dialogs a key's own page opens, in Chromium: styled as on the list, and where they lead."""

from __future__ import annotations

from playwright.sync_api import Locator, Page, expect

from accounts.models import Membership
from apikeys.models import ApiKey
from apikeys.services import create_key
from tests.support.browser import Login, open_api_keys


def open_key_page(login: Login, owner: Membership, name: str) -> Page:
    page = login(owner)
    open_api_keys(page)
    page.get_by_role("link", name=name).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()
    page.wait_for_load_state("domcontentloaded")
    return page


def style(locator: Locator, prop: str) -> str:
    return locator.evaluate("(element, prop) => getComputedStyle(element)[prop]", prop)


def token(page: Page, name: str) -> str:
    """A colour token of the stylesheets, as the browser computes it (rgb(...))."""
    return page.evaluate(
        """(name) => {
            const probe = document.createElement("span");
            probe.style.color = `var(${name})`;
            document.body.append(probe);
            const colour = getComputedStyle(probe).color;
            probe.remove();
            return colour;
        }""",
        name,
    )


def make_key(owner: Membership, name: str, **fields: object) -> ApiKey:
    fields.setdefault("scopes", ["calls:read"])
    return create_key(account=owner.account, user=owner.user, name=name, **fields).api_key


def test_the_reveal_opened_from_a_key_page_has_the_dialog_styles(
    login: Login, owner: Membership
) -> None:
    make_key(owner, "CRM sync")
    page = open_key_page(login, owner, "CRM sync")
    page.get_by_role("button", name="Roll CRM sync").click()
    page.get_by_role("dialog", name="Roll “CRM sync”?").get_by_role(
        "button", name="Roll API Key"
    ).click()
    reveal = page.get_by_role("dialog", name="Your new API key")
    expect(reveal).to_be_visible()

    selected = reveal.get_by_role("tab", name="curl")
    other = reveal.get_by_role("tab", name="Python")
    # A tab, not a grey button: no background, and the selected one underlined in the accent.
    assert style(other, "backgroundColor") == "rgba(0, 0, 0, 0)"
    assert style(other, "borderTopWidth") == "0px"
    assert style(selected, "borderBottomColor") == token(page, "--color-primary")
    code = reveal.get_by_role("tabpanel", name="curl").locator("pre")
    assert style(code, "backgroundColor") == token(page, "--color-code-bg")
    assert style(code, "whiteSpace") == "pre"


def test_a_refused_field_on_a_key_page_dialog_has_a_red_border(
    login: Login, owner: Membership
) -> None:
    make_key(owner, "CRM sync")
    page = open_key_page(login, owner, "CRM sync")
    page.get_by_role("button", name="Edit CRM sync").click()
    dialog = page.get_by_role("dialog", name="Edit “CRM sync”")
    dialog.get_by_label("Allowed IP addresses").fill("not-an-address")
    dialog.get_by_role("button", name="Save changes").click()
    expect(dialog.get_by_text("Not an IP address or range: “not-an-address”")).to_be_visible()
    field = dialog.get_by_label("Allowed IP addresses")
    assert style(field, "borderTopColor") == token(page, "--color-danger")
