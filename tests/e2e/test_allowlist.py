"""Limiting a key to a list of IP addresses, in the browser."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from accounts.models import Membership
from apikeys.models import ApiKey
from apikeys.services import create_key
from tests.support.browser import Login, key_row, open_api_keys, open_create_dialog


def test_create_a_key_limited_to_addresses_then_widen_it(login: Login, owner: Membership) -> None:
    page = login(owner)
    open_api_keys(page)
    dialog = open_create_dialog(page)
    dialog.get_by_label("Key Name").fill("Office Dialer")
    dialog.get_by_label("calls:write", exact=True).check()
    dialog.get_by_label("Allowed IP addresses").fill("203.0.113.7\n198.51.100.300")
    dialog.get_by_role("button", name="Create API Key").click()
    expect(dialog.get_by_label("Allowed IP addresses")).to_have_accessible_description(
        re.compile("^Not an IP address or range: “198.51.100.300”")
    )
    assert not ApiKey.objects.exists()
    dialog.get_by_label("Allowed IP addresses").fill("203.0.113.7\n198.51.100.0/24")
    dialog.get_by_role("button", name="Create API Key").click()
    reveal = page.get_by_role("dialog", name="Your new API key")
    reveal.get_by_role("button", name="Copy", exact=True).click()
    reveal.get_by_role("button", name="Done").click()
    row = key_row(page, "Office Dialer")
    expect(row).to_contain_text("Allowed from 203.0.113.7, 198.51.100.0/24")

    row.get_by_role("button", name="Edit").click()
    edit = page.get_by_role("dialog", name="Edit “Office Dialer”")
    expect(edit.get_by_label("Allowed IP addresses")).to_have_value("203.0.113.7\n198.51.100.0/24")
    edit.get_by_label("Allowed IP addresses").fill("")
    edit.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(key_row(page, "Office Dialer")).not_to_contain_text("Allowed from")
    assert ApiKey.objects.get().allowed_ips == ""


def test_members_do_not_see_edit(login: Login, owner: Membership, member: Membership) -> None:
    create_key(account=owner.account, user=owner.user, name="Main", scopes=["calls:read"])
    page = login(member)
    open_api_keys(page)
    expect(key_row(page, "Main").get_by_role("button", name="Edit")).to_have_count(0)
