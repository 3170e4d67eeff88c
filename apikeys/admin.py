from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest

from apikeys.events import RequestContext, event_summary
from apikeys.models import ApiKey, KeyEvent
from apikeys.scopes import SCOPE_CHOICES
from apikeys.services import AlreadyRevoked, KeyActionRefused, revoke_key

# Derived from a key's secret, and never shown. A filter on one (?key_digest__startswith=ab)
# answers "does some key's digest start with ab?", so guess by guess it reads the value out.
# Django allows lookups on any of a model's own fields in the query string, so these are
# refused here, on their own or behind a relation; nor are they in any list_display,
# search_fields or ordering (tests/test_admin_hardening.py checks every admin).
SECRET_FIELDS = frozenset({"key_digest", "creation_token"})


class SecretSafeAdmin(admin.ModelAdmin):
    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        # Refused lookups are a 400 (DisallowedModelAdminLookup), before any query runs.
        if SECRET_FIELDS.intersection(lookup.split(LOOKUP_SEP)):
            return False
        return super().lookup_allowed(lookup, value, request)


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        if self.value() == "active":
            return queryset.active()
        if self.value() == "expired":
            return queryset.expired()
        if self.value() == "revoked":
            return queryset.revoked()
        return queryset


class ScopeFilter(admin.SimpleListFilter):
    title = "scope"
    parameter_name = "scope"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return SCOPE_CHOICES

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        if self.value() in dict(SCOPE_CHOICES):
            return queryset.with_scope(self.value())
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(SecretSafeAdmin):
    list_display = [
        "name",
        "account",
        "masked_key",
        "environment",
        "scopes",
        "created_at",
        "created_by",
        "expires_at",
        "last_used_at",
        "status",
    ]
    list_filter = [StatusFilter, "environment", "account", ScopeFilter]
    search_fields = ["name", "masked_key"]
    list_select_related = ["account", "created_by"]
    # The digest is never shown; every field is read-only because changes go through services.
    fields = [
        "account",
        "name",
        "description",
        "masked_key",
        "environment",
        "scopes",
        "created_at",
        "created_by",
        "expires_at",
        "lifetime",
        "replaced_by",
        "last_used_at",
        "revoked_at",
        "revoked_by",
    ]
    readonly_fields = fields
    actions = ["revoke_selected"]

    @admin.display(description="Status")
    def status(self, key: ApiKey) -> str:
        return key.status

    def has_add_permission(self, request: HttpRequest) -> bool:
        # A secret shown only once belongs in the page flow, where its owner sees it.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        # Keys are revoked, never deleted: the revoked list is the record of who did what.
        return False

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = skipped = 0
        for key in queryset.select_related("account"):
            try:
                revoke_key(
                    key=key,
                    user=request.user,
                    as_staff=True,
                    context=RequestContext.from_request(request),
                )
            except AlreadyRevoked:
                skipped += 1
            except KeyActionRefused as refused:
                self.message_user(request, refused.block.message, messages.ERROR)
                return
            else:
                revoked += 1
        if revoked:
            self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)
        if skipped:
            self.message_user(
                request, f"{skipped} key(s) were already revoked and were left as they were."
            )


@admin.register(KeyEvent)
class KeyEventAdmin(SecretSafeAdmin):
    """The activity log, read-only: events are a record, written only by the services."""

    list_display = ["created_at", "event_type", "api_key", "account", "actor_label", "ip_address"]
    list_filter = ["event_type", "account"]
    search_fields = ["api_key__name", "api_key__masked_key", "actor_email", "ip_address"]
    list_select_related = ["api_key", "account"]
    date_hierarchy = "created_at"
    fields = [
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
    ]
    readonly_fields = fields

    @admin.display(description="What happened")
    def summary(self, event: KeyEvent) -> str:
        return event_summary(event)

    @admin.display(description="By")
    def actor_label(self, event: KeyEvent) -> str:
        return event.actor_label

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: KeyEvent | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: KeyEvent | None = None) -> bool:
        return False
