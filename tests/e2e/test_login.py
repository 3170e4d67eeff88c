from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.factories import PASSWORD, MembershipFactory


def test_log_in_through_the_form_shows_dashboard_and_sidebar(
    page: Page, live_server, owner
) -> None:
    page.goto(f"{live_server.url}/settings/api-keys/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/settings/api-keys/")

    page.get_by_label("Email").fill("OWNER@acme.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()

    expect(page).to_have_url(f"{live_server.url}/settings/api-keys/")
    page.get_by_role("navigation").get_by_role("link", name="Dashboard").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_role("region", name="Account")).to_contain_text("Acme Voice")
    expect(page.get_by_role("region", name="Your role")).to_contain_text("Owner")
    expect(page.get_by_role("region", name="Credit balance")).to_contain_text("5,000 credits")
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link", name="API Keys")).to_be_visible()
    expect(nav.get_by_text("Settings")).to_be_visible()


def test_wrong_password_shows_error_and_stays_logged_out(page: Page, live_server, owner) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("alert")).to_contain_text("don't match an account")
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")


def test_logout_returns_to_login(page: Page, live_server, owner, login) -> None:
    login(owner)
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/login/?next=/")


def test_account_switcher_changes_the_current_account(
    page: Page, owner, other_owner, login
) -> None:
    MembershipFactory(user=owner.user, account=other_owner.account, role="member")
    login(owner)
    switcher = page.get_by_role("combobox", name="Account")
    expect(switcher.get_by_role("option")).to_have_text(["Acme Voice", "Globex"])
    switcher.select_option(label="Globex")
    expect(page.get_by_role("status")).to_have_text("You are now working in Globex.")
    expect(page.get_by_role("region", name="Account")).to_contain_text("Globex")
    expect(page.get_by_role("region", name="Your role")).to_contain_text("Member")
