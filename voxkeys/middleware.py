from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.signals import got_request_exception
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.http import HttpRequest, HttpResponse
from django.template import loader
from django.utils.cache import patch_cache_control

from api import API_PREFIX
from voxkeys.db.errors import is_retryable
from voxkeys.logs import report_database_outage

# Only our own files run or style a page: an injected <script> or style="" does nothing.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# Powerful browser features no page of ours uses, refused for any script that gets in.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "display-capture",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "usb",
    )
)
# Where a request's first database error waits for DatabaseOutageMiddleware.
DATABASE_ERROR_ATTRIBUTE = "database_error"


class SecurityHeadersMiddleware:
    """The headers every response carries: CSP (pages, the admin, the API reference),
    Permissions-Policy, and no-store for whatever is personal (API responses, signed-in pages)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        if request.path_info.startswith(API_PREFIX):
            # Answers depend on the key that asked: no shared or browser cache may keep one.
            response["Cache-Control"] = "no-store"
            if response.get("Content-Type", "").startswith("text/html"):
                # The API reference (/api/v1/docs) is a page like the others, under the same CSP.
                response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            return response
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response


def _remember_database_error(
    sender: object, request: HttpRequest | None = None, **kwargs: Any
) -> None:
    # Django turns an exception into a 500 response in whichever middleware raised it, so
    # DatabaseOutageMiddleware never sees the exception itself: it reads it from the request.
    error = sys.exc_info()[1]
    if (
        request is not None
        and not request.path_info.startswith(API_PREFIX)
        and isinstance(error, OperationalError | InterfaceError)
        and getattr(request, DATABASE_ERROR_ATTRIBUTE, None) is None
    ):
        setattr(request, DATABASE_ERROR_ATTRIBUTE, error)
        # Now, before Django logs its "Internal Server Error" for the 500 this becomes: the
        # outage log counts the request instead, and the 500 turns into a 503 or a retry.
        report_database_outage(error, request)


got_request_exception.connect(_remember_database_error, dispatch_uid="voxkeys.database_outage")


class DatabaseOutageMiddleware:
    """Pages: a database that cannot be reached is a 503 page saying to try again, not a 500.

    A GET or HEAD that met a dead connection (the database restarted since this process last
    used it) is run once more on a new connection, so nobody sees the restart. Anything else
    is not repeated: a POST may have done part of its work. The API has its own JSON 503
    (api.middleware).
    """

    retry_after = 5

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            return self.get_response(request)
        response = self.get_response(request)
        error = getattr(request, DATABASE_ERROR_ATTRIBUTE, None)
        if error is None:
            return response
        close_connections()
        if request.method in ("GET", "HEAD") and is_retryable(error):
            response.close()
            setattr(request, DATABASE_ERROR_ATTRIBUTE, None)
            response = self.get_response(request)
            if getattr(request, DATABASE_ERROR_ATTRIBUTE, None) is None:
                return response
            close_connections()
        response.close()
        # Who is signed in is unknown without the database, and SecurityHeadersMiddleware
        # asks: the lazy user would query again, and fail again, outside this middleware.
        request.user = AnonymousUser()
        return self.unavailable()

    def unavailable(self) -> HttpResponse:
        # No request in the context: context processors would query the database again.
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
        response["Retry-After"] = str(self.retry_after)
        return response


def close_connections() -> None:
    """Discard every open database connection: after an error, none can be trusted."""
    for connection in connections.all(initialized_only=True):
        with contextlib.suppress(DatabaseError):
            connection.close()
