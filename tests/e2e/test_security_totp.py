"""Settings -> Security in Chromium: set up an authenticator app, keep the recovery codes
(Copy, Download), see them only once, and generate new ones behind sudo mode."""

from __future__ import annotations

import re
from base64 import b32decode
from pathlib import Path

from django_otp.oath import totp
from playwright.sync_api import Page, expect

from accounts.models import Membership, RecoveryCode
from accounts.twofactor.factors import recovery_code_digest
from tests.factories import PASSWORD
from tests.support.browser import Login, assert_no_serious_violations, confirmation_goes_stale

CODE = re.compile(r"^[a-z2-9]{5}-[a-z2-9]{5}$")


def open_security(page: Page) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Security").click()
    expect(page.get_by_role("heading", name="Security", level=1)).to_be_visible()
    page.wait_for_load_state("domcontentloaded")


def code_from_the_secret_shown(page: Page) -> str:
    """What the person's app shows now, computed from the key the page shows for typing in."""
    secret = page.get_by_label("Secret key").inner_text().replace(" ", "")
    return f"{totp(b32decode(secret)):06d}"


def new_codes(page: Page) -> list[str]:
    codes = page.get_by_role("list", name="Your new recovery codes").get_by_role("listitem")
    return [text.strip() for text in codes.all_inner_texts()]


def test_setting_up_an_app_and_keeping_the_recovery_codes(
    login: Login, owner: Membership, tmp_path: Path
) -> None:
    page = login(owner)
    open_security(page)
    assert_no_serious_violations(page, "the Security page")
    page.get_by_role("link", name="Set up authenticator app").click()

    expect(page.get_by_role("heading", name="Set up authenticator app", level=1)).to_be_visible()
    expect(page.get_by_role("img", name="QR code")).to_be_visible()
    assert_no_serious_violations(page, "the set-up page")
    page.get_by_label("Enter the 6-digit code").fill(
        "000000" if code_from_the_secret_shown(page) != "000000" else "111111"
    )
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("That code is not right, or was already used.")).to_be_visible()

    page.get_by_label("Enter the 6-digit code").fill(code_from_the_secret_shown(page))
    page.get_by_role("button", name="Turn on").click()

    expect(
        page.get_by_role("status").filter(has_text="Your authenticator app is set up")
    ).to_be_visible()
    expect(page.get_by_text("they won't be shown again")).to_be_visible()
    codes = new_codes(page)
    assert len(codes) == 10 and all(CODE.match(code) for code in codes), codes
    stored = set(RecoveryCode.objects.filter(user=owner.user).values_list("digest", flat=True))
    assert stored == {recovery_code_digest(code) for code in codes}
    assert_no_serious_violations(page, "the new recovery codes")

    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert [line for line in copied.splitlines() if CODE.match(line)] == codes

    with page.expect_download() as download_info:
        page.get_by_role("button", name="Download (.txt)").click()
    download = download_info.value
    assert download.suggested_filename == "voxpria-recovery-codes.txt"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    text = saved.read_text()
    assert text.startswith("VoxPria recovery codes\n")
    assert [line for line in text.splitlines() if CODE.match(line)] == codes

    page.reload()
    expect(page.get_by_role("heading", name="Security", level=1)).to_be_visible()
    expect(page.get_by_role("list", name="Your new recovery codes")).to_have_count(0)
    expect(page.get_by_text("10 of 10 recovery codes left.")).to_be_visible()
    expect(page.get_by_role("link", name="Replace app")).to_be_visible()


def test_generating_new_recovery_codes_asks_for_the_password(
    login: Login, owner: Membership
) -> None:
    page = login(owner)
    open_security(page)
    page.get_by_role("link", name="Set up authenticator app").click()
    page.get_by_label("Enter the 6-digit code").fill(code_from_the_secret_shown(page))
    page.get_by_role("button", name="Turn on").click()
    first = new_codes(page)
    confirmation_goes_stale(page)

    page.get_by_role("link", name="Generate new codes").click()
    expect(
        page.get_by_text("To generate new recovery codes, confirm your password")
    ).to_be_visible()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Confirm password").click()
    expect(page.get_by_role("heading", name="Generate new recovery codes?")).to_be_visible()
    page.get_by_role("button", name="Generate new codes").click()

    expect(page.get_by_text("they won't be shown again")).to_be_visible()
    second = new_codes(page)
    assert len(second) == 10 and not set(second) & set(first)
    expect(page.get_by_text("10 of 10 recovery codes left.")).to_be_visible()
