"""The API reference page at /api/v1/docs: Swagger UI rendering /api/v1/openapi.json.

Swagger UI's files come from the drf-spectacular-sidecar package (pip installs them, whitenoise
serves them from our own origin) and static/js/api-docs.js starts it, so the page needs nothing
beyond the site's Content-Security-Policy: no CDN, no inline script or style.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from api.routes import api_route, page, public


@page
@public
def get_reference(request: HttpRequest) -> HttpResponse:
    return render(request, "api/docs.html")


reference = api_route(GET=get_reference)
