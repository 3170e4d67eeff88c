"""A least-privilege hint in Chromium: one hint per key, one click from it to the edit form."""

from __future__ import annotations

from datetime import timedelta

import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Membership
from apikeys.models import ApiKey, KeyScopeUse
from apikeys.services import create_key
from tests.support.browser import Login, key_row, open_api_keys

HINT = "1 of 2 scopes unused for 30 days"


def test_remove_an_unused_scope_from_its_hint(login: Login, owner: Membership) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=40), tick=False):
        api_key = create_key(
            account=owner.account,
            user=owner.user,
            name="Dialer",
            scopes=["calls:read", "calls:write"],
        ).api_key
    KeyScopeUse.objects.create(api_key=api_key, scope="calls:read", last_used_at=timezone.now())
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now())

    page = login(owner)
    open_api_keys(page)
    row = key_row(page, "Dialer")
    expect(row.get_by_text(HINT)).to_be_visible()
    row.get_by_role("link", name="Review the unused scopes of Dialer").click()

    dialog = page.get_by_role("dialog", name="Edit “Dialer”")
    expect(dialog.get_by_label("calls:read", exact=True)).to_be_checked()
    # The form opens with ?drop=calls:write: unticked, and saying why.
    expect(dialog.get_by_label("calls:write", exact=True)).not_to_be_checked()
    expect(dialog.get_by_text("will be removed: unused for 30 days")).to_be_visible()
    dialog.get_by_role("button", name="Save changes").click()

    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.get_by_text("API key “Dialer” updated.")).to_be_visible()
    expect(row.get_by_text(HINT)).to_have_count(0)
    expect(row.get_by_text("calls:write")).to_have_count(0)
    assert ApiKey.objects.get().scopes == "calls:read"
