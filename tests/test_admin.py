from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Membership
from activity.models import ActivityEvent
from apikeys.models import ApiKey
from apikeys.services import create_key, revoke_key
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_keys(owner: Membership) -> list[ApiKey]:
    return [
        create_key(account=owner.account, user=owner.user, name=name, scopes=scopes)
        for name, scopes in [("Reader", ["calls:read"]), ("Hooks", ["webhooks:manage"])]
    ]


@pytest.mark.parametrize(
    "path",
    [
        "/admin/accounts/account/",
        "/admin/accounts/account/?status__exact=suspended&q=acme",
        "/admin/accounts/user/?q=owner",
        "/admin/accounts/membership/?role__exact=owner",
        "/admin/apikeys/apikey/",
        "/admin/apikeys/apikey/?status=active&scope=calls:read&q=Reader",
        "/admin/apikeys/apikey/?status=expired&environment__exact=test",
        "/admin/activity/activityevent/",
        "/admin/activity/activityevent/?event_type__exact=created&q=Reader",
        "/admin/accounts/user/add/",
    ],
)
def test_admin_pages_render(staff_client: Client, two_keys: list, path: str) -> None:
    assert staff_client.get(path).status_code == 200


def test_account_change_page_lists_members_inline(staff_client: Client, owner: Membership) -> None:
    page = staff_client.get(f"/admin/accounts/account/{owner.account_id}/change/")
    assert page.status_code == 200
    assert "owner@acme.test" in page.text


def test_key_list_filters_by_scope_and_status(staff_client: Client, two_keys: list) -> None:
    page = staff_client.get("/admin/apikeys/apikey/?scope=webhooks:manage")
    assert "Hooks" in page.text and "Reader" not in page.text


def test_digest_is_never_displayed_and_keys_cannot_be_added(
    staff_client: Client, two_keys: list
) -> None:
    key = two_keys[0].api_key
    page = staff_client.get(f"/admin/apikeys/apikey/{key.pk}/change/")
    assert page.status_code == 200
    assert key.masked_key in page.text
    assert key.key_digest not in page.text
    assert staff_client.get("/admin/apikeys/apikey/add/").status_code == 403


def test_revoke_selected_goes_through_the_service(staff_client: Client, two_keys: list) -> None:
    response = staff_client.post(
        "/admin/apikeys/apikey/",
        {"action": "revoke_selected", "_selected_action": [k.api_key.pk for k in two_keys]},
        follow=True,
    )
    assert "Revoked 2 key(s)." in response.text
    revoked = ApiKey.objects.revoked()
    assert revoked.count() == 2
    assert {key.revoked_by.email for key in revoked} == {"staff@voxkeys.test"}

    again = staff_client.post(
        "/admin/apikeys/apikey/",
        {"action": "revoke_selected", "_selected_action": [two_keys[0].api_key.pk]},
        follow=True,
    )
    assert "already revoked" in again.text


def test_events_are_read_only_in_the_admin(staff_client: Client, two_keys: list) -> None:
    event = ActivityEvent.objects.filter(api_key=two_keys[0].api_key).get()
    page = staff_client.get(f"/admin/activity/activityevent/{event.pk}/change/")
    assert page.status_code == 200
    assert "Created a live key with calls:read" in page.text
    assert 'name="_save"' not in page.text
    assert staff_client.get("/admin/activity/activityevent/add/").status_code == 403
    assert staff_client.get(f"/admin/activity/activityevent/{event.pk}/delete/").status_code == 403
    response = staff_client.post(
        f"/admin/activity/activityevent/{event.pk}/change/", {"event_type": "revoked"}
    )
    assert response.status_code == 403
    assert ActivityEvent.objects.get(pk=event.pk).event_type == "created"


def test_admin_revoke_is_recorded_as_staff(staff_client: Client, two_keys: list) -> None:
    staff_client.post(
        "/admin/apikeys/apikey/",
        {"action": "revoke_selected", "_selected_action": [two_keys[0].api_key.pk]},
        REMOTE_ADDR="192.0.2.9",
    )
    event = ActivityEvent.objects.get(event_type="revoked")
    assert (event.actor_email, event.ip_address, event.details) == (
        "staff@voxkeys.test",
        "192.0.2.9",
        {"staff": True},
    )


def test_staff_set_an_accounts_maximum_key_lifetime(
    staff_client: Client, owner: Membership
) -> None:
    url = f"/admin/accounts/account/{owner.account_id}/change/"
    data = {
        "name": "Acme Voice",
        "status": "active",
        "api_key_limit": 10,
        "credit_balance": 5000,
        "max_key_lifetime_days": 30,
        "api_rate_limit": 25,
        "memberships-TOTAL_FORMS": 0,
        "memberships-INITIAL_FORMS": 0,
    }
    response = staff_client.post(url, data)
    assert response.status_code == 302
    owner.account.refresh_from_db()
    assert owner.account.max_key_lifetime_days == 30
    data["max_key_lifetime_days"] = 0
    assert "Ensure this value is greater than or equal to 1." in staff_client.post(url, data).text


