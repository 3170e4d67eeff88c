"""The API's errors: every code it can answer, and the one JSON shape they all take.

`ErrorCode` is the catalogue: each member is the code clients see, the HTTP status it comes
with and what it means. Responses, usage counting and the OpenAPI document all read it, so a
code cannot be answered without being documented.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NotRequired

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt
from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from api import is_api_path

REALM = "VoxPria API"


class ErrorCode(StrEnum):
    """A code the API answers with, its HTTP status and what it means."""

    status: int
    meaning: str

    def __new__(cls, code: str, status: int, meaning: str) -> ErrorCode:
        member = str.__new__(cls, code)
        member._value_ = code
        member.status = status
        member.meaning = meaning
        return member

    MISSING_API_KEY = "missing_api_key", 401, "The request carries no API key."
    MALFORMED_API_KEY = (
        "malformed_api_key",
        401,
        "The Authorization header is not `Bearer <key>`, or the key is not a VoxPria key "
        "(wrong prefix, length or checksum).",
    )
    INVALID_API_KEY = "invalid_api_key", 401, "No API key like this one exists."
    REVOKED_API_KEY = "revoked_api_key", 401, "The API key has been revoked."
    EXPIRED_API_KEY = "expired_api_key", 401, "The API key has expired, or its roll ended."
    ACCOUNT_SUSPENDED = (
        "account_suspended",
        403,
        "The key's account is not in good standing, so its keys do not work.",
    )
    IP_NOT_ALLOWED = (
        "ip_not_allowed",
        403,
        "The key has an IP allowlist and the request came from another address.",
    )
    HTTPS_REQUIRED = "https_required", 403, "The request was sent over plain HTTP."
    INSUFFICIENT_SCOPE = (
        "insufficient_scope",
        403,
        "The key lacks the scope the endpoint needs (named in `required_scope`).",
    )
    INSUFFICIENT_CREDITS = (
        "insufficient_credits",
        402,
        "A live call costs more credits than the account has left.",
    )
    RATE_LIMITED = (
        "rate_limited",
        429,
        "Too many requests: the key is over its rate limit, or the address sent too many "
        "unknown, revoked or expired keys. Retry after `Retry-After` seconds.",
    )
    INVALID_SIGNATURE = (
        "invalid_signature",
        401,
        "A leaked-key report is unsigned, or its signature does not verify.",
    )
    NOT_CONFIGURED = (
        "not_configured",
        404,
        "This server does not take leaked-key reports.",
    )
    VALIDATION_ERROR = (
        "validation_error",
        400,
        "One or more fields are not valid; `fields` maps each field's path to its messages.",
    )
    INVALID_JSON = "invalid_json", 400, "The body is empty or not valid JSON."
    BAD_REQUEST = "bad_request", 400, "The request could not be understood."
    NOT_FOUND = "not_found", 404, "No such endpoint, or no such resource in the key's account."
    METHOD_NOT_ALLOWED = (
        "method_not_allowed",
        405,
        "The endpoint does not take this method; `Allow` lists those it takes.",
    )
    WEBHOOK_DISABLED = (
        "webhook_disabled",
        409,
        "The webhook is disabled, so nothing is sent to it: re-enable it first.",
    )
    PAYLOAD_TOO_LARGE = "payload_too_large", 413, "The body is over the endpoint's limit."
    UNSUPPORTED_MEDIA_TYPE = (
        "unsupported_media_type",
        415,
        "The body is not sent as `application/json`.",
    )
    SERVICE_UNAVAILABLE = (
        "service_unavailable",
        503,
        "A service the API depends on is briefly unavailable. Retry after `Retry-After` seconds.",
    )
    INTERNAL_ERROR = "internal_error", 500, "Something went wrong on our side; it was logged."


@with_config(ConfigDict(extra="forbid"))
class ErrorDetail(TypedDict):
    code: ErrorCode
    message: str
    fields: NotRequired[
        Annotated[
            dict[str, list[str]],
            Field(description="validation_error only: the messages for each bad field's path."),
        ]
    ]
    required_scope: NotRequired[
        Annotated[str, Field(description="insufficient_scope only: the scope the key lacks.")]
    ]
    client_ip: NotRequired[
        Annotated[str, Field(description="ip_not_allowed only: the address the request came from.")]
    ]


@with_config(ConfigDict(extra="forbid"))
class Error(TypedDict):
    """The API's one error shape."""

    error: ErrorDetail


