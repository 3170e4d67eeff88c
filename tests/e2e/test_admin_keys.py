"""An API key in the Django admin, at a laptop's width: its status in sight, and Revoke."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from accounts.models import Membership
from activity.models import ActivityEvent
from apikeys.services import create_key
from tests.factories import PASSWORD, UserFactory


def log_in_to_the_admin(page: Page, url: str) -> None:
    UserFactory(email="root@voxkeys.test", is_staff=True, is_superuser=True)
    page.goto(f"{url}/admin/login/")
    page.get_by_label("Email address").fill("root@voxkeys.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def test_the_key_list_shows_each_status_at_1280_px(
    page: Page,
    live_server,  # noqa: ANN001
    owner: Membership,
) -> None:
    create_key(
        account=owner.account,
        user=owner.user,
        name="CRM Connector – Salesforce",
        scopes=["calls:read", "calls:write", "contacts:read", "contacts:write", "webhooks:manage"],
        description="Deployed on the CRM's integration server, owned by the sales ops team",
    )
    page.set_viewport_size({"width": 1280, "height": 800})
    log_in_to_the_admin(page, live_server.url)
    page.goto(f"{live_server.url}/admin/apikeys/apikey/")
    status = page.get_by_role("columnheader", name="Status")
    expect(status).to_be_in_viewport(ratio=1)
    expect(
        page.get_by_role("row", name="CRM Connector – Salesforce").get_by_role(
            "cell", name="Active"
        )
    ).to_be_in_viewport(ratio=1)


def test_revoking_from_the_key_page_asks_first(
    page: Page,
    live_server,  # noqa: ANN001
    owner: Membership,
) -> None:
    key = create_key(
        account=owner.account, user=owner.user, name="Main", scopes=["calls:read"]
    ).api_key
    log_in_to_the_admin(page, live_server.url)
    page.goto(f"{live_server.url}/admin/apikeys/apikey/{key.pk}/change/")
    expect(page.get_by_role("button", name="Save")).to_have_count(0)

    page.get_by_role("link", name="Revoke").click()
    expect(page.locator("#content")).to_contain_text("stops working immediately")
    page.get_by_role("link", name="No, take me back").click()
    expect(page.get_by_role("link", name="Revoke")).to_be_visible()
    key.refresh_from_db()
    assert key.is_active

    page.get_by_role("link", name="Revoke").click()
    page.get_by_role("button", name="Yes, revoke it").click()
    expect(
        page.get_by_text("Revoked “Main”. Applications using it can no longer call the API.")
    ).to_be_visible()
    expect(page.get_by_role("link", name="Revoke")).to_have_count(0)
    key.refresh_from_db()
    assert key.revoked_by.email == "root@voxkeys.test"
    assert ActivityEvent.objects.get(event_type="revoked").details == {"staff": True}
