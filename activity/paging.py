"""Keyset pages of the activity log: newest first, each page found from the event at its edge.

An offset makes PostgreSQL read and throw away every row before the page (two seconds for the
last page of a million events); a page that starts after a known (created_at, id) is read from
the index at that place, however deep. Events made at the same instant are told apart by id.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Q

from activity.models import ActivityEvent, ActivityEventQuerySet

EVENTS_PER_PAGE = 50


@dataclass(frozen=True, slots=True)
class EventPage:
    events: list[ActivityEvent]
    # The edges to page from: set only when there are events beyond them.
    older_than: ActivityEvent | None
    newer_than: ActivityEvent | None


def older(event: ActivityEvent) -> Q:
    # `created_at <= x` lets the index find the place; the rest orders events of the same instant.
    return Q(created_at__lte=event.created_at) & (
        Q(created_at__lt=event.created_at) | Q(id__lt=event.pk)
    )


def newer(event: ActivityEvent) -> Q:
    return Q(created_at__gte=event.created_at) & (
        Q(created_at__gt=event.created_at) | Q(id__gt=event.pk)
    )


def event_page(
    events: ActivityEventQuerySet,
    *,
    before: ActivityEvent | None = None,
    after: ActivityEvent | None = None,
    size: int = EVENTS_PER_PAGE,
) -> EventPage:
    """Return the page of `events` just older than `before`, just newer than `after`, or the
    newest page; newest first, with the edges to the next pages when there are more."""
    if after is not None:
        rows = list(events.filter(newer(after)).order_by("created_at", "id")[: size + 1])
        if rows:
            more_newer = len(rows) > size
            page = rows[:size][::-1]
            return EventPage(
                events=page,
                older_than=page[-1] if events.filter(older(page[-1])).exists() else None,
                newer_than=page[0] if more_newer else None,
            )
        before = None  # nothing newer: the newest page
    start = events.filter(older(before)) if before is not None else events
    rows = list(start.order_by("-created_at", "-id")[: size + 1])
    page = rows[:size]
    return EventPage(
        events=page,
        older_than=page[-1] if len(rows) > size else None,
        newer_than=(
            page[0]
            if before is not None and page and events.filter(newer(page[0])).exists()
            else None
        ),
    )
