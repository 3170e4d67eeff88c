"""The activity log pages by keyset (Newer / Older), never by offset or count: no event skipped
or repeated across pages, events of one instant in id order, filters kept from page to page, a
key found by a search, and the same queries for one event as for hundreds."""

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
from activity.paging import event_page
from apikeys.services import create_key, roll_key
from tests.support.scale import grow, queries_for, sql_of

pytestmark = pytest.mark.django_db

ACTIVITY = reverse("activity:index")
KEY_CHOICES = reverse("activity:key_choices")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def events_at_few_instants(owner: Membership, count: int) -> None:
    """`count` key creations, three at each instant: ties that only the id orders."""
    for number in range(count):
        with time_machine.travel(NOW + timedelta(minutes=number // 3), tick=False):
            create_key(
                account=owner.account,
                user=owner.user,
                name=f"Tied {number:02}",
                scopes=["calls:read"],
            )


def walk_older(events, size: int) -> list[int]:  # noqa: ANN001
    seen: list[int] = []
    page = event_page(events, size=size)
    while True:
        seen += [event.pk for event in page.events]
        if page.older_than is None:
            return seen
        page = event_page(events, before=page.older_than, size=size)


def test_walking_older_then_newer_visits_every_event_once_in_order(owner: Membership) -> None:
    Account.objects.filter(pk=owner.account_id).update(api_key_limit=50)
    owner.account.refresh_from_db()
    events_at_few_instants(owner, 20)
    events = owner.account.activity_events.all()
    expected = list(events.order_by("-created_at", "-id").values_list("pk", flat=True))
    assert walk_older(events, size=3) == expected
    # Back from the oldest page, Newer by Newer.
    page = event_page(events, before=events.get(pk=expected[-4]), size=3)
    back: list[int] = [event.pk for event in page.events]
    while page.newer_than is not None:
        page = event_page(events, after=page.newer_than, size=3)
        back = [event.pk for event in page.events] + back
    assert back == expected


def test_events_of_one_instant_are_ordered_by_id_newest_first(owner: Membership) -> None:
    Account.objects.filter(pk=owner.account_id).update(api_key_limit=50)
    owner.account.refresh_from_db()
    events_at_few_instants(owner, 6)
    page = event_page(owner.account.activity_events.all(), size=2)
    first, second = page.events
    assert first.created_at == second.created_at
    assert first.pk > second.pk
    after = event_page(owner.account.activity_events.all(), before=page.older_than, size=2)
    assert after.events[0].created_at == first.created_at
    assert after.events[0].pk < second.pk


def test_a_filter_keeps_its_pages(owner: Membership) -> None:
    grow(owner, keys=2, edits=7)
    edited = owner.account.activity_events.filter(event_type=ActivityEvent.Type.EDITED)
    assert walk_older(edited, size=2) == list(
        edited.order_by("-created_at", "-id").values_list("pk", flat=True)
    )


def test_the_older_link_keeps_the_filter_and_leads_to_the_rest(
    owner_client: Client, owner: Membership
) -> None:
    grow(owner, keys=1, edits=55)
    first = owner_client.get(ACTIVITY, {"event": "edited"}).content.decode()
    assert first.count("Edited name:") == 50
    link = re.search(r'href="\?event=edited&amp;before=(\d+)" rel="next">Older</a>', first)
    assert link is not None
    rest = owner_client.get(ACTIVITY, {"event": "edited", "before": link.group(1)})
    assert rest.content.decode().count("Edited name:") == 5
    assertNotContains(rest, "Created a live")
    assertContains(rest, 'href="?event=edited&amp;after=')
    assertNotContains(rest, ">Older</a>")


def test_no_count_of_the_events_is_shown_or_made(owner_client: Client, owner: Membership) -> None:
    grow(owner, keys=3)
    sql = sql_of(owner_client, ACTIVITY)
    assert not [query for query in sql if "COUNT(" in query.upper()]
    assertNotContains(owner_client.get(ACTIVITY), "Page 1 of")


def test_the_page_makes_the_same_queries_for_one_event_as_for_hundreds(
    owner_client: Client, owner: Membership
) -> None:
    grow(owner, keys=1)
    owner_client.get(ACTIVITY)  # the session's first request does more
    few = {
        "first": queries_for(owner_client, ACTIVITY),
        "filtered": queries_for(owner_client, ACTIVITY, {"event": "created"}),
    }
    keys = grow(owner, keys=60, revoked=5, edits=60, prefix="More")
    oldest = owner.account.activity_events.order_by("created_at", "id")[10]
    many = {
        "first": queries_for(owner_client, ACTIVITY),
        "filtered": queries_for(owner_client, ACTIVITY, {"event": "created"}),
    }
    assert many == few
    # A deep page costs one query more than the first: finding its place.
    deep = queries_for(owner_client, ACTIVITY, {"before": oldest.pk})
    assert deep <= few["first"] + 2
    assert queries_for(owner_client, ACTIVITY, {"key": keys[0].masked_key}) <= few["first"] + 2


def test_a_key_is_found_by_its_masked_form_its_id_or_its_name(
    owner_client: Client, owner: Membership
) -> None:
    [crm, other] = grow(owner, keys=2)
    rolled = roll_key(key=crm, user=owner.user, grace=timedelta(hours=1)).api_key
    for text in (crm.masked_key, str(crm.pk)):
        page = owner_client.get(ACTIVITY, {"key": text}).content.decode()
        # Its creation and its roll (about both keys), not the other key's creation.
        assert page.count("Created a live") == 1
        assert "Rolled: replaced by" in page
        assert f'value="{crm.masked_key}"' in page
        assert other.masked_key not in page
    # A name names the newest key of that name: here the roll's successor, which has its roll.
    by_name = owner_client.get(ACTIVITY, {"key": crm.name}).content.decode()
    assert f'value="{rolled.masked_key}"' in by_name
    assert "Rolled: replaced by" in by_name
    assert "Created a live" not in by_name


def test_an_unknown_key_or_place_is_an_error_next_to_the_form(
    owner_client: Client, owner: Membership, other_owner: Membership
) -> None:
    [theirs] = grow(other_owner, keys=1)
    grow(owner, keys=1)
    for query in (
        {"key": "no such key"},
        {"key": theirs.masked_key},
        {"key": str(theirs.pk)},
        {"key": "9" * 30},
    ):
        response = owner_client.get(ACTIVITY, query)
        assertContains(response, "That key is not one of this account's keys.")
        assertNotContains(response, "Created a live")
    their_event = other_owner.account.activity_events.get()
    for query in ({"before": their_event.pk}, {"after": "abc"}, {"before": "-1"}):
        response = owner_client.get(ACTIVITY, query)
        assert response.status_code == 200
        assertContains(response, 'class="field__error"')
        assertNotContains(response, "Created a live")


def test_the_key_search_suggests_a_few_of_the_accounts_keys(
    owner_client: Client, owner: Membership, other_owner: Membership
) -> None:
    grow(other_owner, keys=1)
    keys = grow(owner, keys=15)
    response = owner_client.get(KEY_CHOICES, {"key": "key 01"}, headers={"HX-Request": "true"})
    options = re.findall(r'<option value="([^"]+)">([^<]+)</option>', response.content.decode())
    assert [name for _, name in options] == [f"Key {number:03}" for number in range(10, 15)]
    assert options[0][0] == keys[10].masked_key
    by_prefix = owner_client.get(KEY_CHOICES, {"key": keys[3].masked_key[:13]})
    assertContains(by_prefix, f">{keys[3].name}</option>")
    everything = owner_client.get(KEY_CHOICES).content.decode()
    assert everything.count("<option") == 10
    assert "owner@globex.test" not in everything


def test_the_filter_is_a_search_box_not_a_list_of_every_key(
    owner_client: Client, owner: Membership
) -> None:
    grow(owner, keys=12)
    page = owner_client.get(ACTIVITY).content.decode()
    assert "<select" in page  # the event type is a list of kinds
    assert page.count("<option") == len(ActivityEvent.Type.choices) + 1
    assert 'list="activity-key-options"' in page
    assert f'hx-get="{KEY_CHOICES}"' in page
