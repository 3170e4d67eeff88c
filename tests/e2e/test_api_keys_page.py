"""The whole "How to Create an API Key" guide, step by step, in Chromium."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from accounts.models import Account, Membership
from apikeys.keys import is_well_formed, key_digest, masked_key
from apikeys.models import ApiKey
from apikeys.services import create_key
from tests.factories import AccountFactory, MembershipFactory
from tests.support.browser import (
    Login,
    assert_no_serious_violations,
    create_through_dialog,
    open_api_keys,
    open_create_dialog,
)


def active_rows(page: Page) -> Locator:
    return page.get_by_role("region", name="Active keys").get_by_role("row")


def test_following_the_guide_creates_copies_lists_and_revokes_a_key(
    login: Login, owner: Membership
) -> None:
    page = login(owner)
    open_api_keys(page)
    expect(page.get_by_role("navigation", name="Breadcrumb")).to_have_text(
        re.compile(r"Settings\s*API Keys")
    )
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    expect(page.get_by_text("0 of 10 keys")).to_be_visible()
    # Set a marker that a full page load would wipe out.
    page.evaluate("window.stillTheSamePage = true")

    # Step 2: the dialog, with the focus inside it.
    dialog = open_create_dialog(page)
    expect(dialog.get_by_label("Key Name")).to_be_focused()
    expect(dialog).to_contain_text("Production Server – Main App")
    expect(dialog).to_contain_text(
        "Security Tip: Only grant permissions actually needed (principle of least privilege)."
    )
    scope_table = dialog.get_by_role("table")
    expect(scope_table.get_by_role("row", name="calls:write")).to_contain_text(
        re.compile(r"Trigger calls\s*CRM integration")
    )

    # Step 3: a scope is required; the error shows in the dialog, next to the scopes.
    dialog.get_by_label("Key Name").fill("Production Server – Main App")
    dialog.get_by_role("button", name="Create API Key").click()
    expect(dialog.get_by_text("Choose at least one permission scope.", exact=True)).to_be_visible()
    expect(dialog.get_by_label("Key Name")).to_have_value("Production Server – Main App")
    assert ApiKey.objects.count() == 0

    # Step 4: the review follows the ticked scopes.
    review = dialog.get_by_role("region", name="Review")
    expect(review).to_contain_text("Tick at least one scope")
    dialog.get_by_label("calls:read", exact=True).check()
    expect(review).to_contain_text("This key will be able to:")
    expect(review.get_by_role("listitem")).to_have_text(["see your calls and their outcomes"])
    dialog.get_by_label("calls:write", exact=True).check()
    dialog.get_by_label("contacts:read", exact=True).check()
    dialog.get_by_label("contacts:read", exact=True).uncheck()
    expect(review.get_by_role("listitem")).to_have_text(
        ["see your calls and their outcomes", "start calls to your contacts"]
    )
    dialog.get_by_role("button", name="Create API Key").click()

    # Step 5: the complete key, once.
    reveal = page.get_by_role("dialog", name="Your new API key")
    expect(reveal).to_contain_text(
        "This is the ONLY time you'll see the complete key. Copy it NOW!"
    )
    secret = reveal.get_by_label("API key", exact=True).input_value()
    assert is_well_formed(secret)
    api_key = ApiKey.objects.get()
    assert api_key.key_digest == key_digest(secret)
    assert api_key.scope_list == ["calls:read", "calls:write"]

    # Done before copying asks first; going back keeps the key on screen.
    reveal.get_by_role("button", name="Done").click()
    expect(reveal.get_by_text("You haven't copied the key.")).to_be_visible()
    reveal.get_by_role("button", name="Go back to the key").click()
    expect(reveal.get_by_text("You haven't copied the key.")).to_be_hidden()
    expect(reveal.get_by_label("API key", exact=True)).to_have_value(secret)

    # Step 6: the curl command carries this key and this server's address, and works.
    command = reveal.get_by_role("tabpanel", name="curl").locator("pre").text_content()
    credits_url = page.url.split("/settings/")[0] + "/api/v1/credits"
    assert f'curl -X GET "{credits_url}"' in command
    assert f'-H "Authorization: Bearer {secret}"' in command
    bearer = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    assert page.request.get(credits_url, headers=bearer).json()["balance"] == 5000

    reveal.get_by_role("button", name="Copy", exact=True).click()
    expect(reveal.get_by_role("button", name="Copied", exact=True)).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    reveal.get_by_role("button", name="Done").click()
    expect(reveal).to_be_hidden()
    expect(page.get_by_role("button", name="Create New API Key").first).to_be_focused()

    # Step 7: the list shows the key, masked, without a full page load; the secret is gone.
    expect(page.get_by_role("status")).to_have_text(
        "API key “Production Server – Main App” created."
    )
    row = active_rows(page).filter(has_text="Production Server – Main App")
    expect(row).to_contain_text(masked_key(secret))
    expect(row).to_contain_text("calls:read")
    # By the Step 6 check, moments ago.
    expect(row).to_contain_text(re.compile(r"Last used\s+Just now"))
    expect(row).to_contain_text("by owner@acme.test")
    expect(page.get_by_text("1 of 10 keys")).to_be_visible()
    assert page.evaluate("window.stillTheSamePage") is True
    assert secret not in page.content()
    page.reload()
    expect(active_rows(page).filter(has_text=masked_key(secret))).to_have_count(1)
    assert secret not in page.content()

    # Step 8: Revoke, first cancelled, then confirmed.
    row = active_rows(page).filter(has_text="Production Server – Main App")
    row.get_by_role("button", name="Revoke").click()
    confirm = page.get_by_role("dialog", name="Revoke “Production Server – Main App”?")
    expect(confirm).to_contain_text("stops working immediately")
    expect(confirm).to_contain_text("Revoking cannot be undone.")
    confirm.get_by_role("button", name="Cancel").click()
    expect(confirm).to_be_hidden()
    expect(row.get_by_role("button", name="Revoke")).to_be_focused()
    api_key.refresh_from_db()
    assert api_key.is_active

    row.get_by_role("button", name="Revoke").click()
    confirm.get_by_role("button", name="Revoke key").click()
    expect(confirm).to_be_hidden()
    expect(page.get_by_role("status")).to_contain_text(
        "API key “Production Server – Main App” revoked."
    )
    expect(page.get_by_text("No API keys yet")).to_be_visible()
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None
    assert api_key.revoked_by == owner.user
    assert page.request.get(credits_url, headers=bearer).status == 401
    revoked = page.get_by_role("group").filter(has_text="Revoked keys (1)")
    revoked.get_by_text("Revoked keys (1)").click()
    expect(revoked.get_by_role("row", name="Production Server – Main App")).to_contain_text(
        "by owner@acme.test"
    )


def test_closing_the_reveal_without_copying_asks_first(login: Login, owner: Membership) -> None:
    page = login(owner)
    open_api_keys(page)
    create_through_dialog(page, "Development Environment", ["calls:read"])
    reveal = page.get_by_role("dialog", name="Your new API key")
    guard = reveal.get_by_text("You haven't copied the key.")

    # Esc asks, and Esc again backs out of the question.
    page.keyboard.press("Escape")
    expect(guard).to_be_visible()
    expect(reveal.get_by_role("button", name="Go back to the key")).to_be_focused()
    page.keyboard.press("Escape")
    expect(guard).to_be_hidden()
    expect(reveal).to_be_visible()

    # The close button asks too; closing anyway leaves the key listed.
    reveal.get_by_role("button", name="Close", exact=True).click()
    expect(guard).to_be_visible()
    reveal.get_by_role("button", name="Close without copying").click()
    expect(reveal).to_be_hidden()
    expect(active_rows(page).filter(has_text="Development Environment")).to_have_count(1)
    expect(page.get_by_role("button", name="Create New API Key").first).to_be_focused()


def test_escape_closes_the_reveal_at_once_once_the_key_is_copied(
    login: Login, owner: Membership
) -> None:
    page = login(owner)
    open_api_keys(page)
    secret = create_through_dialog(page, "WordPress Integration", ["contacts:read"])
    reveal = page.get_by_role("dialog", name="Your new API key")
    reveal.get_by_role("button", name="Copy command").click()
    expect(reveal.get_by_role("button", name="Command copied")).to_be_visible()
    assert secret in page.evaluate("navigator.clipboard.readText()")
    page.keyboard.press("Escape")
    expect(reveal).to_be_hidden()
    expect(active_rows(page).filter(has_text="WordPress Integration")).to_have_count(1)


def test_without_clipboard_access_copy_selects_the_key(login: Login, owner: Membership) -> None:
    page = login(owner)
    page.add_init_script(
        "navigator.clipboard.writeText = () => Promise.reject(new Error('denied'))"
    )
    open_api_keys(page)
    secret = create_through_dialog(page, "CRM Connector – Salesforce", ["calls:write"])
    reveal = page.get_by_role("dialog", name="Your new API key")
    reveal.get_by_role("button", name="Copy", exact=True).click()
    expect(reveal.get_by_text("The key is selected")).to_be_visible()
    key_field = reveal.get_by_label("API key", exact=True)
    expect(key_field).to_be_focused()
    selected = page.evaluate(
        "() => { const f = document.activeElement;"
        " return f.value.slice(f.selectionStart, f.selectionEnd); }"
    )
    assert selected == secret
    # Copying the selection by hand counts as copying: Done closes without asking.
    page.keyboard.press("Control+C")
    reveal.get_by_role("button", name="Done").click()
    expect(reveal).to_be_hidden()


def test_double_clicking_create_makes_one_key(login: Login, owner: Membership) -> None:
    page = login(owner)
    open_api_keys(page)
    dialog = open_create_dialog(page)
    dialog.get_by_label("Key Name").fill("Marketing Automation")
    dialog.get_by_label("campaigns:read", exact=True).check()
    dialog.get_by_role("button", name="Create API Key").dblclick()
    reveal = page.get_by_role("dialog", name="Your new API key")
    expect(reveal.get_by_label("API key", exact=True)).to_have_value(re.compile("^vxp_live_"))
    assert ApiKey.objects.filter(name="Marketing Automation").count() == 1


def test_a_key_name_containing_html_is_shown_as_text(login: Login, owner: Membership) -> None:
    name = '<img src=x onerror="window.pwned=1"><b>Bold</b>'
    page = login(owner)
    open_api_keys(page)
    create_through_dialog(page, name, ["calls:read"])
    reveal = page.get_by_role("dialog", name="Your new API key")
    expect(reveal.get_by_text(name)).to_be_visible()
    reveal.get_by_role("button", name="Copy", exact=True).click()
    reveal.get_by_role("button", name="Done").click()
    expect(active_rows(page).filter(has_text=name)).to_have_count(1)
    expect(page.get_by_role("status")).to_have_text(f"API key “{name}” created.")
    assert page.evaluate("window.pwned") is None
    assert page.locator("main img, main b").count() == 0


@pytest.mark.parametrize(
    ("setup", "title", "reason"),
    [
        pytest.param(
            "member", "Your role can't manage API keys", "ask an owner or admin", id="member"
        ),
        pytest.param(
            "suspended",
            "This account is not in good standing",
            "contact support to restore the account",
            id="suspended",
        ),
        pytest.param(
            "full",
            "Key limit reached",
            "2 of 2 keys. Revoke an unused key to make room, or contact support to raise the limit",
            id="full",
        ),
    ],
)
def test_a_disabled_create_button_says_why_and_the_banner_what_to_do(
    login: Login, setup: str, title: str, reason: str
) -> None:
    account = AccountFactory(name="Umbrella", api_key_limit=2)
    owner = MembershipFactory(
        account=account, role=Membership.Role.OWNER, user__email="owner@umbrella.test"
    )
    for name in ("Production Server – Main App", "Development Environment"):
        create_key(account=account, user=owner.user, name=name, scopes=["calls:read"])
    viewer = owner
    if setup == "member":
        viewer = MembershipFactory(account=account, role=Membership.Role.MEMBER)
    elif setup == "suspended":
        Account.objects.filter(pk=account.pk).update(status=Account.Status.SUSPENDED)

    page = login(viewer)
    open_api_keys(page)
    create = page.get_by_role("button", name="Create New API Key")
    expect(create).to_be_disabled()
    expect(create).to_have_accessible_description(title)
    create.click(force=True)
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_role("main")).to_contain_text(reason)
    expect(active_rows(page).filter(has_text="Development Environment")).to_have_count(1)
    expect(page.get_by_text("2 of 2 keys", exact=True)).to_be_visible()
    assert_no_serious_violations(page, f"the page refusing creation ({setup})")

    support = page.get_by_role("link", name="Contact support")
    revoke_a_key = page.get_by_role("link", name="Revoke a key")
    revoke_buttons = page.get_by_role("button", name="Revoke")
    if setup == "member":
        expect(page.get_by_text("Ask an owner or admin", exact=True)).to_be_visible()
        expect(page.get_by_role("link", name="owner@umbrella.test")).to_have_attribute(
            "href", "mailto:owner@umbrella.test"
        )
        expect(support).to_have_count(0)
        # Members see the list read-only.
        expect(revoke_buttons).to_have_count(0)
    else:
        expect(support).to_have_attribute("href", re.compile(r"^mailto:support@voxpria\.com\?"))
        # Revoking only removes access, so a suspended or full account may still do it.
        expect(revoke_buttons).to_have_count(2)
    if setup == "full":
        revoke_a_key.click()
        expect(page.get_by_role("heading", name="Active keys")).to_be_focused()
        # Making room brings the Create button back, without reloading the page.
        active_rows(page).filter(has_text="Development Environment").get_by_role(
            "button", name="Revoke"
        ).click()
        page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
        expect(create).to_be_enabled()
        expect(support).to_have_count(0)
    else:
        expect(revoke_a_key).to_have_count(0)


def test_an_expired_session_leads_to_the_login_page_not_into_the_dialog(
    login: Login, owner: Membership
) -> None:
    page = login(owner)
    open_api_keys(page)
    page.context.clear_cookies()
    page.get_by_role("button", name="Create New API Key").first.click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login/\?next=/settings/api-keys/new/$"))
    expect(page.get_by_role("dialog")).to_have_count(0)
