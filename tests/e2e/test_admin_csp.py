"""The Django admin runs under the app's Content-Security-Policy without being broken by it.

The autouse `no_csp_violations` fixture fails the test if the policy blocked anything.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from accounts.models import Membership
from apikeys.services import create_key
from tests.factories import PASSWORD, UserFactory


def test_admin_pages_work_under_the_policy(page: Page, live_server, owner: Membership) -> None:  # noqa: ANN001
    key = create_key(account=owner.account, user=owner.user, name="Main", scopes=["calls:read"])
    UserFactory(email="root@voxkeys.test", is_staff=True, is_superuser=True)
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Email address").fill("root@voxkeys.test")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    for path in (
        "/admin/accounts/account/",
        f"/admin/accounts/account/{owner.account_id}/change/",
        "/admin/accounts/user/add/",
        f"/admin/apikeys/apikey/{key.api_key.pk}/change/",
        "/admin/activity/activityevent/",
    ):
        page.goto(live_server.url + path)
        expect(page.locator("#content")).to_be_visible()
    # The changelist's JavaScript (select all, actions) still runs.
    page.goto(f"{live_server.url}/admin/apikeys/apikey/")
    page.locator("#action-toggle").check()
    expect(page.locator(".action-counter")).to_contain_text("1 of 1 selected")
