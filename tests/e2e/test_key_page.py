"""A key's page in Chromium: from the list to the key's requests, clients and scopes in use."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.request import Request, urlopen

from django.utils import timezone
from playwright.sync_api import expect
from pytest_django.live_server_helper import LiveServer

from accounts.models import Membership
from apikeys.auth.usage import UsageRecorder
from apikeys.models import KeyClient, KeyScopeUse, KeyUsage
from apikeys.services import create_key
from tests.support.browser import Login, open_api_keys


def test_open_a_key_and_see_how_it_is_used(login: Login, owner: Membership) -> None:
    api_key = create_key(
        account=owner.account,
        user=owner.user,
        name="CRM sync",
        scopes=["calls:read", "contacts:read"],
    ).api_key
    now = timezone.now()
    # In production the usage recorder fills these tables; here they are written directly.
    KeyUsage.objects.create(
        api_key=api_key,
        hour=now - timedelta(days=2),
        scope="calls:read",
        status_class=2,
        requests=1_190,
    )
    KeyUsage.objects.create(
        api_key=api_key,
        hour=now - timedelta(days=2),
        scope="calls:read",
        status_class=4,
        error_code="rate_limited",
        requests=14,
    )
    KeyClient.objects.create(
        api_key=api_key,
        ip_address="198.51.100.7",
        first_seen=now - timedelta(days=2),
        last_seen=now - timedelta(hours=1),
        user_agent="crm-sync/2.1",
        requests=1_204,
    )
    KeyScopeUse.objects.create(
        api_key=api_key, scope="calls:read", last_used_at=now - timedelta(hours=2)
    )

    page = login(owner)
    open_api_keys(page)
    page.get_by_role("link", name="CRM sync").click()
    expect(page.get_by_role("heading", name="CRM sync", level=1)).to_be_visible()

    chart = page.get_by_role(
        "figure", name=re.compile("1,204 requests in the last 30 days, 1.2 % errors")
    )
    expect(chart).to_be_visible()
    clients = page.get_by_role("region", name="Clients")
    expect(clients.get_by_role("row", name="198.51.100.7")).to_contain_text("crm-sync/2.1")
    scopes = page.get_by_role("region", name="Permissions in use")
    expect(scopes.get_by_role("listitem").filter(has_text="contacts:read")).to_have_text(
        "contacts:read: never used"
    )
    expect(scopes.get_by_role("listitem").filter(has_text="calls:read")).to_contain_text(
        re.compile(r"2\shours ago")
    )

    page.get_by_text("Show as a table").click()
    day = (now - timedelta(days=2)).date()
    table = page.get_by_role("table", name="Requests per day for the last 30 days")
    row = table.get_by_role("row", name=re.compile(rf"^{day.day} {day:%b %Y} "))
    expect(row).to_be_visible()
    expect(row.get_by_role("cell")).to_have_text(["1,204", "14"])


def test_calls_made_with_the_key_appear_on_its_page(
    login: Login, owner: Membership, live_server: LiveServer, usage_recorder: UsageRecorder
) -> None:
    created = create_key(
        account=owner.account,
        user=owner.user,
        name="Dialer",
        scopes=["calls:read", "contacts:read"],
    )
    for _ in range(3):
        request = Request(
            f"{live_server.url}/api/v1/calls",
            headers={"Authorization": f"Bearer {created.secret}", "User-Agent": "dialer/1.0"},
        )
        with urlopen(request) as response:
            assert response.status == 200
    # The recorder writes in batches; a test writes its batch at once.
    assert usage_recorder.flush()

    page = login(owner)
    open_api_keys(page)
    page.get_by_role("link", name="Dialer").click()
    expect(
        page.get_by_role("figure", name=re.compile("3 requests in the last 30 days, 0 % errors"))
    ).to_be_visible()
    clients = page.get_by_role("region", name="Clients")
    expect(clients.get_by_role("row", name=re.compile("127.0.0.1"))).to_contain_text("dialer/1.0")
    scopes = page.get_by_role("region", name="Permissions in use")
    expect(scopes.get_by_role("listitem").filter(has_text="calls:read")).not_to_contain_text(
        "never used"
    )
    expect(scopes.get_by_role("listitem").filter(has_text="contacts:read")).to_have_text(
        "contacts:read: never used"
    )


def test_revoking_from_the_key_page_leaves_it_read_only(login: Login, owner: Membership) -> None:
    create_key(account=owner.account, user=owner.user, name="Old CRM", scopes=["calls:read"])
    page = login(owner)
    open_api_keys(page)
    page.get_by_role("link", name="Old CRM").click()

    page.get_by_role("button", name="Revoke Old CRM").click()
    page.get_by_role("dialog", name="Revoke “Old CRM”?").get_by_role(
        "button", name="Revoke key"
    ).click()

    expect(page.get_by_role("status").filter(has_text="API key “Old CRM” revoked.")).to_be_visible()
    expect(page.get_by_text("This key was revoked")).to_be_visible()
    expect(page.get_by_role("button", name="Revoke Old CRM")).to_have_count(0)
    expect(page.get_by_role("button", name="Edit Old CRM")).to_have_count(0)


def test_the_chart_is_dated_and_its_top_error_leads_to_the_fix(
    login: Login, owner: Membership
) -> None:
    api_key = create_key(
        account=owner.account, user=owner.user, name="Reports", scopes=["calls:read"]
    ).api_key
    now = timezone.now()
    KeyUsage.objects.create(
        api_key=api_key,
        hour=now - timedelta(days=8),
        scope="calls:read",
        status_class=2,
        requests=300,
    )
    KeyUsage.objects.create(
        api_key=api_key,
        hour=now - timedelta(days=1),
        scope="campaigns:read",
        status_class=4,
        error_code="insufficient_scope",
        requests=12,
    )
    page = login(owner)
    open_api_keys(page)
    page.get_by_role("link", name="Reports").click()

    chart = page.get_by_role("figure", name=re.compile("312 requests in the last 30 days"))
    expect(chart.get_by_text("Today", exact=True)).to_be_visible()
    expect(chart).to_contain_text("scale 0 to 500 requests a day")  # 300, rounded up
    # Each day is a stop for the keyboard, with its date, requests and errors.
    last_day = chart.locator("li[tabindex='0']")
    last_day.focus()
    page.keyboard.press("ArrowLeft")
    expect(chart.locator("li:focus")).to_contain_text("12 requests, 12 errors")

    errors = page.get_by_role("list", name="Top errors")
    expect(errors).to_contain_text("insufficient_scope × 12 (needs campaigns:read)")
    errors.get_by_role("link", name="→ Edit scopes").click()
    dialog = page.get_by_role("dialog", name="Edit “Reports”")
    expect(dialog.get_by_label("campaigns:read", exact=True)).to_be_visible()
