from __future__ import annotations

from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator
from django.http import HttpRequest

from activity.models import ActivityEvent
from activity.summaries import event_summary
from apikeys.admin import SecretSafeAdmin

# Counting a million events reads them all (a tenth of a second, on every page of the list); a
# count that stops here is read from the index. Past it the list says "more than" this, and
# pages no further: the filters and the search find older events.
COUNTED_EVENTS = 10_000


class BoundedCountPaginator(Paginator):
    """A paginator whose count stops at COUNTED_EVENTS (`bounded` says whether it did)."""

    @cached_property
    def counted(self) -> int:
        # The admin's object list is a QuerySet: sliced, its count is a bounded subquery.
        return int(self.object_list[: COUNTED_EVENTS + 1].count())  # type: ignore[attr-defined]

    @cached_property
    def count(self) -> int:
        return min(self.counted, COUNTED_EVENTS)

    @property
    def bounded(self) -> bool:
        return self.counted > COUNTED_EVENTS


@admin.register(ActivityEvent)
class ActivityEventAdmin(SecretSafeAdmin):
    """The activity log, read-only: events are a record, written only by the services."""

    list_display = ["created_at", "event_type", "api_key", "account", "actor_label", "ip_address"]
    list_filter = ["event_type", "account"]
    search_fields = ["api_key__name", "api_key__masked_key", "actor_email", "ip_address"]
    list_select_related = ["api_key", "account"]
    # Newest first, in the order of an index, and no other: sorting a million rows by a column
    # no index holds, or grouping them by date, would read every one of them.
    ordering = ["-created_at", "-id"]
    sortable_by = ()
    paginator = BoundedCountPaginator
    # Half the admin's default: rendering its rows is most of the list's time.
    list_per_page = 50
    show_full_result_count = False
    fields = readonly_fields = (
        "created_at",
        "event_type",
        "summary",
        "account",
        "api_key",
        "related_key",
        "actor_email",
        "ip_address",
        "user_agent",
        "details",
    )

    @admin.display(description="What happened")
    def summary(self, event: ActivityEvent) -> str:
        return event_summary(event)

    @admin.display(description="By")
    def actor_label(self, event: ActivityEvent) -> str:
        return event.actor_label

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ActivityEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ActivityEvent | None = None) -> bool:
        return False
