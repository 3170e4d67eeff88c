"""The admin's activity events list at scale: no count of the whole table, no date hierarchy,
one indexed order, and a count that stops at COUNTED_EVENTS and says "more than"."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Membership
from activity import admin as activity_admin
from tests.support.scale import grow, queries_for, sql_of

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:activity_activityevent_changelist")


def counts_of_the_events_table(sql: list[str]) -> list[str]:
    """COUNT queries over the events table that read it whole (not a LIMITed subquery)."""
    return [
        query
        for query in sql
        if "COUNT(" in query.upper() and "apikeys_keyevent" in query and "LIMIT" not in query
    ]


def test_the_changelist_never_counts_the_whole_table(
    staff_client: Client, owner: Membership
) -> None:
    grow(owner, keys=3, edits=3)
    for query in ({}, {"event_type__exact": "edited"}, {"q": "Key"}):
        sql = sql_of(staff_client, CHANGELIST, query)
        assert counts_of_the_events_table(sql) == []
        # No date hierarchy: it groups every row by its date.
        assert not [statement for statement in sql if "TRUNC" in statement.upper()]
    page = staff_client.get(CHANGELIST).content.decode()
    assert "6 activity events" in page
    # No column to sort by: the list keeps its indexed order, newest first.
    assert not re.search(r'<th scope="col" class="[^"]*sortable', page)


def test_the_count_stops_and_says_more_than(
    staff_client: Client, owner: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(activity_admin, "COUNTED_EVENTS", 4)
    grow(owner, keys=6)
    page = staff_client.get(CHANGELIST)
    assertContains(page, "More than 4 activity events: filter or search to find older ones.")
    exact = staff_client.get(CHANGELIST, {"event_type__exact": "revoked"})
    assertContains(exact, "0 activity events")
    assertNotContains(exact, "More than")


def test_the_changelist_makes_the_same_queries_for_a_few_events_as_for_many(
    staff_client: Client, owner: Membership
) -> None:
    grow(owner, keys=1)
    staff_client.get(CHANGELIST)
    few = queries_for(staff_client, CHANGELIST)
    grow(owner, keys=40, edits=80, prefix="More")
    assert queries_for(staff_client, CHANGELIST) == few
