"""The /api/v1/ routes. No trailing slashes; anything else under /api/ is a JSON 404."""

from __future__ import annotations

from django.urls import path

from api import health, openapi, reference
from apikeys import secret_scanning
from voice.urls import urlpatterns as voice_urlpatterns

app_name = "api"

urlpatterns = [
    path("health", health.health, name="health"),
    path("health/ready", health.ready, name="ready"),
    path("openapi.json", openapi.document, name="openapi"),
    path("docs", reference.reference, name="docs"),
    *voice_urlpatterns,
    path("secret-scanning/reports", secret_scanning.reports, name="secret_scanning_reports"),
]
