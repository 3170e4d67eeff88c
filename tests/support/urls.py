"""Walk the URLconf: every route as the path it matches, with its pattern."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from django.urls import URLPattern, URLResolver


def iter_routes(
    patterns: list[URLPattern | URLResolver], prefix: str = ""
) -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        route = prefix + str(pattern.pattern).lstrip("^").rstrip("$")
        if isinstance(pattern, URLResolver):
            yield from iter_routes(pattern.url_patterns, route)
        else:
            yield route, pattern


def api_routes(patterns: list[Any]) -> list[tuple[str, Callable[..., Any]]]:
    """Return each route under /api/ with its view."""
    return [
        (route, pattern.callback)
        for route, pattern in iter_routes(patterns)
        if route.startswith("api/")
    ]
