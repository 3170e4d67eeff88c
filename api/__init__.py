"""The HTTP API runtime: routes and scopes, errors, bodies, the Bearer middleware, health."""

from __future__ import annotations

from django.http import HttpRequest

API_PREFIX = "/api/"


def is_api_path(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)
