"""Per-key usage counters: counted in memory per request, written to the database in batches.

The performance budget (docs: DESIGN.md) allows no database write per API request, so each
request only adds to dicts under a lock. A batch is written as a few upserts that add to the
stored counts (KeyUsage, KeyScopeUse, KeyClient) every API_USAGE_FLUSH_SECONDS or
API_USAGE_FLUSH_REQUESTS requests, whichever comes first, by the request that crosses the
threshold once its response is built, and at worker exit. The counters are swapped out under
the lock before writing, so two threads never write the same counts; the write is one
transaction, so a failed flush wrote nothing and its counts go back for the next try. A row the
database refuses (rather than the database failing) is dropped and the rest written, so one bad
value never stops usage recording. A worker
killed with SIGKILL loses what it had not flushed (at most one interval's worth).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import DataError, Error, IntegrityError, connections, transaction
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from apikeys.models import ApiKey, KeyClient, KeyScopeUse, KeyUsage
from voxkeys import metrics
from voxkeys.clientip import client_ip

if TYPE_CHECKING:
    from django.db.backends.utils import CursorWrapper

    from apikeys.auth.check import AuthenticatedKey

logger = logging.getLogger(__name__)

# The key page shows this many recent client addresses per key; older ones are deleted.
CLIENTS_KEPT = 10
USER_AGENT_LENGTH = 200

# What a single row can fail with (a value its column rejects, a constraint), as opposed to the
# database failing the whole batch.
ROW_ERRORS = (DataError, IntegrityError)

# (key id, hour, scope, status class, error code)
UsageBucket = tuple[int, datetime, str, int, str]


@dataclass
class ClientSeen:
    first_seen: datetime
    last_seen: datetime
    user_agent: str
    requests: int = 0


@dataclass
class Batch:
    """One worker's counts since its last flush."""

    usage: dict[UsageBucket, int] = field(default_factory=dict)
    scopes: dict[tuple[int, str], datetime] = field(default_factory=dict)
    clients: dict[tuple[int, str], ClientSeen] = field(default_factory=dict)
    requests: int = 0

    def size(self) -> int:
        return max(len(self.usage), len(self.clients), len(self.scopes))

    def merge(self, other: Batch) -> None:
        """Add `other`'s counts to this batch (a failed flush's, put back for the next try)."""
        for bucket, count in other.usage.items():
            self.usage[bucket] = self.usage.get(bucket, 0) + count
        for scope_key, when in other.scopes.items():
            self.scopes[scope_key] = max(when, self.scopes.get(scope_key, when))
        for client_key, seen in other.clients.items():
            mine = self.clients.get(client_key)
            if mine is None:
                self.clients[client_key] = seen
                continue
            mine.first_seen = min(mine.first_seen, seen.first_seen)
            if seen.last_seen > mine.last_seen:
                mine.last_seen, mine.user_agent = seen.last_seen, seen.user_agent
            mine.requests += seen.requests
        self.requests += other.requests


