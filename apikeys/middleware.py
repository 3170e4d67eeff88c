"""Bearer-key authentication for every path under /api/, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import InterfaceError, OperationalError, connections, router
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone

from accounts.models import Account
from apikeys import ratelimit, usage
from apikeys.allowlist import is_allowed
from apikeys.api import (
    API_PREFIX,
    AuthenticatedKey,
    api_error,
    expired_api_key,
    missing_api_key,
    not_found,
    rate_limited,
    record_key_use,
    service_unavailable,
    unauthorized,
)
from apikeys.authcache import process_cache
from apikeys.keys import is_well_formed, key_digest
from apikeys.models import ApiKey
from apikeys.services import record_expiry
from voxkeys.clientip import client_ip
from voxkeys.db.prepared import PreparedQuery
from voxkeys.logs import report_database_outage

# What authentication needs of the key, and the account's columns the views use (the rest of
# the account stays deferred), fetched together in one indexed query.
ACCOUNT_FIELDS: tuple[str, ...] = (
    "id",
    "name",
    "status",
    "api_key_limit",
    "credit_balance",
    "api_rate_limit",
)
LOOKUP_FIELDS: tuple[str, ...] = (
    "pk",
    "scopes",
    "environment",
    "revoked_at",
    "expires_at",
    "expiry_recorded_at",
    "replaced_by_id",
    "allowed_ips",
    "last_used_at",
    *(f"account__{name}" for name in ACCOUNT_FIELDS),
)
# The authentication cache keeps the row without the balance, which changes with every call:
# a view that shows it reads it (the account's field is deferred).
CACHED_ACCOUNT_FIELDS = tuple(name for name in ACCOUNT_FIELDS if name != "credit_balance")
_BALANCE = LOOKUP_FIELDS.index("account__credit_balance")
_LAST_USED = LOOKUP_FIELDS.index("last_used_at")
_ACCOUNT_ID = LOOKUP_FIELDS.index("account__id")


def _key_lookup(digest: str) -> QuerySet[ApiKey, tuple[Any, ...]]:
    return ApiKey.objects.filter(key_digest=digest).order_by().values_list(*LOOKUP_FIELDS)[:1]


# Authentication gets a shorter deadline than pages' queries (API_AUTH_STATEMENT_TIMEOUT).
find_key = PreparedQuery(ApiKey, _key_lookup, "0" * 64, deadline="API_AUTH_STATEMENT_TIMEOUT")


def lookup_key(digest: str) -> tuple[tuple[Any, ...], tuple[str, ...]] | None:
    """Return the key's lookup row and the account fields it holds, from this process's
    cache when it can answer (PostgreSQL, API_KEY_CACHE), else from the database."""
    connection = connections[router.db_for_write(ApiKey)]
    # Inside a transaction the row must be what that transaction sees, not what has committed.
    if not settings.API_KEY_CACHE or connection.in_atomic_block:
        row = find_key(digest)
        return None if row is None else (row, ACCOUNT_FIELDS)
    cache = process_cache.get()
    cached = cache.get(digest)
    if cached is not None:
        return cached, CACHED_ACCOUNT_FIELDS
    generation = cache.generation()
    row = find_key(digest)
    if row is None:
        return None
    cache.put(digest, row[:_BALANCE] + row[_BALANCE + 1 :], row[_ACCOUNT_ID], generation)
    return row, ACCOUNT_FIELDS


def remember_key_use(digest: str, row: tuple[Any, ...], now: datetime) -> None:
    """Record the key's use (a throttled write) and, when this process wrote it, keep its
    cached row's last_used_at in step (the triggers do not announce last_used_at)."""
    if record_key_use(row[0], row[_LAST_USED], now) and (cache := process_cache.current()):
        cached = cache.get(digest)
        if cached is not None:
            cache.replace(digest, cached[:_LAST_USED] + (now,) + cached[_LAST_USED + 1 :])


