"""The API's building blocks: JSON errors, scope decisions, method routing, last-used tracking.

Every view under /api/ is built from `api_route(GET=..., POST=...)`, and every handler passed
to it declares who may call it with exactly one of `@requires_scope("calls:read")`,
`@requires_key` (any valid key) or `@public` (no key). A handler without a decision cannot be
routed (ImproperlyConfigured at import time), and tests/test_api_scopes.py walks the URLconf.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, Literal

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ImproperlyConfigured
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from accounts.models import Account
from apikeys.models import ApiKey
from apikeys.scopes import SCOPE_NAMES

API_PREFIX = "/api/"
REALM = "VoxPria API"
# How stale last_used_at may get: at most one write per key per this interval.
LAST_USED_RESOLUTION = timedelta(minutes=1)

View = Callable[..., HttpResponse]


@dataclass(frozen=True, slots=True)
class AuthenticatedKey:
    """The key a request authenticated with: what views and decorators need, nothing more."""

    id: int
    scopes: frozenset[str]
    # Test keys (vxp_test_) see only test objects, and their calls are simulated.
    livemode: bool = True

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class ApiRequest(HttpRequest):
    """What API views can rely on once ApiKeyMiddleware has authenticated the request."""

    api_key: AuthenticatedKey
    account: Account


@dataclass(frozen=True, slots=True)
class Access:
    """A handler's declared scope decision."""

    kind: Literal["public", "key", "scope"]
    scope: str | None = None


# Errors -----------------------------------------------------------------------------------------


