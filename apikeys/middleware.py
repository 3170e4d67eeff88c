"""Bearer-key authentication for every path under /api/, and nothing else."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from accounts.models import Account
from apikeys.api import (
    API_PREFIX,
    AuthenticatedKey,
    api_error,
    missing_api_key,
    not_found,
    record_key_use,
    service_unavailable,
    unauthorized,
)
from apikeys.keys import is_well_formed, key_digest
from apikeys.models import ApiKey

logger = logging.getLogger(__name__)

# The account's columns come with the key in the same query, so views get a whole Account.
ACCOUNT_FIELDS: tuple[str, ...] = tuple(field.attname for field in Account._meta.concrete_fields)
LOOKUP_FIELDS: tuple[str, ...] = (
    "pk",
    "scopes",
    "revoked_at",
    "last_used_at",
    *(f"account__{name}" for name in ACCOUNT_FIELDS),
)


def find_key(digest: str) -> tuple[Any, ...] | None:
    """Return the key's row and its account's columns, in one indexed query, or None."""
    # order_by(): no ORDER BY for a unique lookup; [:1] instead of .get(), which costs more.
    rows = list(ApiKey.objects.filter(key_digest=digest).order_by().values_list(*LOOKUP_FIELDS)[:1])
    return rows[0] if rows else None


def authenticate(header: str | None) -> tuple[AuthenticatedKey, Account] | HttpResponse:
    """Return the key and account that `header` authenticates, or the error response."""
    header = (header or "").strip()
    if not header:
        return missing_api_key()
    # RFC 6750: `Bearer` 1*SP token; the scheme is case-insensitive.
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return unauthorized(
            "malformed_api_key",
            "Send the key with the Bearer scheme: `Authorization: Bearer <key>`.",
        )
    # Format and checksum first: typos and junk never reach the database.
    if not is_well_formed(token):
        return unauthorized(
            "malformed_api_key",
            "This is not a VoxPria API key: keys start with vxp_live_ or vxp_test_ and are "
            "47 characters long. Copy the whole key, without quotes or spaces.",
        )
    row = find_key(key_digest(token))
    if row is None:
        return unauthorized(
            "invalid_api_key",
            "This API key does not exist. Check that you copied it from the right account.",
        )
    key_id, scopes, revoked_at, last_used_at, *account_values = row
    if revoked_at is not None:
        return unauthorized(
            "revoked_api_key",
            "This API key has been revoked. Create a new key in Settings → API Keys.",
        )
    account = Account.from_db("default", ACCOUNT_FIELDS, account_values)
    if not account.in_good_standing:
        return unauthorized_account(account)
    record_key_use(key_id, last_used_at, timezone.now())
    return AuthenticatedKey(id=key_id, scopes=frozenset(scopes.split())), account


def unauthorized_account(account: Account) -> HttpResponse:
    return api_error(
        403,
        "account_suspended",
        f"The account {account.name} is suspended, so its API keys do not work. "
        "Please contact support to restore it.",
    )


class ApiKeyMiddleware:
    """Set request.api_key and request.account from `Authorization: Bearer <key>` on /api/.

    Placed before the session middleware's work matters: on other paths it does nothing but
    one startswith().
    """

    header = "HTTP_AUTHORIZATION"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            # The API is cookie-less: drop cookies so no later middleware can find a session
            # (which would log a browser in) or need a CSRF token, and none sets a cookie.
            request.META.pop("HTTP_COOKIE", None)
            request.COOKIES = {}
            request.api_key = None
            request.account = None
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        # Routes decide: public ones (health, the OpenAPI document, the JSON 404) need no key.
        if not request.path_info.startswith(API_PREFIX) or getattr(view_func, "api_public", False):
            return None
        try:
            result = authenticate(request.META.get(self.header))
        except (OperationalError, InterfaceError):
            logger.exception("API authentication failed: database unavailable")
            return service_unavailable()
        if isinstance(result, HttpResponse):
            return result
        request.api_key, request.account = result
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path_info.startswith(API_PREFIX):
            return None
        if isinstance(exception, Http404):
            return not_found()
        if isinstance(exception, (OperationalError, InterfaceError)):
            logger.exception("API request failed: database unavailable", exc_info=exception)
            return service_unavailable()
        # Anything else is a bug: Django logs it and handler500 answers in JSON.
        return None