def api_error(
    code: ErrorCode, message: str, *, headers: dict[str, str] | None = None, **extra: Any
) -> JsonResponse:
    """Return the API's one error shape (Error): {"error": {"code": ..., "message": ...}}.

    `extra` holds ErrorDetail's optional fields.
    """
    body: Error = {"error": {"code": code, "message": message, **extra}}  # type: ignore[typeddict-item]
    response = JsonResponse(body, status=code.status)
    response.api_error_code = code.value  # type: ignore[attr-defined]  # read by usage counting
    for name, value in (headers or {}).items():
        response[name] = value
    return response


class ApiError(Exception):
    """Raised by a handler to answer with an API error; api_route turns it into the response."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.headers, self.extra = code, message, headers, extra

    def response(self) -> JsonResponse:
        return api_error(self.code, self.message, headers=self.headers, **self.extra)


def www_authenticate(error: str | None = None, scope: str | None = None) -> str:
    # RFC 6750 section 3: no error attribute when the request carried no token at all.
    value = f'Bearer realm="{REALM}"'
    if error:
        value += f', error="{error}"'
    if scope:
        value += f', scope="{scope}"'
    return value


def unauthorized(code: ErrorCode, message: str, *, token_sent: bool = True) -> JsonResponse:
    header = www_authenticate("invalid_token" if token_sent else None)
    return api_error(code, message, headers={"WWW-Authenticate": header})


MISSING_API_KEY_MESSAGE = (
    "This endpoint needs an API key. Send it as `Authorization: Bearer <key>`; "
    "create a key in Settings → API Keys."
)


def missing_api_key() -> JsonResponse:
    return unauthorized(ErrorCode.MISSING_API_KEY, MISSING_API_KEY_MESSAGE, token_sent=False)


def expired_message(expires_at: datetime, *, rolled: bool) -> str:
    when = f"{expires_at:%-d %B %Y at %H:%M} UTC"
    if rolled:
        return (
            f"This API key was rolled and stopped working on {when}. Use the key that replaced "
            "it, or roll or create a key in Settings → API Keys."
        )
    return f"This API key expired on {when}. Roll it or create a new key in Settings → API Keys."


def insufficient_scope(scope: str) -> JsonResponse:
    return api_error(
        ErrorCode.INSUFFICIENT_SCOPE,
        f"This API key lacks the `{scope}` scope. Create a key that includes it in "
        "Settings → API Keys.",
        headers={"WWW-Authenticate": www_authenticate("insufficient_scope", scope)},
        required_scope=scope,
    )


def not_found(message: str = "There is no such resource in this account.") -> JsonResponse:
    return api_error(ErrorCode.NOT_FOUND, message)


def method_not_allowed(method: str, allowed: list[str]) -> JsonResponse:
    return api_error(
        ErrorCode.METHOD_NOT_ALLOWED,
        f"{method} is not allowed here; use {' or '.join(allowed)}.",
        headers={"Allow": ", ".join(allowed)},
    )


def service_unavailable() -> JsonResponse:
    return api_error(
        ErrorCode.SERVICE_UNAVAILABLE,
        "The service is temporarily unavailable. Retry in a few seconds.",
        headers={"Retry-After": "5"},
    )


def rate_limited(retry_after: int, message: str) -> JsonResponse:
    return api_error(ErrorCode.RATE_LIMITED, message, headers={"Retry-After": str(retry_after)})


@csrf_exempt
@login_not_required
def unknown_endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """The JSON 404 for every path under /api/ that no route matches."""
    return not_found(
        f"There is no API endpoint at {request.path_info}. See the API reference at "
        "/api/v1/docs (the document: /api/v1/openapi.json)."
    )


unknown_endpoint.api_public = True  # type: ignore[attr-defined]  # the middleware reads it


# Django's handlers for errors raised outside views (e.g. a disallowed Host header, a bug): JSON
# under /api/, Django's own pages elsewhere.
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if is_api_path(request):
        return api_error(ErrorCode.BAD_REQUEST, "The request could not be understood.")
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_path(request):
        return api_error(
            ErrorCode.INTERNAL_ERROR, "Something went wrong on our side; it has been logged."
        )
    return defaults.server_error(request)
