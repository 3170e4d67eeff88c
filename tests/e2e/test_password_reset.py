"""Forgot password in the browser: the email from the outbox, its link, a new password, once."""

from __future__ import annotations

import re

from django.core import mail
from playwright.sync_api import Page, expect

from accounts.models import Membership
from tests.support.browser import assert_no_serious_violations

NEW_PASSWORD = "Tr0ub4dor&3-horse-staple"


def reset_link(to: str) -> str:
    [message] = [message for message in mail.outbox if message.to == [to]]
    [link] = re.findall(r"https?://\S+", message.body)
    return link


def test_forgot_password_from_the_email_to_signing_in_and_the_link_works_once(
    page: Page, live_server, owner: Membership
) -> None:
    page.goto(f"{live_server.url}/login/")
    page.get_by_role("link", name="Forgot password?").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
    assert_no_serious_violations(page, "the reset form")
    page.get_by_label("Email").fill("Owner@ACME.test")
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    link = reset_link("owner@acme.test")
    assert link.startswith(live_server.url)
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert_no_serious_violations(page, "the new password form")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Save new password").click()
    expect(page.get_by_role("heading", name="Password saved")).to_be_visible()

    page.get_by_role("link", name="Log in").click()
    page.get_by_label("Email").fill("owner@acme.test")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert [message.subject for message in mail.outbox] == [
        "[VoxPria] Reset your password",
        "[VoxPria] Your password was reset",
    ]

    # The same link a second time: refused, with the way to a new one.
    page.goto(link)
    expect(page.get_by_role("heading", name="This link doesn't work")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("already used, has expired")
    page.get_by_role("link", name="Ask for a new link").click()
    expect(page.get_by_role("heading", name="Reset your password")).to_be_visible()
