"""Route declarations: which handler answers which method, who may call it, and what it takes
and answers.

Every view under /api/ is built from `api_route(GET=..., POST=...)`, and every handler passed
to it declares who may call it with exactly one of `@requires_scope("calls:read")`,
`@requires_key` (any valid key) or `@public` (no key). A handler without a decision cannot be
routed (ImproperlyConfigured at import time), and the tests walk the URLconf. `@operation(...)`
declares the rest of the contract (body, answer, error codes); the OpenAPI document is
generated from these declarations and the URLconf.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import wraps
from typing import TYPE_CHECKING, Any, Literal

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.urls import register_converter
from django.views.decorators.csrf import csrf_exempt

from api.errors import (
    ApiError,
    ErrorCode,
    insufficient_scope,
    method_not_allowed,
    missing_api_key,
)
from apikeys.scopes import SCOPE_NAMES

if TYPE_CHECKING:
    from accounts.models import Account
    from apikeys.auth import AuthenticatedKey

View = Callable[..., HttpResponse]
# Ids are 64-bit signed integers in the database; larger numbers would overflow the driver.
MAX_ID = 2**63 - 1


class ApiRequest(HttpRequest):
    """What API views can rely on once ApiKeyMiddleware has authenticated the request."""

    api_key: AuthenticatedKey
    account: Account


@dataclass(frozen=True, slots=True)
class Access:
    """A handler's declared scope decision."""

    kind: Literal["public", "key", "scope"]
    scope: str | None = None

    def errors(self) -> tuple[ErrorCode, ...]:
        """The codes ApiKeyMiddleware and the decorators can refuse such a handler's calls with."""
        if self.kind == "public":
            return ()
        refusals = (
            ErrorCode.MISSING_API_KEY,
            ErrorCode.MALFORMED_API_KEY,
            ErrorCode.INVALID_API_KEY,
            ErrorCode.REVOKED_API_KEY,
            ErrorCode.EXPIRED_API_KEY,
            ErrorCode.ACCOUNT_SUSPENDED,
            ErrorCode.IP_NOT_ALLOWED,
            ErrorCode.HTTPS_REQUIRED,
            ErrorCode.RATE_LIMITED,
            ErrorCode.SERVICE_UNAVAILABLE,
        )
        return (*refusals, ErrorCode.INSUFFICIENT_SCOPE) if self.kind == "scope" else refusals


@dataclass(frozen=True, slots=True)
class Operation:
    """What a handler takes and answers, for the OpenAPI document.

    `request` and `response` are anything pydantic can describe (a TypedDict, a BodySchema);
    `errors` are the codes the handler itself can answer: the authentication refusals are
    added from its Access.
    """

    summary: str
    description: str = ""
    # Clients' generated method names; by default the handler's name in camelCase.
    operation_id: str | None = None
    request: Any = None
    response: Any = None
    status: int = 200
    errors: tuple[ErrorCode, ...] = ()
    tag: str | None = None
    # Header or query parameters beyond the path's, as OpenAPI parameter objects.
    parameters: tuple[Mapping[str, Any], ...] = ()
    # Other statuses answered with `response`, and what each means.
    also: Mapping[int, str] = field(default_factory=dict)


def operation(
    summary: str,
    *,
    description: str = "",
    operation_id: str | None = None,
    request: Any = None,
    response: Any = None,
    status: int = 200,
    errors: Iterable[ErrorCode] = (),
    tag: str | None = None,
    parameters: Iterable[Mapping[str, Any]] = (),
    also: Mapping[int, str] | None = None,
) -> Callable[[View], View]:
    """Declare what the handler takes and answers (see Operation)."""
    declared = Operation(
        summary=summary,
        description=description,
        operation_id=operation_id,
        request=request,
        response=response,
        status=status,
        errors=tuple(errors),
        tag=tag,
        parameters=tuple(parameters),
        also=also or {},
    )

    def decorator(handler: View) -> View:
        handler.api_operation = declared  # type: ignore[attr-defined]
        return handler

    return decorator


def page(handler: View) -> View:
    """Declare the handler a page for people about the API, left out of the OpenAPI document."""
    handler.api_operation = None  # type: ignore[attr-defined]
    return handler


def _declare(handler: View, access: Access) -> View:
    handler.api_access = access  # type: ignore[attr-defined]  # read by api_route, usage, tests
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
    kinds = {handler.api_access.kind for handler in handlers.values()}  # type: ignore[attr-defined]  # checked above
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

    route.api_handlers = handlers  # type: ignore[attr-defined]  # read by usage and the OpenAPI
    route.api_public = kinds == {"public"}  # type: ignore[attr-defined]  # read by the middleware
    # API calls carry no cookies (the middleware drops them), so there is no CSRF to defend
    # against and no session login to require.
    return csrf_exempt(login_not_required(route))


class ResourceIdConverter:
    """A resource id in a path: positive, at most 18 digits so it fits a 64-bit id column.

    Longer numbers fall through to the JSON 404 instead of overflowing the database driver.
    """

    regex = "[1-9][0-9]{0,17}"
    # The same, for the OpenAPI document's path parameters.
    json_schema = {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


# `<id:pk>` in every API route; registered here, where every route module imports from.
register_converter(ResourceIdConverter, "id")