def api_error(
    status: int, code: str, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JsonResponse:
    """Return the API's one error shape: {"error": {"code": ..., "message": ...}}."""
    response = JsonResponse({"error": {"code": code, "message": message, **extra}}, status=status)
    response.api_error_code = code  # type: ignore[attr-defined]  # for apikeys.usage, unparsed
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class ApiError(Exception):
    """Raised by a handler to answer with an API error; api_route turns it into the response."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extra = status, code, message, extra

    def response(self) -> JsonResponse:
        return api_error(self.status, self.code, self.message, **self.extra)


def read_limited_body(request: HttpRequest, *, max_bytes: int, size_hint: str = "") -> bytes:
    """Return the request's body if it is JSON and at most `max_bytes`, else raise ApiError.

    The declared length is checked before the body is read, so a huge upload is refused unread.
    """
    content_type = request.content_type or ""
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError(
            415,
            "unsupported_media_type",
            f"Send the body as JSON with `Content-Type: application/json`, not {content_type}.",
        )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if length < 0:
        raise ApiError(400, "bad_request", "The Content-Length header is not a valid number.")
    if length > max_bytes:
        raise ApiError(
            413,
            "payload_too_large",
            f"The body is {length} bytes; the limit is {max_bytes} bytes. {size_hint}".strip(),
        )
    return request.body


def www_authenticate(error: str | None = None, scope: str | None = None) -> str:
    # RFC 6750 section 3: no error attribute when the request carried no token at all.
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    if scope:
        value += f', scope="{scope}"'
    return value


def unauthorized(code: str, message: str, *, token_sent: bool = True) -> JsonResponse:
    header = www_authenticate("invalid_token" if token_sent else None)
    return api_error(401, code, message, headers={"WWW-Authenticate": header})


def expired_api_key(expires_at: datetime, *, rolled: bool) -> JsonResponse:
    when = f"{expires_at:%-d %B %Y at %H:%M} UTC"
    if rolled:
        message = (
            f"This API key was rolled and stopped working on {when}. Use the key that replaced "
            "it, or roll or create a key in Settings → API Keys."
        )
    else:
        message = (
            f"This API key expired on {when}. Roll it or create a new key in Settings → API Keys."
        )
    return unauthorized("expired_api_key", message)


def missing_api_key() -> JsonResponse:
    return unauthorized(
        "missing_api_key",
        "This endpoint needs an API key. Send it as `Authorization: Bearer <key>`; "
        "create a key in Settings → API Keys.",
        token_sent=False,
    )


def insufficient_scope(scope: str) -> JsonResponse:
    return api_error(
        403,
        "insufficient_scope",
        f"This API key lacks the `{scope}` scope. Create a key that includes it in "
        "Settings → API Keys.",
        headers={"WWW-Authenticate": www_authenticate("insufficient_scope", scope)},
        required_scope=scope,
    )


def not_found(message: str = "There is no such resource in this account.") -> JsonResponse:
    return api_error(404, "not_found", message)


def method_not_allowed(method: str, allowed: list[str]) -> JsonResponse:
    return api_error(
        405,
        "method_not_allowed",
        f"{method} is not allowed here; use {' or '.join(allowed)}.",
        headers={"Allow": ", ".join(allowed)},
    )


def service_unavailable() -> JsonResponse:
    return api_error(
        503,
        "service_unavailable",
        "The service is temporarily unavailable. Retry in a few seconds.",
        headers={"Retry-After": "5"},
    )


def rate_limited(retry_after: int, message: str) -> JsonResponse:
    return api_error(429, "rate_limited", message, headers={"Retry-After": str(retry_after)})


def is_api_path(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


@csrf_exempt
@login_not_required
def unknown_endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The JSON 404 for every path under /api/ that no route matches."""
    return not_found(f"There is no API endpoint at {request.path_info}. See /api/v1/openapi.json.")


unknown_endpoint.api_public = True  # type: ignore[attr-defined]


# Django's handlers for errors raised outside views (e.g. a disallowed Host header, a bug): JSON
# under /api/, Django's own pages elsewhere.
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_path(request):
        return api_error(400, "bad_request", "The request could not be understood.")
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_path(request):
        return api_error(
            500, "internal_error", "Something went wrong on our side; it has been logged."
        )
    return defaults.server_error(request)


# Scope decisions --------------------------------------------------------------------------------


def _declare(handler: View, access: Access) -> View:
    handler.api_access = access  # type: ignore[attr-defined]
    return handler


def requires_scope(scope: str) -> Callable[[View], View]:
    """Let only keys that carry `scope` call the handler."""
    if scope not in SCOPE_NAMES:
        raise ImproperlyConfigured(f"Unknown scope {scope!r}.")

    def decorator(handler: View) -> View:
        @wraps(handler)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            api_key: AuthenticatedKey | None = getattr(request, "api_key", None)
            # Fails closed if the middleware did not run.
            if api_key is None:
                return missing_api_key()
            if not api_key.has_scope(scope):
                return insufficient_scope(scope)
            return handler(request, *args, **kwargs)

        return _declare(wrapper, Access("scope", scope))

    return decorator


def requires_key(handler: View) -> View:
    """Let any valid key call the handler, whatever its scopes."""

    @wraps(handler)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if getattr(request, "api_key", None) is None:
            return missing_api_key()
        return handler(request, *args, **kwargs)

    return _declare(wrapper, Access("key"))


def public(handler: View) -> View:
    """Let anyone call the handler, without a key (health check, the OpenAPI document)."""
    return _declare(handler, Access("public"))


def api_route(**handlers: View) -> View:
    """Return one view that sends each HTTP method to its handler; other methods get a JSON 405."""
    for method, handler in handlers.items():
        if not isinstance(getattr(handler, "api_access", None), Access):
            raise ImproperlyConfigured(
                f"{handler.__name__} ({method}) declares no scope decision: decorate it with "
                "@requires_scope(...), @requires_key or @public."
            )
    kinds = {handler.api_access.kind for handler in handlers.values()}  # type: ignore[attr-defined]
    if len(kinds) > 1 and "public" in kinds:
        # The middleware decides per route whether to authenticate, so a route is all or nothing.
        raise ImproperlyConfigured("A route cannot mix public and key-protected methods.")
    allowed = list(handlers)

    def route(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # HEAD is GET without the body (the server drops it): load balancers probe with it.
        method = "GET" if request.method == "HEAD" else request.method
        handler = handlers.get(method or "")
        if handler is None:
            return method_not_allowed(request.method or "", allowed)
        try:
            return handler(request, *args, **kwargs)
        except ApiError as error:
            return error.response()

    route.api_handlers = handlers  # type: ignore[attr-defined]
    route.api_public = kinds == {"public"}  # type: ignore[attr-defined]
    # API calls carry no cookies (the middleware drops them), so there is no CSRF to defend
    # against and no session login to require.
    return csrf_exempt(login_not_required(route))


# Last used --------------------------------------------------------------------------------------


def record_key_use(key_id: int, last_used_at: datetime | None, now: datetime) -> bool:
    """Set the key's last_used_at to `now`, at most once per LAST_USED_RESOLUTION; return
    whether it ran the UPDATE (the database's value is then at least `now - resolution`).

    The caller read `last_used_at` in its lookup, so inside the window this costs no query.
    Outside it, the conditional UPDATE lets only one of several concurrent workers write.
    """
    cutoff = now - LAST_USED_RESOLUTION
    if last_used_at is not None and last_used_at >= cutoff:
        return False
    ApiKey.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=cutoff), pk=key_id
    ).update(last_used_at=now)
    return True
