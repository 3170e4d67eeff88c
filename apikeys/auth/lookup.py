"""Finding a key by its digest: one prepared, indexed query, or this process's cache of it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, NamedTuple

from django.conf import settings
from django.db import connections, router
from django.db.models import Q, QuerySet

from accounts.models import Account
from apikeys.auth.cache import process_cache
from apikeys.models import ApiKey
from voxkeys import metrics
from voxkeys.db.prepared import PreparedQuery

# How stale last_used_at may get: at most one write per key per this interval.
LAST_USED_RESOLUTION = timedelta(minutes=1)
# The account's columns authentication and the views use; the rest of the account stays
# deferred. The balance is not among them: it changes with every call, so a view that shows it
# reads it (voice.services.credit_balance), and the cached row never holds a stale one.
ACCOUNT_FIELDS: tuple[str, ...] = ("id", "name", "status", "api_key_limit", "api_rate_limit")


class KeyRow(NamedTuple):
    """What authentication needs of a key and its account, as one query returns it."""

    key_id: int
    scopes: str
    environment: str
    revoked_at: datetime | None
    expires_at: datetime | None
    expiry_recorded_at: datetime | None
    replaced_by_id: int | None
    allowed_ips: str
    last_used_at: datetime | None
    account_id: int
    account_name: str
    account_status: str
    account_api_key_limit: int
    account_api_rate_limit: int

    def account(self) -> Account:
        """Return the key's account with only ACCOUNT_FIELDS loaded."""
        values = (
            self.account_id,
            self.account_name,
            self.account_status,
            self.account_api_key_limit,
            self.account_api_rate_limit,
        )
        return Account.from_db(router.db_for_write(ApiKey), ACCOUNT_FIELDS, values)


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


def _key_lookup(digest: str) -> QuerySet[ApiKey, tuple[Any, ...]]:
    return ApiKey.objects.filter(key_digest=digest).order_by().values_list(*LOOKUP_FIELDS)[:1]


# Authentication gets a shorter deadline than pages' queries (API_AUTH_STATEMENT_TIMEOUT).
_find_key = PreparedQuery(ApiKey, _key_lookup, "0" * 64, deadline="API_AUTH_STATEMENT_TIMEOUT")
# A well-formed digest no key has: readiness runs the real lookup and expects no row.
NO_SUCH_DIGEST = "0" * 64


def find_key(digest: str) -> KeyRow | None:
    """Return the key's row from the database (the primary), or None."""
    row = _find_key(digest)
    return None if row is None else KeyRow._make(row)


def lookup_key(digest: str) -> KeyRow | None:
    """Return the key's row from this process's cache when it can answer (PostgreSQL,
    API_KEY_CACHE), else from the database."""
    connection = connections[router.db_for_write(ApiKey)]
    # Inside a transaction the row must be what that transaction sees, not what has committed.
    if not settings.API_KEY_CACHE or connection.in_atomic_block:
        return find_key(digest)
    cache = process_cache.get()
    cached = cache.get(digest)
    metrics.count_auth_cache_lookup(hit=cached is not None)
    if cached is not None:
        return cached
    generation = cache.generation()
    row = find_key(digest)
    if row is not None:
        cache.put(digest, row, row.account_id, generation)
    return row


def check_lookup() -> None:
    """Run the real lookup (this worker's connection, its prepared statement); raise
    DatabaseError when the database cannot answer it. For readiness probes."""
    find_key(NO_SUCH_DIGEST)


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


def remember_key_use(digest: str, row: KeyRow, now: datetime) -> None:
    """Record the key's use (a throttled write) and, when this process wrote it, keep its
    cached row's last_used_at in step (the triggers do not announce last_used_at)."""
    if record_key_use(row.key_id, row.last_used_at, now) and (cache := process_cache.current()):
        cached = cache.get(digest)
        if cached is not None:
            cache.replace(digest, cached._replace(last_used_at=now))