# A key's admin page: read-only, with a Revoke button that goes through revoke_key.


def change_url(key: ApiKey) -> str:
    return f"/admin/apikeys/apikey/{key.pk}/change/"


def revoke_url(key: ApiKey) -> str:
    return f"/admin/apikeys/apikey/{key.pk}/revoke/"


def test_key_page_has_no_save_buttons_but_offers_revoke(
    staff_client: Client, two_keys: list
) -> None:
    key = two_keys[0].api_key
    page = staff_client.get(change_url(key))
    assert page.status_code == 200
    for save in ("_save", "_continue", "_addanother", "_saveasnew"):
        assert f'name="{save}"' not in page.text
    assertContains(page, f'<a href="{revoke_url(key)}" class="deletelink">Revoke</a>', html=True)


def test_posting_the_key_page_changes_nothing(staff_client: Client, two_keys: list) -> None:
    key = two_keys[0].api_key
    response = staff_client.post(change_url(key), {"name": "Renamed", "_save": "Save"})
    assert response.status_code == 403
    key.refresh_from_db()
    assert key.name == "Reader"


def test_revoked_keys_offer_no_revoke(staff_client: Client, two_keys: list) -> None:
    key = two_keys[0].api_key
    revoke_key(key=key, user=key.created_by)
    page = staff_client.get(change_url(key))
    assertNotContains(page, revoke_url(key))
    response = staff_client.post(revoke_url(key), follow=True)
    assertContains(response, "“Reader” is revoked: there is nothing to revoke.")
    assert ActivityEvent.objects.filter(event_type="revoked").count() == 1


def test_revoke_button_asks_then_revokes_through_the_service(
    staff_client: Client, two_keys: list, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = two_keys[0].api_key
    calls = []

    def recording_revoke_key(**kwargs: object) -> ApiKey:
        calls.append(kwargs)
        return revoke_key(**kwargs)

    monkeypatch.setattr("apikeys.admin.revoke_key", recording_revoke_key)

    question = staff_client.get(revoke_url(key))
    assert question.status_code == 200
    assertContains(question, "<title>Revoke “Reader”? | Django site admin</title>", html=True)
    assertContains(question, key.masked_key)
    assertContains(question, "stops working immediately")
    assertContains(question, 'name="csrfmiddlewaretoken"')
    assertContains(
        question,
        f'<a href="{change_url(key)}" class="button cancel-link">No, take me back</a>',
        html=True,
    )
    key.refresh_from_db()
    assert key.is_active and calls == []

    response = staff_client.post(revoke_url(key), REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 302 and response["Location"] == change_url(key)
    assert [call["as_staff"] for call in calls] == [True]
    key.refresh_from_db()
    assert key.revoked_by.email == "staff@voxkeys.test"
    event = ActivityEvent.objects.get(event_type="revoked")
    assert (event.api_key, event.actor_email, event.ip_address, event.details) == (
        key,
        "staff@voxkeys.test",
        "192.0.2.9",
        {"staff": True},
    )
    page = staff_client.get(change_url(key))
    assertContains(page, "Revoked “Reader”. Applications using it can no longer call the API.")
    assertNotContains(page, revoke_url(key))
    assert ApiKey.objects.get(pk=two_keys[1].api_key.pk).is_active


def test_revoke_needs_the_change_permission(two_keys: list) -> None:
    key = two_keys[0].api_key
    viewer = UserFactory(email="viewer@voxkeys.test", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_apikey"))
    client = Client()
    client.force_login(viewer)
    page = client.get(change_url(key))
    assert page.status_code == 200
    assertNotContains(page, revoke_url(key))
    assert client.get(revoke_url(key)).status_code == 403
    assert client.post(revoke_url(key)).status_code == 403
    key.refresh_from_db()
    assert key.is_active
    assert not ActivityEvent.objects.filter(event_type="revoked").exists()


def test_revoke_enforces_csrf(two_keys: list) -> None:
    key = two_keys[0].api_key
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(email="root@voxkeys.test", is_staff=True, is_superuser=True))
    assert client.post(revoke_url(key)).status_code == 403
    key.refresh_from_db()
    assert key.is_active


def test_unknown_key_is_a_404(staff_client: Client) -> None:
    assert staff_client.get("/admin/apikeys/apikey/999999/revoke/").status_code == 404
