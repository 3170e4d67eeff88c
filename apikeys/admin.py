from __future__ import annotations

from typing import Any, cast

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.db.models.constants import LOOKUP_SEP
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.decorators import method_decorator
from django.views.decorators.http import require_http_methods

from accounts.requests import staff_user
from activity.events import RequestContext
from apikeys.models import ApiKey, ApiKeyQuerySet
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


def _keys(queryset: QuerySet[ApiKey]) -> ApiKeyQuerySet:
    # The admin's querysets come from ApiKey.objects, an ApiKeyQuerySet manager.
    return cast(ApiKeyQuerySet, queryset)


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [("active", "Active"), ("expired", "Expired"), ("revoked", "Revoked")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        if self.value() == "active":
            return _keys(queryset).active()
        if self.value() == "expired":
            return _keys(queryset).expired()
        if self.value() == "revoked":
            return _keys(queryset).revoked()
        return queryset


class ScopeFilter(admin.SimpleListFilter):
    title = "scope"
    parameter_name = "scope"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return SCOPE_CHOICES

    def queryset(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
        scope = self.value()
        if scope is not None and scope in dict(SCOPE_CHOICES):
            return _keys(queryset).with_scope(scope)
        return queryset


@admin.register(ApiKey)
class ApiKeyAdmin(SecretSafeAdmin):
    # Status right after the name: the last of ten columns slid out of sight at 1280 px.
    list_display = [
        "name",
        "status",
        "account",
        "masked_key",
        "environment",
        "scopes",
        "created_at",
        "created_by",
        "expires_at",
        "last_used_at",
    ]
    list_filter = [StatusFilter, "environment", "account", ScopeFilter]
    search_fields = ["name", "masked_key"]
    list_select_related = ["account", "created_by"]
    # The digest is never shown; every field is read-only because changes go through services.
    fields = readonly_fields = (
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
    )
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

    def has_change_permission(self, request: HttpRequest, obj: ApiKey | None = None) -> bool:
        # A key's page changes nothing (every field is read-only), so it is view-only: no Save
        # buttons, and a POST to it is refused. The model-level permission still gates revoking,
        # from the list's action and from the page's Revoke button.
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def get_urls(self) -> list[URLPattern]:
        revoke = path(
            "<path:object_id>/revoke/",
            self.admin_site.admin_view(self.revoke_view),
            name="apikeys_apikey_revoke",
        )
        # Before the admin's own patterns, whose "<path:object_id>/" would match it first.
        return [revoke, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = {**(extra_context or {}), "can_revoke": self.has_change_permission(request)}
        return super().change_view(request, object_id, form_url, context)

    @staticmethod
    def _revoke(request: HttpRequest, key: ApiKey) -> None:
        """Revoke through the service, as staff, recorded with the admin request's context."""
        revoke_key(
            key=key,
            user=staff_user(request),
            as_staff=True,
            context=RequestContext.from_request(request),
        )

    @admin.action(description="Revoke selected keys", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[ApiKey]) -> None:
        revoked = skipped = 0
        for key in queryset.select_related("account"):
            try:
                self._revoke(request, key)
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

    @method_decorator(require_http_methods(["GET", "POST"]))
    def revoke_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Ask, then revoke one key through the service, as the list's action does."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        key = self.get_object(request, unquote(object_id))
        if key is None:
            raise Http404("No such API key.")
        change_url = reverse("admin:apikeys_apikey_change", args=[key.pk])
        if not key.is_active:
            self.message_user(
                request, f"“{key.name}” is {key.status.lower()}: there is nothing to revoke."
            )
            return redirect(change_url)
        if request.method == "POST":
            try:
                self._revoke(request, key)
            except AlreadyRevoked as already:
                self.message_user(request, str(already))
            except KeyActionRefused as refused:
                self.message_user(request, refused.block.message, messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"Revoked “{key.name}”. Applications using it can no longer call the API.",
                    messages.SUCCESS,
                )
            return redirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "key": key,
            "title": f"Revoke “{key.name}”?",
        }
        return TemplateResponse(request, "admin/apikeys/apikey/revoke_confirmation.html", context)
