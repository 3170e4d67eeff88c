"""The client's IP address: the one helper everything that records or limits by IP uses."""

from __future__ import annotations

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    # REMOTE_ADDR only: X-Forwarded-For is set by whoever sends the request, so it is trusted
    # only behind a proxy that is configured to be trusted (not yet supported).
    return request.META.get("REMOTE_ADDR") or None
