from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from activity.models import ActivityEvent
from activity.summaries import event_summary
from apikeys.admin import SecretSafeAdmin


@admin.register(ActivityEvent)
class ActivityEventAdmin(SecretSafeAdmin):
    """The activity log, read-only: events are a record, written only by the services."""

    list_display = ["created_at", "event_type", "api_key", "account", "actor_label", "ip_address"]
    list_filter = ["event_type", "account"]
    search_fields = ["api_key__name", "api_key__masked_key", "actor_email", "ip_address"]
    list_select_related = ["api_key", "account"]
    date_hierarchy = "created_at"
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
