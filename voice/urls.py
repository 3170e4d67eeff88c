"""The /api/v1/ routes. No trailing slashes; anything else under /api/ is a JSON 404."""

from __future__ import annotations

from django.urls import path, register_converter

from apikeys import secret_scanning
from voice import views


class ResourceIdConverter:
    # Positive, and at most 18 digits so it always fits a 64-bit id column: longer numbers
    # fall through to the JSON 404 instead of overflowing the database driver.
    regex = "[1-9][0-9]{0,17}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


register_converter(ResourceIdConverter, "id")

app_name = "api"

urlpatterns = [
    path("health", views.health, name="health"),
    path("health/ready", views.ready, name="ready"),
    path("openapi.json", views.openapi, name="openapi"),
    path("credits", views.credits, name="credits"),
    path("calls", views.calls, name="calls"),
    path("campaigns", views.campaigns, name="campaigns"),
    path("campaigns/<id:pk>", views.campaign, name="campaign"),
    path("contacts", views.contacts, name="contacts"),
    path("contacts/<id:pk>", views.contact, name="contact"),
    path("webhooks", views.webhooks, name="webhooks"),
    path("webhooks/<id:pk>", views.webhook, name="webhook"),
    path("secret-scanning/reports", secret_scanning.reports, name="secret_scanning_reports"),
]
