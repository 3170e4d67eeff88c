"""The dialogs a key's own page opens, in Chromium: styled as on the list, and where they lead."""

from __future__ import annotations

import re

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
    expect(dialog.get_by_label("Allowed IP addresses")).to_have_accessible_description(
        re.compile("^Not an IP address or range: “not-an-address”")
    )
    field = dialog.get_by_label("Allowed IP addresses")
    assert style(field, "borderTopColor") == token(page, "--color-danger")


def test_a_roll_from_a_key_page_lands_on_the_new_keys_page_and_end_now_ends_the_old_secret(
    login: Login, owner: Membership
) -> None:
    old = make_key(owner, "CRM sync")
    page = open_key_page(login, owner, "CRM sync")
    page.get_by_role("button", name="Roll CRM sync").click()
    page.get_by_role("dialog", name="Roll “CRM sync”?").get_by_role(
        "button", name="Roll API Key"
    ).click()
    reveal = page.get_by_role("dialog", name="Your new API key")
    reveal.get_by_role("button", name="Copy", exact=True).click()
    reveal.get_by_role("button", name="Done").click()

    successor = ApiKey.objects.get(replaces=old)
    page.wait_for_url(f"**/settings/api-keys/{successor.pk}/")
    expect(
        page.get_by_text(f"Previous secret {old.masked_key} · stops working in 23 h")
    ).to_be_visible()
    page.get_by_role("button", name=re.compile("^End now.+previous secret of CRM sync")).click()
    confirm = page.get_by_role("dialog", name="End the old secret of “CRM sync” now?")
    expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    confirm.get_by_role("button", name="End now").click()

    expect(page.get_by_role("status").filter(has_text="stopped working now")).to_be_visible()
    expect(page.get_by_text("Previous secret")).to_have_count(0)
    page.goto(page.url.replace(f"/{successor.pk}/", f"/{old.pk}/"))
    banner = page.get_by_role("status").filter(has_text="Replaced by")
    expect(banner).to_contain_text("Its secret was ended early")
    expect(banner.get_by_role("link", name="CRM sync")).to_have_attribute(
        "href", f"/settings/api-keys/{successor.pk}/"
    )