class UsageRecorder:
    """Thread-safe in-memory usage counters of one worker process, and their batched flush."""

    def __init__(
        self,
        *,
        flush_seconds: float,
        flush_requests: int,
        max_entries: int,
        using: str = "default",
    ) -> None:
        self.flush_seconds = flush_seconds
        self.flush_requests = flush_requests
        # Bounds memory: a batch flushes early at this many distinct buckets or clients, and a
        # failed batch is kept for the next try only while the kept counts stay under twice it.
        self.max_entries = max_entries
        self.using = using
        self._lock = threading.Lock()
        self._batch = Batch()
        self._last_flush = time.monotonic()
        self._failing = False

    @classmethod
    def from_settings(cls) -> UsageRecorder:
        return cls(
            flush_seconds=settings.API_USAGE_FLUSH_SECONDS,
            flush_requests=settings.API_USAGE_FLUSH_REQUESTS,
            max_entries=settings.API_USAGE_MAX_ENTRIES,
        )

    def record(
        self,
        *,
        key_id: int,
        scope: str,
        scope_used: bool,
        status: int,
        error_code: str,
        ip: str | None,
        user_agent: str,
        now: datetime,
    ) -> bool:
        """Count one request; return whether a flush is due."""
        status_class = min(max(status // 100, 2), 5)
        hour = now.replace(minute=0, second=0, microsecond=0)
        bucket = (key_id, hour, scope, status_class, error_code)
        with self._lock:
            batch = self._batch
            batch.usage[bucket] = batch.usage.get(bucket, 0) + 1
            if scope_used:
                batch.scopes[(key_id, scope)] = now
            if ip:
                seen = batch.clients.get((key_id, ip))
                if seen is None:
                    seen = batch.clients[(key_id, ip)] = ClientSeen(now, now, user_agent)
                seen.last_seen, seen.user_agent = now, user_agent
                seen.requests += 1
            batch.requests += 1
            interval_over = time.monotonic() - self._last_flush >= self.flush_seconds
            if self._failing:
                # The kept counts would cross the other thresholds on every request: while
                # writes fail, try once an interval, not once a request.
                return interval_over
            return (
                interval_over
                or batch.requests >= self.flush_requests
                or batch.size() >= self.max_entries
            )

    def pending(self) -> Batch:
        """Return the counts not yet flushed (a snapshot, for tests and inspection)."""
        with self._lock:
            snapshot = Batch()
            snapshot.merge(self._batch)
            return snapshot

    def reset(self) -> None:
        """Forget every unflushed count (tests call this so no counts leak between them)."""
        with self._lock:
            self._batch = Batch()
            self._last_flush = time.monotonic()
            self._failing = False

    def flush(self) -> bool:
        """Write the counts so far to the database; return False if that failed.

        A failure never raises: the counts go back into memory for the next flush, and one
        warning is logged until a flush succeeds again.
        """
        with self._lock:
            batch, self._batch = self._batch, Batch()
            # Also after a failure: the next try waits a whole interval, so a database outage
            # does not turn into a write attempt per request.
            self._last_flush = time.monotonic()
        if not batch.requests:
            return True
        try:
            write_batch(batch, using=self.using)
        except Error as exc:
            metrics.count_usage_flush_failure()
            self._restore(batch, exc)
            return False
        if self._failing:
            self._failing = False
            logger.info("API usage counts are being written again.")
        return True

    def _restore(self, batch: Batch, exc: Exception) -> None:
        with self._lock:
            batch.merge(self._batch)
            dropped = batch.size() >= 2 * self.max_entries
            if dropped:
                # Keep the newest counts; memory stays bounded through a long outage.
                batch = self._batch
            self._batch = batch
            first_failure = not self._failing
            self._failing = True
        if first_failure:
            logger.warning("Could not write API usage counts; keeping them to retry: %s", exc)
        if dropped:
            logger.error("API usage counts dropped: too many kept while the database failed.")


def write_batch(batch: Batch, *, using: str = "default") -> None:
    """Add `batch`'s counts to the database: one upsert per table, then trim the client lists."""
    key_ids = {key_id for key_id, *_ in batch.usage}
    # Keys are revoked, not deleted, but the admin can delete one: its counts are dropped
    # rather than failing the whole batch on the foreign key, forever.
    existing = set(ApiKey.objects.using(using).filter(pk__in=key_ids).values_list("pk", flat=True))
    connection = connections[using]
    adapt = connection.ops.adapt_datetimefield_value
    usage_rows = [
        (key_id, adapt(hour), scope, status_class, error_code, count)
        for (key_id, hour, scope, status_class, error_code), count in batch.usage.items()
        if key_id in existing
    ]
    scope_rows = [
        (key_id, scope, adapt(when))
        for (key_id, scope), when in batch.scopes.items()
        if key_id in existing
    ]
    client_rows = [
        (key_id, ip, adapt(seen.first_seen), adapt(seen.last_seen), seen.user_agent, seen.requests)
        for (key_id, ip), seen in batch.clients.items()
        if key_id in existing
    ]
    statements: list[tuple[str, Sequence[Sequence[Any]]]] = [
        (_USAGE_UPSERT, usage_rows),
        (_SCOPE_UPSERT, scope_rows),
        (_CLIENT_UPSERT, client_rows),
    ]
    client_keys = sorted({row[0] for row in client_rows})
    try:
        with transaction.atomic(using=using), connection.cursor() as cursor:
            for sql, rows in statements:
                if rows:
                    cursor.executemany(sql, rows)
            _trim_clients(cursor, client_keys)
    except ROW_ERRORS:
        # A row the database refuses (a value its column rejects) would fail every retry of
        # the batch, forever. An outage (OperationalError) still fails the whole batch.
        _write_row_by_row(statements, client_keys, using=using)


def _write_row_by_row(
    statements: list[tuple[str, Sequence[Sequence[Any]]]], client_keys: list[int], *, using: str
) -> None:
    """Write each row in its own savepoint, dropping those the database refuses."""
    refused: list[Exception] = []
    with transaction.atomic(using=using), connections[using].cursor() as cursor:
        for sql, rows in statements:
            for row in rows:
                try:
                    with transaction.atomic(using=using):
                        cursor.execute(sql, row)
                except ROW_ERRORS as error:
                    refused.append(error)
        _trim_clients(cursor, client_keys)
    if refused:
        logger.warning(
            "API usage: dropped %d row(s) the database refused, wrote the rest: %s",
            len(refused),
            refused[0],
        )


def _trim_clients(cursor: CursorWrapper, client_keys: list[int]) -> None:
    if client_keys:
        placeholders = ", ".join(["%s"] * len(client_keys))
        cursor.execute(_CLIENT_TRIM.format(keys=placeholders), [*client_keys, CLIENTS_KEPT])


# INSERT ... ON CONFLICT DO UPDATE works on PostgreSQL and SQLite >= 3.24. Counts are added to the
# stored ones, so workers (and machines) flushing the same bucket sum up.
_usage = KeyUsage._meta.db_table
_USAGE_UPSERT = f"""
INSERT INTO {_usage} (api_key_id, hour, scope, status_class, error_code, requests)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (api_key_id, hour, scope, status_class, error_code)
DO UPDATE SET requests = {_usage}.requests + EXCLUDED.requests
"""
# CASE rather than GREATEST (PostgreSQL) or max() (SQLite): the one form both understand.
_scopes = KeyScopeUse._meta.db_table
_SCOPE_UPSERT = f"""
INSERT INTO {_scopes} (api_key_id, scope, last_used_at) VALUES (%s, %s, %s)
ON CONFLICT (api_key_id, scope) DO UPDATE SET last_used_at = CASE
    WHEN EXCLUDED.last_used_at > {_scopes}.last_used_at THEN EXCLUDED.last_used_at
    ELSE {_scopes}.last_used_at END
"""
_clients = KeyClient._meta.db_table
_CLIENT_UPSERT = f"""
INSERT INTO {_clients} (api_key_id, ip_address, first_seen, last_seen, user_agent, requests)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (api_key_id, ip_address) DO UPDATE SET
    last_seen = CASE WHEN EXCLUDED.last_seen > {_clients}.last_seen
        THEN EXCLUDED.last_seen ELSE {_clients}.last_seen END,
    user_agent = CASE WHEN EXCLUDED.last_seen > {_clients}.last_seen
        THEN EXCLUDED.user_agent ELSE {_clients}.user_agent END,
    requests = {_clients}.requests + EXCLUDED.requests
"""
_CLIENT_TRIM = f"""
DELETE FROM {_clients} WHERE api_key_id IN ({{keys}}) AND id NOT IN (
    SELECT recent.id FROM {_clients} AS recent
    WHERE recent.api_key_id = {_clients}.api_key_id
    ORDER BY recent.last_seen DESC, recent.id DESC LIMIT %s
)
"""


def required_scope(request: HttpRequest) -> str:
    """Return the scope the request's endpoint required, or "" (any key, or no such method).

    Read from the resolved route's declarations (api.routes.api_route), after the response: a
    few attribute lookups, and correct even when the handler refused the request.
    """
    match = request.resolver_match
    handlers: dict[str, Any] = getattr(match.func, "api_handlers", {}) if match else {}
    method = "GET" if request.method == "HEAD" else request.method
    handler = handlers.get(method or "")
    access = getattr(handler, "api_access", None)
    return (access.scope if access is not None else None) or ""


def record_response(request: HttpRequest, response: HttpResponse, key: AuthenticatedKey) -> None:
    """Count an authenticated API request's outcome; flush if this request crossed a threshold."""
    # api.errors.api_error stashes the code, so no error body is parsed.
    error_code = getattr(response, "api_error_code", "") if response.status_code >= 400 else ""
    scope = required_scope(request)
    due = recorder.record(
        key_id=key.id,
        scope=scope,
        # A scope counts as used when the key holds it and the request was let through: a
        # refused scope or a 429 says nothing about what the key needs (least-privilege hints).
        scope_used=bool(scope) and key.has_scope(scope) and response.status_code != 429,
        status=response.status_code,
        error_code=error_code,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_LENGTH],
        now=timezone.now(),
    )
    if due:
        recorder.flush()


recorder = UsageRecorder.from_settings()


@atexit.register
def _flush_at_exit() -> None:
    # gunicorn's workers exit through sys.exit on SIGTERM/SIGQUIT and on max_requests, so this
    # runs; SIGKILL skips it (README "Usage").
    recorder.flush()
