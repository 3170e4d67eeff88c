"""Bearer-key authentication for every path under /api/, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.db.backends.base.base import BaseDatabaseWrapper
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
from apikeys.keys import is_well_formed, key_digest
from apikeys.models import ApiKey
from apikeys.services import record_expiry
from voxkeys.clientip import client_ip
from voxkeys.db.backends.postgresql.base import DeadlineConnection
from voxkeys.db.errors import is_retryable
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
_DIGEST_PLACEHOLDER = "0" * 64


class _PreparedCursor(psycopg.Cursor):  # type: ignore[type-arg]
    """A server-side-binding cursor whose statements are prepared (PostgreSQL only)."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("prepare", True)
        return super().execute(query, params, **kwargs)


class KeyLookup:
    """The authentication query: built by the ORM once per database backend, then run as is.

    Profiling showed that building and compiling the queryset cost several times more than
    running it (see bench/README.md). The SQL and the value converters are the
    ORM's own, so results match `ApiKey.objects.filter(...).values_list(...)` exactly
    (tests/test_middleware.py checks that).
    """

    def __init__(self) -> None:
        self._compiled: dict[str, tuple[str, dict[int, tuple[list[Any], Any]]]] = {}

    def _compile(self, connection: BaseDatabaseWrapper) -> tuple[str, dict[int, Any]]:
        queryset = (
            ApiKey.objects.filter(key_digest=_DIGEST_PLACEHOLDER)
            .order_by()
            .values_list(*LOOKUP_FIELDS)[:1]
        )
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        if tuple(params) != (_DIGEST_PLACEHOLDER,):
            raise ImproperlyConfigured(f"Unexpected parameters in the key lookup: {params!r}")
        converters = compiler.get_converters([column for column, _, _ in compiler.select])
        return sql, converters

    @staticmethod
    def _cursor(connection: BaseDatabaseWrapper) -> Any:
        if connection.vendor != "postgresql":
            return connection.cursor()
        connection.close_if_health_check_failed()
        connection.ensure_connection()
        raw_connection = connection.connection
        if raw_connection.prepare_threshold is None:
            return connection.cursor()
        # PostgreSQL, with prepared statements allowed (settings.py): the lookup is parsed and
        # planned once per connection instead of on every request, which halves its cost.
        # Only this statement: Django's own cursors bind client-side and never prepare.
        # (Django's query log shows this statement's SQL as None: psycopg keeps no text.)
        connection.validate_thread_sharing()
        cursor = _PreparedCursor(raw_connection)
        if connection.queries_logged:
            return connection.make_debug_cursor(cursor)
        return connection.make_cursor(cursor)

    def _run(
        self, connection: BaseDatabaseWrapper, sql: str, digest: str
    ) -> tuple[Any, ...] | None:
        with self._cursor(connection) as cursor:
            raw_connection = connection.connection
            if isinstance(raw_connection, DeadlineConnection):
                # Authentication gets a shorter deadline than pages' queries: set on the
                # client, so it costs no round trip (a SET per request would double the cost).
                with raw_connection.deadline(settings.API_AUTH_STATEMENT_TIMEOUT):
                    cursor.execute(sql, (digest,))
                    return cursor.fetchone()
            cursor.execute(sql, (digest,))
            return cursor.fetchone()

    def __call__(self, digest: str) -> tuple[Any, ...] | None:
        """Return the key's LOOKUP_FIELDS for `digest`, or None."""
        connection = connections[ApiKey.objects.db]
        compiled = self._compiled.get(connection.vendor)
        if compiled is None:
            compiled = self._compiled[connection.vendor] = self._compile(connection)
        sql, converters = compiled
        try:
            row = self._run(connection, sql, digest)
        except DatabaseError as exc:
            if (
                connection.vendor != "postgresql"
                or connection.in_atomic_block
                or not is_retryable(exc)
            ):
                raise
            # A migration changed a column this statement reads ("cached plan must not change
            # result type", which repeats until the statement is dropped), or the connection
            # died (database restart). A new connection has neither problem.
            connection.close()
            row = self._run(connection, sql, digest)
        if row is None:
            return None
        row = list(row)
        for index, (functions, expression) in converters.items():
            for convert in functions:
                row[index] = convert(row[index], expression, connection)
        return tuple(row)


find_key = KeyLookup()


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
    row = find_key(key_digest(token))
    if row is None:
        ratelimit.limits.record_auth_failure(request)
        return unauthorized(
            "invalid_api_key",
            "This API key does not exist. Check that you copied it from the right account.",
        )
    (
        key_id,
        scopes,
        environment,
        revoked_at,
        expires_at,
        expiry_recorded_at,
        replaced_by_id,
        allowed_ips,
        last_used_at,
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
    account = Account.from_db(ApiKey.objects.db, ACCOUNT_FIELDS, account_values)
    if not account.in_good_standing:
        return account_suspended(account)
    if allowed_ips:
        ip = client_ip(request)
        if not is_allowed(allowed_ips, ip):
            return ip_not_allowed(ip)
    record_key_use(key_id, last_used_at, now)
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
            result = authenticate(request)
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