def authenticate(request: HttpRequest) -> tuple[AuthenticatedKey, Account] | HttpResponse:
    """Return the key and account the request's Authorization header authenticates, or the
    error response."""
    header = request.META.get(ApiKeyMiddleware.header, "").strip()
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
    # Before the database: an address that keeps sending unknown, revoked or expired keys.
    wait = ratelimit.limits.auth_failures_retry_after(request)
    if wait is not None:
        return too_many_failures(wait)
    digest = key_digest(token)
    found = lookup_key(digest)
    if found is None:
        ratelimit.limits.record_auth_failure(request)
        return unauthorized(
            "invalid_api_key",
            "This API key does not exist. Check that you copied it from the right account.",
        )
    row, account_fields = found
    (
        key_id,
        scopes,
        environment,
        revoked_at,
        expires_at,
        expiry_recorded_at,
        replaced_by_id,
        allowed_ips,
        _last_used_at,
        *account_values,
    ) = row
    if revoked_at is not None:
        ratelimit.limits.record_auth_failure(request)
        return unauthorized(
            "revoked_api_key",
            "This API key has been revoked. Create a new key in Settings → API Keys.",
        )
    # Checked against the clock on every request: nothing has to run for a key to expire.
    now = timezone.now()
    if expires_at is not None and expires_at <= now:
        if expiry_recorded_at is None:
            record_expiry(key=ApiKey.objects.get(pk=key_id), now=now)
        ratelimit.limits.record_auth_failure(request)
        return expired_api_key(expires_at, rolled=replaced_by_id is not None)
    account = Account.from_db(router.db_for_write(ApiKey), account_fields, account_values)
    if not account.in_good_standing:
        return account_suspended(account)
    if allowed_ips:
        ip = client_ip(request)
        if not is_allowed(allowed_ips, ip):
            return ip_not_allowed(ip)
    remember_key_use(digest, row, now)
    key = AuthenticatedKey(
        id=key_id,
        scopes=frozenset(scopes.split()),
        livemode=environment == ApiKey.Environment.LIVE,
    )
    return key, account


def ip_not_allowed(ip: str | None) -> HttpResponse:
    return api_error(
        403,
        "ip_not_allowed",
        f"This API key may not be used from {ip or 'an unknown address'}: it is limited to a "
        "list of IP addresses. Add this address to the key's allowlist in Settings → API Keys.",
        client_ip=ip,
    )


def too_many_failures(retry_after: int) -> HttpResponse:
    return rate_limited(
        retry_after,
        "Too many requests from this address with unknown, revoked or expired API keys. "
        f"Retry in {retry_after} s, with a valid key from Settings → API Keys.",
    )


def over_rate_limit(decision: ratelimit.Decision) -> HttpResponse:
    return rate_limited(
        decision.retry_after,
        f"This API key is over its rate limit of {decision.limit} requests per second. "
        f"Retry in {decision.retry_after} s; the RateLimit-Remaining header of each response "
        "says how many requests are left.",
    )


def https_required() -> HttpResponse:
    return api_error(
        403,
        "https_required",
        "The API is served over HTTPS only. Send the request to https:// (the key you sent "
        "over plain HTTP may have been seen by others: consider rolling it).",
    )


def account_suspended(account: Account) -> HttpResponse:
    return api_error(
        403,
        "account_suspended",
        f"The account {account.name} is suspended, so its API keys do not work. "
        "Please contact support to restore it.",
    )


class ApiKeyMiddleware:
    """Set request.api_key and request.account from `Authorization: Bearer <key>` on /api/.

    It sits before the session, CSRF and auth middleware so it can strip cookies first; on
    every other path it costs one startswith(). The key is checked in process_view, once the
    route is known, so public routes and unknown paths need no key.
    """

    header = "HTTP_AUTHORIZATION"
    # A hook for bench/auth_off.py, the benchmark's control target (everything but this).
    authenticate = staticmethod(authenticate)

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
            request.rate_limit = None
        response = self.get_response(request)
        if getattr(request, "api_key", None) is not None:
            # In memory only; the counts reach the database in batches (apikeys/usage.py).
            usage.record_response(request, response)
        # process_view decided for an authenticated key: its answer carries the key's limit,
        # whatever the view made of the request.
        decision: ratelimit.Decision | None = getattr(request, "rate_limit", None)
        if decision is not None:
            for name, value in decision.headers().items():
                response[name] = value
        return response

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if not request.path_info.startswith(API_PREFIX):
            return None
        # Never a session user on the API, and no session read (which would add Vary: Cookie)
        # when LoginRequiredMiddleware asks whether someone is logged in.
        request.user = AnonymousUser()
        # Routes decide: public ones (health, the OpenAPI document, the JSON 404) need no key.
        if getattr(view_func, "api_public", False):
            return None
        # settings.py exempts /api/ from the https redirect: a redirect would have the client
        # send its key again, in the clear.
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            return https_required()
        try:
            result = self.authenticate(request)
        except (OperationalError, InterfaceError) as exc:
            report_database_outage(exc, request)
            return service_unavailable()
        if isinstance(result, HttpResponse):
            return result
        request.api_key, request.account = result
        request.rate_limit = ratelimit.limits.check_key(
            request.api_key.id, request.account.api_rate_limit
        )
        if request.rate_limit is not None and not request.rate_limit.allowed:
            return over_rate_limit(request.rate_limit)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path_info.startswith(API_PREFIX):
            return None
        if isinstance(exception, Http404):
            return not_found()
        if isinstance(exception, (OperationalError, InterfaceError)):
            report_database_outage(exception, request)
            return service_unavailable()
        # Anything else is a bug: Django logs it and handler500 answers in JSON.
        return None
