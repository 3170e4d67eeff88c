"""The dialogs a key's own page opens, in Chromium: styled as on the list, and where they lead."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import Locator, Page, expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import Membership
from apikeys.models import ApiKey
from apikeys.services import create_key, revoke_key, roll_key
from tests.support.browser import Login, assert_no_serious_violations, open_api_keys


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


def test_create_a_key_like_this_prefills_every_field(
    login: Login, owner: Membership, live_server: LiveServer
) -> None:
    old = make_key(
        owner,
        "CRM sync",
        description="Pushes contacts nightly",
        scopes=["calls:read", "contacts:write"],
        environment="test",
        expiration="30",
        allowed_ips="203.0.113.0/24",
    )
    revoke_key(key=old, user=owner.user)
    page = login(owner)
    page.goto(f"{live_server.url}/settings/api-keys/{old.pk}/")
    page.wait_for_load_state("domcontentloaded")
    expect(page.get_by_text("It can't be used again")).to_be_visible()
    page.get_by_role("button", name="Create a key like this").click()

    dialog = page.get_by_role("dialog", name="Create New API Key")
    expect(dialog.get_by_label("Key Name")).to_have_value("CRM sync")
    expect(dialog.get_by_label("Description")).to_have_value("Pushes contacts nightly")
    expect(dialog.get_by_label("Test", exact=True)).to_be_checked()
    expect(dialog.get_by_label("Expiration")).to_have_value("30")
    expect(dialog.get_by_label("calls:read", exact=True)).to_be_checked()
    expect(dialog.get_by_label("contacts:write", exact=True)).to_be_checked()
    expect(dialog.get_by_label("calls:write", exact=True)).not_to_be_checked()
    expect(dialog.get_by_label("Allowed IP addresses")).to_have_value("203.0.113.0/24")
    dialog.get_by_role("button", name="Create API Key").click()
    reveal = page.get_by_role("dialog", name="Your new API key")
    expect(reveal.get_by_label("API key", exact=True)).to_have_value(re.compile("^vxp_test_"))
    new = ApiKey.objects.get(revoked_at__isnull=True)
    assert (new.scope_list, new.allowed_ips, new.description) == (
        ["calls:read", "contacts:write"],
        "203.0.113.0/24",
        "Pushes contacts nightly",
    )


def test_revoking_a_key_used_today_suggests_rolling_it(login: Login, owner: Membership) -> None:
    api_key = make_key(owner, "CRM sync")
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now() - timedelta(hours=1))
    page = open_key_page(login, owner, "CRM sync")
    page.get_by_role("button", name="Revoke CRM sync").click()
    dialog = page.get_by_role("dialog", name="Revoke “CRM sync”?")
    expect(dialog).to_contain_text("Last used 1 hour ago.")
    dialog.get_by_role("link", name="Roll instead").click()
    expect(page.get_by_role("dialog", name="Roll “CRM sync”?")).to_be_visible()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_key_pages_and_their_dialogs_pass_axe(
    login: Login, owner: Membership, live_server: LiveServer, scheme: str
) -> None:
    old = make_key(owner, "CRM sync", allowed_ips="203.0.113.0/24")
    successor = roll_key(key=old, user=owner.user, grace=timedelta(hours=24)).api_key
    ApiKey.objects.filter(pk=successor.pk).update(last_used_at=timezone.now())
    ended = make_key(owner, "Old CRM")
    revoke_key(key=ended, user=owner.user)
    page = login(owner)
    page.emulate_media(color_scheme=scheme)

    def visit(api_key: ApiKey) -> None:
        page.goto(f"{live_server.url}/settings/api-keys/{api_key.pk}/")
        page.wait_for_load_state("domcontentloaded")

    visit(old)
    assert_no_serious_violations(page, f"a rolled key's page ({scheme})")
    page.get_by_role("button", name=re.compile("^End now")).click()
    expect(page.get_by_role("dialog")).to_be_visible()
    assert_no_serious_violations(page, f"the End now dialog ({scheme})")

    visit(successor)
    assert_no_serious_violations(page, f"a key with a previous secret ({scheme})")
    page.get_by_role("button", name="Revoke CRM sync").click()
    expect(page.get_by_role("link", name="Roll instead")).to_be_visible()
    assert_no_serious_violations(page, f"the revoke dialog suggesting a roll ({scheme})")
    page.get_by_role("link", name="Roll instead").click()
    page.get_by_role("button", name="Roll API Key").click()
    expect(page.get_by_text("This key only works from 203.0.113.0/24")).to_be_visible()
    assert_no_serious_violations(page, f"the reveal of an allowlisted key ({scheme})")

    visit(ended)
    assert_no_serious_violations(page, f"a revoked key's page ({scheme})")
    page.get_by_role("button", name="Create a key like this").click()
    dialog = page.get_by_role("dialog", name="Create New API Key")
    dialog.get_by_label("calls:read", exact=True).uncheck()
    dialog.get_by_label("Allowed IP addresses").fill("nope")
    dialog.get_by_role("button", name="Create API Key").click()
    expect(dialog.get_by_role("group", name=re.compile("^Fix these"))).to_be_focused()
    assert_no_serious_violations(page, f"the create form with its error summary ({scheme})")
