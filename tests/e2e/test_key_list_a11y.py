"""axe-core in light and dark on what the list and activity changes added: the one-line hints,
the ⋯ menu open, the filter and tabs, a message, and the activity page's short user agents."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import Page, expect

from accounts.models import Membership
from activity.events import RequestContext
from apikeys.models import ApiKey, KeyScopeUse
from apikeys.services import create_key
from tests.support.browser import Login, assert_no_serious_violations, key_row

COLOR_SCHEMES = ["light", "dark"]
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)


def keys_with_hints(owner: Membership) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=40), tick=False):
        used = create_key(
            account=owner.account,
            user=owner.user,
            name="Dialer",
            scopes=["calls:read", "calls:write", "contacts:read"],
            context=RequestContext(ip_address="198.51.100.4", user_agent=CHROME),
        ).api_key
        create_key(account=owner.account, user=owner.user, name="Idle", scopes=["calls:read"])
    KeyScopeUse.objects.create(api_key=used, scope="calls:read", last_used_at=timezone.now())
    ApiKey.objects.filter(pk=used.pk).update(last_used_at=timezone.now())
    create_key(
        account=owner.account,
        user=owner.user,
        name="Staging",
        scopes=["calls:read"],
        environment="test",
    )


@pytest.mark.parametrize("scheme", COLOR_SCHEMES)
def test_the_list_its_menu_and_a_message_pass_axe(
    page: Page, login: Login, owner: Membership, live_server, scheme: str
) -> None:  # noqa: ANN001
    keys_with_hints(owner)
    page.emulate_media(color_scheme=scheme)
    page.set_viewport_size({"width": 1024, "height": 900})
    login(owner)
    page.goto(f"{live_server.url}/settings/api-keys/")
    expect(page.get_by_text("2 of 3 scopes unused for 30 days")).to_be_visible()
    expect(page.get_by_role("group", name="Show keys")).to_be_visible()
    assert_no_serious_violations(page, f"the list ({scheme})")

    key_row(page, "Dialer").get_by_role("button", name="Actions for Dialer").click()
    expect(page.get_by_role("menu", name="Actions for Dialer")).to_be_visible()
    assert_no_serious_violations(page, f"the open menu ({scheme})")
    page.keyboard.press("Escape")

    key_row(page, "Idle").get_by_role("link", name="Revoke? Idle").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke key").click()
    expect(page.get_by_role("status").filter(has_text="API key “Idle” revoked.")).to_be_visible()
    assert_no_serious_violations(page, f"the message ({scheme})")


@pytest.mark.parametrize("scheme", COLOR_SCHEMES)
def test_the_members_list_and_the_activity_page_pass_axe(
    page: Page, login: Login, owner: Membership, member: Membership, live_server, scheme: str
) -> None:  # noqa: ANN001
    keys_with_hints(owner)
    page.emulate_media(color_scheme=scheme)
    login(member)
    page.goto(f"{live_server.url}/settings/api-keys/")
    expect(page.get_by_text("Ask an owner or admin to remove them").first).to_be_visible()
    assert_no_serious_violations(page, f"the member's list ({scheme})")

    page.get_by_role("navigation", name="API Keys pages").get_by_role(
        "link", name="Activity"
    ).click()
    agent = page.get_by_text("Chrome 156 · Linux").first
    agent.click()
    expect(page.get_by_text(CHROME).first).to_be_visible()
    assert_no_serious_violations(page, f"the activity page ({scheme})")
