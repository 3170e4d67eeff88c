"""The lifecycle pages: expiry in the create form and the list, roll, edit, the activity log."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Account, Membership
from activity.models import ActivityEvent
from activity.paging import EVENTS_PER_PAGE
from activity.summaries import event_summary
from apikeys.models import ApiKey
from apikeys.services import CreatedKey, create_key, revoke_key, roll_key
from tests.support.api import bearer
from tests.support.apikeys import INDEX, form_data, revealed_secret
from tests.support.htmx import HTMX

pytestmark = pytest.mark.django_db

CREATE = reverse("apikeys:create")
ACTIVITY = reverse("activity:index")
START = datetime(2026, 11, 30, 9, 30, tzinfo=UTC)


def new_key(membership: Membership, name: str = "Main App", **kwargs: object) -> CreatedKey:
    kwargs.setdefault("scopes", ["calls:read"])
    return create_key(account=membership.account, user=membership.user, name=name, **kwargs)


def roll_url(api_key: ApiKey) -> str:
    return reverse("apikeys:roll", args=[api_key.pk])


def edit_url(api_key: ApiKey) -> str:
    return reverse("apikeys:edit", args=[api_key.pk])


# Create with an expiry and an environment --------------------------------------------------------


def test_create_form_offers_the_expiry_choices_with_90_days_selected(owner_client: Client) -> None:
    with time_machine.travel(START, tick=False):
        response = owner_client.get(CREATE)
    for label in ("30 days", "60 days", "180 days", "1 year", "Custom date", "No expiration"):
        assertContains(response, f">{label}</option>")
    assertContains(response, 'value="90" data-expires-text="Expires on 28 February 2027" selected')
    assertContains(response, "Expires on 28 February 2027.")
    assertContains(response, 'min="2026-12-01" max="2027-11-30"')
    assertContains(response, 'value="live" id="id_environment_0" checked')


def test_create_form_follows_the_accounts_maximum_lifetime(
    owner_client: Client, owner: Membership
) -> None:
    owner.account.max_key_lifetime_days = 45
    owner.account.save()
    response = owner_client.get(CREATE)
    assertContains(response, ">30 days</option>")
    assertNotContains(response, ">60 days</option>")
    assertNotContains(response, ">No expiration</option>")
    assertContains(response, "requires keys to expire within 45 days")


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_create_a_test_key_with_a_custom_expiry(owner_client: Client, htmx: bool) -> None:
    data = form_data(environment="test", expiration="custom", expires_on="2027-02-28")
    with time_machine.travel(START, tick=False):
        response = owner_client.post(CREATE, data, headers=HTMX if htmx else {})
    assert response.status_code == 200
    secret = revealed_secret(response)
    assert secret.startswith("vxp_test_")
    assertContains(response, "Expires on 28 February 2027.")
    assertContains(response, "Test</span> key")
    key = ApiKey.objects.get()
    assert key.environment == "test"
    assert key.expires_at == datetime(2027, 2, 28, tzinfo=UTC)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"expiration": "custom"}, "Pick the date the key should expire on."),
        ({"expiration": "custom", "expires_on": "2026-11-30"}, "Pick a date from tomorrow on."),
        ({"expiration": "custom", "expires_on": "28/02/2027"}, "Enter the date as YYYY-MM-DD."),
        ({"expiration": "ever"}, "Choose one of the expiration options."),
        ({"environment": "prod"}, "Choose Live or Test."),
        ({"description": "d" * 501}, "Keep the description to 500 characters or fewer"),
    ],
)
def test_bad_lifecycle_input_is_shown_next_to_its_field(
    owner_client: Client, data: dict[str, str], message: str
) -> None:
    with time_machine.travel(START, tick=False):
        response = owner_client.post(CREATE, form_data(**data), headers=HTMX)
    assert response.status_code == 422
    assertContains(response, message, status_code=422)
    assert not ApiKey.objects.exists()


def test_no_expiration_shows_its_warning(owner_client: Client) -> None:
    response = owner_client.post(CREATE, form_data(expiration="never", name=""), headers=HTMX)
    assertContains(
        response, 'data-no-expiry-warning><span aria-hidden="true">⚠</span>', status_code=422
    )


# The list -----------------------------------------------------------------------------------


def test_list_shows_expiry_and_warns_a_week_ahead(owner_client: Client, owner: Membership) -> None:
    with time_machine.travel(START, tick=False) as clock:
        new_key(owner, "Soon", expiration="30")
        new_key(owner, "Later", expiration="90")
        new_key(owner, "Forever", expiration="never")
        new_key(owner, "Test key", environment="test")
        clock.move_to(START + timedelta(days=18))
        owner_client.force_login(owner.user)  # the first session has ended by now
        response = owner_client.get(INDEX)
    assertContains(response, "Expires in 12 days")
    assertContains(response, "Expires in 72 days")
    assertContains(response, "No expiration")
    assertNotContains(response, "Expires soon")
    with time_machine.travel(START + timedelta(days=23), tick=False):
        owner_client.force_login(owner.user)
        response = owner_client.get(INDEX)
    assertContains(response, "Expires in 7 days")  # exactly 7 days left: warned
    assertContains(response, "Expires soon", count=1)
    assertContains(response, '<span class="badge badge--test">Test</span>', count=1)


def test_rolled_and_expired_keys_show_what_happened(
    owner_client: Client, owner: Membership
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        rolled = new_key(owner, "Rolled")
        roll_key(key=rolled.api_key, user=owner.user, grace=timedelta(hours=24))
        expiring = new_key(owner, "Expiring", expiration="30")
        revoked = new_key(owner, "Revoked")
        revoke_key(key=revoked.api_key, user=owner.user)
        clock.move_to(START + timedelta(hours=1))
        response = owner_client.get(INDEX)
        # The rolled key sits under its successor (apikeys/_previous_secret.html), not in a row.
        rows = [key.name for key in response.context["active_keys"]]
        assert rows == ["Expiring", "Rolled"]
        assert response.context["active_keys"][1].previous_secret == rolled.api_key
        assertContains(response, "2 of 10 keys")
        clock.move_to(START + timedelta(days=30))
        owner_client.force_login(owner.user)
        response = owner_client.get(INDEX, {"inactive": 1})
        owner_client.get(INDEX)
    assertContains(response, "Expired and revoked keys (3)")
    assertContains(response, '<span class="badge badge--neutral">Expired</span>', count=2)
    assertContains(response, '<span class="badge badge--danger">Revoked</span>', count=1)
    assertContains(response, "after it was rolled", count=1)
    # The list was the first to see the expiries: it recorded them, once.
    assert set(
        ActivityEvent.objects.filter(event_type="expired").values_list("api_key__name", flat=True)
    ) == {"Rolled", "Expiring"}
    assert ActivityEvent.objects.filter(event_type="expired").count() == 2
    assert expiring.api_key.pk


def test_members_see_no_lifecycle_actions(member_client: Client, owner: Membership) -> None:
    created = new_key(owner)
    response = member_client.get(INDEX)
    assertNotContains(response, edit_url(created.api_key))
    assertNotContains(response, roll_url(created.api_key))
    for url in (edit_url(created.api_key), roll_url(created.api_key)):
        assert member_client.get(url).status_code == 403
        assert member_client.post(url, {"grace": "now", "name": "x"}).status_code == 403
    assert ApiKey.objects.get().name == "Main App"


# Roll -------------------------------------------------------------------------------------------


def test_roll_dialog_explains_and_defaults_to_24_hours(
    owner_client: Client, owner: Membership
) -> None:
    created = new_key(owner)
    response = owner_client.get(roll_url(created.api_key), headers=HTMX)
    assertContains(response, "Roll “Main App”?")
    assertContains(response, "Old key stops working")
    assert re.search(r'value="24h"[^>]* checked', response.content.decode())
    for label in ("Now", "In 1 hour", "In 24 hours", "In 3 days", "In 7 days"):
        assertContains(response, label)
    assertContains(response, "Roll API Key")


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_roll_reveals_the_new_key_once(owner_client: Client, owner: Membership, htmx: bool) -> None:
    old = new_key(owner)
    response = owner_client.post(
        roll_url(old.api_key), {"grace": "1h"}, headers=HTMX if htmx else {}
    )
    assert response.status_code == 200
    secret = revealed_secret(response)
    assert secret != old.secret
    assertContains(response, "was rolled")
    assertContains(response, "keeps working until")
    assert response["Cache-Control"].startswith("max-age=0")
    assert Client().get("/api/v1/credits", headers=bearer(secret)).status_code == 200
    assert Client().get("/api/v1/credits", headers=bearer(old.secret)).status_code == 200
    listing = owner_client.get(INDEX)
    assert secret not in listing.content.decode()


def test_rolling_again_during_grace_is_refused_with_a_reason(
    owner_client: Client, owner: Membership
) -> None:
    old = new_key(owner)
    roll_key(key=old.api_key, user=owner.user, grace=timedelta(hours=24))
    response = owner_client.post(roll_url(old.api_key), {"grace": "1h"}, headers=HTMX)
    assertContains(response, "This key was already rolled", status_code=403)
    assert ApiKey.objects.count() == 2


@pytest.mark.parametrize("grace", ["", "2h", "forever"])
def test_roll_needs_a_known_grace(owner_client: Client, owner: Membership, grace: str) -> None:
    old = new_key(owner)
    response = owner_client.post(roll_url(old.api_key), {"grace": grace}, headers=HTMX)
    assertContains(response, "Choose when the old key stops working.", status_code=422)
    assert ApiKey.objects.count() == 1


def test_another_accounts_key_is_not_found(owner_client: Client, other_owner: Membership) -> None:
    theirs = new_key(other_owner)
    for url in (roll_url(theirs.api_key), edit_url(theirs.api_key)):
        assert owner_client.get(url).status_code == 404
        assert owner_client.post(url, {"grace": "now"}).status_code == 404
    assert ApiKey.objects.get().replaced_by is None


# Edit -------------------------------------------------------------------------------------------


def test_edit_form_shows_the_current_values(owner_client: Client, owner: Membership) -> None:
    created = new_key(owner, description="On api-1", scopes=["calls:read", "contacts:write"])
    response = owner_client.get(edit_url(created.api_key), headers=HTMX)
    assertContains(response, 'value="Main App"')
    assertContains(response, 'value="On api-1"')
    content = response.content.decode()
    assert 'value="contacts:write" data-scope-checkbox' in content
    assert content.count(" checked>") == 2


@pytest.mark.parametrize("htmx", [False, True], ids=["page", "htmx"])
def test_edit_saves_and_returns_to_the_list(
    owner_client: Client, owner: Membership, htmx: bool
) -> None:
    created = new_key(owner)
    data = {"name": "Main App v2", "description": "api-1", "scopes": ["contacts:read"]}
    response = owner_client.post(edit_url(created.api_key), data, headers=HTMX if htmx else {})
    if htmx:
        assert response.status_code == 204
        assert "keysChanged" in response["HX-Trigger"]
    else:
        assert response.status_code == 302
    key = ApiKey.objects.get()
    assert (key.name, key.description, key.scopes) == ("Main App v2", "api-1", "contacts:read")
    assertContains(owner_client.get(INDEX), "API key “Main App v2” updated.")


def test_edit_errors_show_in_the_form(owner_client: Client, owner: Membership) -> None:
    new_key(owner, "Taken")
    created = new_key(owner)
    taken = owner_client.post(
        edit_url(created.api_key), {"name": "taken", "scopes": ["calls:read"]}, headers=HTMX
    )
    assertContains(taken, "An active key already has this name.", status_code=422)
    no_scope = owner_client.post(
        edit_url(created.api_key), {"name": "Main App", "scopes": []}, headers=HTMX
    )
    assertContains(no_scope, "Choose at least one permission scope.", status_code=422)
    assert ApiKey.objects.get(pk=created.api_key.pk).name == "Main App"


def test_a_revoked_key_cannot_be_edited_or_rolled(owner_client: Client, owner: Membership) -> None:
    created = new_key(owner)
    revoke_key(key=created.api_key, user=owner.user)
    for url in (edit_url(created.api_key), roll_url(created.api_key)):
        response = owner_client.get(url, headers=HTMX)
        assertContains(response, "“Main App” has revoked", status_code=403)


# Activity -----------------------------------------------------------------------------------


def test_activity_lists_events_newest_first_for_every_member(
    member_client: Client, owner_client: Client, owner: Membership
) -> None:
    created = new_key(owner, scopes=["calls:read"])
    owner_client.post(
        edit_url(created.api_key),
        {"name": "Main App", "scopes": ["calls:read", "contacts:read"]},
        HTTP_USER_AGENT="Firefox/133",
        REMOTE_ADDR="198.51.100.4",
    )
    response = member_client.get(ACTIVITY)
    assert response.status_code == 200
    content = response.content.decode()
    assert content.index("Edited scopes: added contacts:read") < content.index("Created a live")
    assertContains(response, "198.51.100.4")
    assertContains(response, "Firefox/133")
    assertContains(response, "owner@acme.test", count=2)
    assertContains(owner_client.get(INDEX), f'href="{ACTIVITY}"')


def test_activity_filters_by_key_and_event(owner_client: Client, owner: Membership) -> None:
    first = new_key(owner, "First")
    second = new_key(owner, "Second")
    revoke_key(key=first.api_key, user=owner.user)
    roll_key(key=second.api_key, user=owner.user, grace=timedelta(hours=1))
    by_key = owner_client.get(ACTIVITY, {"key": first.api_key.pk})
    assert [row for row in ("Revoked", "Created a live") if row in by_key.content.decode()] == [
        "Revoked",
        "Created a live",
    ]
    assertNotContains(by_key, "Rolled: replaced")
    by_type = owner_client.get(ACTIVITY, {"event": "rolled"})
    assertContains(by_type, "Rolled: replaced by")
    assertNotContains(by_type, "Created a live")
    assertContains(by_type, "Show all")


@pytest.mark.parametrize("query", [{"key": "abc"}, {"key": "999999"}, {"event": "deleted"}])
def test_a_bad_filter_is_an_error_not_a_crash(
    owner_client: Client, owner: Membership, query: dict[str, str]
) -> None:
    new_key(owner)
    response = owner_client.get(ACTIVITY, query)
    assert response.status_code == 200
    assertContains(response, 'class="field__error"')
    assertNotContains(response, "Created a live")


def test_another_accounts_key_cannot_be_used_as_a_filter(
    owner_client: Client, other_owner: Membership
) -> None:
    theirs = new_key(other_owner)
    response = owner_client.get(ACTIVITY, {"key": theirs.api_key.pk})
    assertContains(response, "That key is not one of this account's keys.")
    assertNotContains(response, theirs.api_key.masked_key)


def test_activity_pages_by_fifty_with_newer_and_older(
    owner_client: Client, owner: Membership
) -> None:
    for number in range(EVENTS_PER_PAGE + 5):
        new_key(owner, f"Key {number}")
        ApiKey.objects.filter(name=f"Key {number}").update(revoked_at=START)
    first = owner_client.get(ACTIVITY)
    assert first.content.decode().count("Created a live") == EVENTS_PER_PAGE
    assertNotContains(first, 'rel="prev"')
    older = re.search(r'href="\?before=(\d+)" rel="next">Older</a>', first.content.decode())
    assert older is not None
    second = owner_client.get(ACTIVITY, {"before": older.group(1)})
    assert second.content.decode().count("Created a live") == 5
    assertContains(second, ">Newer</a>")
    assertNotContains(second, ">Older</a>")
    # An old page-number link is ignored: it reads as the newest page.
    assert owner_client.get(ACTIVITY, {"page": "99"}).content.decode().count("Created a live") == 50


def test_activity_empty_state(member_client: Client, account: Account) -> None:
    assertContains(member_client.get(ACTIVITY), "No activity yet")


# Where a roll lands, and the old secret ended early ----------------------------------------------


def detail_url(api_key: ApiKey) -> str:
    return reverse("apikeys:detail", args=[api_key.pk])


def end_grace_url(api_key: ApiKey) -> str:
    return reverse("apikeys:end_grace", args=[api_key.pk])


def page_text(content: bytes) -> str:
    return " ".join(re.sub(r"<[^>]+>", "", content.decode()).split())


def test_a_roll_from_the_keys_page_lands_on_the_new_keys_page(
    owner_client: Client, owner: Membership
) -> None:
    old = new_key(owner).api_key
    on_its_page = {**HTMX, "HX-Current-URL": f"http://testserver{detail_url(old)}"}
    response = owner_client.post(roll_url(old), {"grace": "24h"}, headers=on_its_page)
    successor = ApiKey.objects.get(replaces=old)
    assertContains(response, f'data-land-on="{detail_url(successor)}"')

    from_the_list = {**HTMX, "HX-Current-URL": f"http://testserver{INDEX}"}
    response = owner_client.post(roll_url(successor), {"grace": "24h"}, headers=from_the_list)
    assertNotContains(response, "data-land-on")


def test_the_old_keys_page_names_its_replacement_and_when_its_secret_stops(
    owner_client: Client, owner: Membership
) -> None:
    with time_machine.travel(START, tick=False) as clock:
        old = new_key(owner).api_key
        successor = roll_key(key=old, user=owner.user, grace=timedelta(hours=24)).api_key
        clock.move_to(START + timedelta(minutes=30))
        text = page_text(owner_client.get(detail_url(old)).content)
        assert f"Replaced by Main App ({successor.masked_key})" in text
        assert "keeps working until 1 Dec 2026, 09:30 UTC (in 23 h)" in text
        assertContains(owner_client.get(detail_url(old)), f'href="{detail_url(successor)}"')
        successor_page = page_text(owner_client.get(detail_url(successor)).content)
        assert f"Previous secret {old.masked_key} · stops working in 23 h" in successor_page
        assert "End now" in successor_page


def test_a_roll_with_now_reads_rolled_never_revoked(
    owner_client: Client, owner: Membership
) -> None:
    old = new_key(owner).api_key
    roll_key(key=old, user=owner.user, grace=timedelta(0))
    text = page_text(owner_client.get(detail_url(old)).content)
    assert "Rolled (old secret ended immediately)." in text
    assert "revoked" not in text.lower().replace("revoked keys", "")
    assert "StatusRolled" in text


def test_end_now_asks_then_ends_the_old_secret_and_only_the_new_key_works(
    owner_client: Client, owner: Membership
) -> None:
    created = new_key(owner)
    rolled = roll_key(key=created.api_key, user=owner.user, grace=timedelta(days=3))
    confirm = owner_client.get(end_grace_url(created.api_key), headers=HTMX)
    assertContains(confirm, "End the old secret of “Main App” now?")
    assertContains(confirm, '<button type="submit" class="button button--danger">End now</button>')

    response = owner_client.post(end_grace_url(created.api_key), headers=HTMX)
    assert response.status_code == 204
    assert "keysChanged" in response["HX-Trigger"]
    assert owner_client.get("/api/v1/credits", headers=bearer(created.secret)).status_code == 401
    assert owner_client.get("/api/v1/credits", headers=bearer(rolled.secret)).status_code == 200
    event = ActivityEvent.objects.get(api_key=created.api_key, event_type="revoked")
    assert event.details == {"grace_ended": True, "new_key": rolled.api_key.masked_key}
    assert event.related_key == rolled.api_key
    text = page_text(owner_client.get(detail_url(created.api_key)).content)
    assert "Its secret was ended early" in text
    assert "This key was revoked" not in text
    # Both keys counted once against the limit before; one still does.
    assert owner.account.api_keys.counted_against_limit().count() == 1
    # A second End now (another tab) changes nothing.
    owner_client.post(end_grace_url(created.api_key))
    assert ActivityEvent.objects.filter(api_key=created.api_key, event_type="revoked").count() == 1
    # The activity log and the list say what happened: an early end, not a revocation.
    assert event_summary(event) == (
        f"Ended the old secret's grace period: only {rolled.api_key.masked_key} works now"
    )
    listing = owner_client.get(INDEX, {"inactive": 1})
    assertContains(listing, '<span class="badge badge--neutral">Rolled</span>', count=1)
    assertNotContains(listing, '<span class="badge badge--danger">Revoked</span>')


def test_end_now_is_for_owners_and_admins_and_rolled_keys_only(
    owner_client: Client, member_client: Client, owner: Membership
) -> None:
    old = new_key(owner).api_key
    roll_key(key=old, user=owner.user, grace=timedelta(days=1))
    assert member_client.post(end_grace_url(old)).status_code == 403
    never_rolled = new_key(owner, "Solo").api_key
    for response in (
        owner_client.get(end_grace_url(never_rolled), headers=HTMX),
        owner_client.post(end_grace_url(never_rolled)),
    ):
        assertContains(response, "This key was not rolled", status_code=403)
    assert ApiKey.objects.get(pk=old.pk).is_active
    assert ApiKey.objects.get(pk=never_rolled.pk).is_active
