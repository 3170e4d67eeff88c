"""A per-process cache of key lookups, kept exact by PostgreSQL LISTEN/NOTIFY.

On PostgreSQL most of what authentication costs is the round trip to the database. Each worker
process therefore keeps what the lookup returned for the keys it has recently seen, and the
database itself says when an entry is wrong: triggers on the key and account tables (migration
apikeys/0005) send `pg_notify(CHANNEL, ...)` in the transaction that changes them, whatever made
the change (the services, the admin, a data migration, raw SQL). A listener thread per process
evicts the entries as the notifications arrive.

The cache fails closed: it answers only while its listener is connected and has heard from the
database within STALE_AFTER seconds; otherwise every request does the direct lookup until the
listener is back and the cache has been emptied. A lookup that started before an invalidation
cannot put its (possibly stale) row back: every invalidation bumps a generation counter, and a
fill carries the generation it read before querying. Entries also expire after a TTL, the last
safety net. Unknown keys are never cached: a cache of them would be a memory sink that anyone
could fill.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

from voxkeys import metrics
from voxkeys.db.backends.postgresql.base import DeadlineConnection

if TYPE_CHECKING:
    from apikeys.auth.lookup import KeyRow as Row

logger = logging.getLogger(__name__)

CHANNEL = "voxkeys_auth_cache"
# How the listeners' connections show in pg_stat_activity.
APPLICATION_NAME = "voxkeys auth cache listener"
# The listener asks the database for a sign of life this often (seconds); the cache is not used
# when the last one is older than STALE_AFTER.
HEARTBEAT_INTERVAL = 1.0
STALE_AFTER = 2.5
# The longest wait for the heartbeat's answer before the listener's connection is given up.
HEARTBEAT_TIMEOUT = 2.0
RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(slots=True)
class _Entry:
    row: Row
    account_id: int
    filled_at: float


class AuthCache:
    """An LRU map from key digest to lookup row, usable only while the listener is healthy.

    Thread-safe: the request thread(s) read and fill it, the listener thread invalidates it.
    """

    def __init__(
        self,
        *,
        size: int,
        ttl: float,
        stale_after: float = STALE_AFTER,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.size = size
        self.ttl = ttl
        self.stale_after = stale_after
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # Account id -> digests of its cached keys: an account's notification evicts them
        # without a scan (a migration may update every account).
        self._by_account: dict[int, set[str]] = {}
        self._generation = 0
        # When the listener last heard from the database (clock()), None while it is not
        # connected and listening.
        self._heard_at: float | None = None

    # Request side ----------------------------------------------------------------------------

    def is_live(self) -> bool:
        heard_at = self._heard_at
        return heard_at is not None and self.clock() - heard_at <= self.stale_after

    def get(self, digest: str) -> Row | None:
        """Return the cached row for `digest`, or None (absent, too old, or cache not live)."""
        if not self.is_live():
            return None
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None:
                return None
            if self.clock() - entry.filled_at > self.ttl:
                self._remove(digest)
                return None
            self._entries.move_to_end(digest)
            return entry.row

    def generation(self) -> int:
        """Read before the database lookup whose row will be passed to put()."""
        return self._generation

    def put(self, digest: str, row: Row, account_id: int, generation: int) -> bool:
        """Cache a row the database returned, unless something was invalidated since
        `generation` was read (the row may predate that change). Return whether it was cached."""
        if not self.is_live():
            return False
        with self._lock:
            if generation != self._generation:
                return False
            self._remove(digest)
            self._entries[digest] = _Entry(row, account_id, self.clock())
            self._by_account.setdefault(account_id, set()).add(digest)
            while len(self._entries) > self.size:
                self._remove(next(iter(self._entries)))
            return True

    def _remove(self, digest: str) -> None:
        """Drop one entry (the caller holds the lock)."""
        entry = self._entries.pop(digest, None)
        if entry is None:
            return
        digests = self._by_account[entry.account_id]
        digests.discard(digest)
        if not digests:
            del self._by_account[entry.account_id]

    def _clear(self) -> None:
        self._entries.clear()
        self._by_account.clear()

    def replace(self, digest: str, row: Row) -> None:
        """Update a cached row in place: for what this process itself wrote (last_used_at),
        which the triggers deliberately do not announce."""
        with self._lock:
            entry = self._entries.get(digest)
            if entry is not None:
                entry.row = row

    def __len__(self) -> int:
        return len(self._entries)

    # Listener side ---------------------------------------------------------------------------

    def invalidate(self, payload: str) -> None:
        """Apply one notification: `key:<digest>`, `account:<id>` or `all`."""
        kind, _, value = payload.partition(":")
        with self._lock:
            self._generation += 1
            if kind == "key":
                self._remove(value)
            elif kind == "account" and value.isdigit():
                for digest in list(self._by_account.get(int(value), ())):
                    self._remove(digest)
            else:
                # `all` (a TRUNCATE), or a payload this version does not know: drop everything.
                self._clear()

    def listening(self) -> None:
        """The listener has (re)connected and is listening: start from an empty cache, since
        any notification sent while it was away is lost."""
        with self._lock:
            self._generation += 1
            self._clear()
            self._heard_at = self.clock()

    def heard(self) -> None:
        """The database answered the listener's heartbeat."""
        with self._lock:
            if self._heard_at is not None:
                self._heard_at = self.clock()

    def lost(self) -> None:
        """The listener's connection is gone: stop answering from the cache at once."""
        with self._lock:
            self._heard_at = None
            self._generation += 1
            self._clear()


def listen_connection() -> psycopg.Connection[Any]:
    """Open the listener's own autocommit connection: direct to PostgreSQL, since LISTEN does
    not survive a transaction-mode pooler (API_KEY_CACHE_LISTEN_URL when DATABASE_URL points
    at one)."""
    if settings.API_KEY_CACHE_LISTEN_URL:
        connection = DeadlineConnection.connect(
            settings.API_KEY_CACHE_LISTEN_URL,
            autocommit=True,
            connect_timeout=settings.DATABASE_CONNECT_TIMEOUT,
            application_name=APPLICATION_NAME,
        )
    else:
        params = connections[DEFAULT_DB_ALIAS].get_connection_params()
        for django_only in ("prepare_threshold", "cursor_factory", "context"):
            params.pop(django_only, None)
        params["application_name"] = APPLICATION_NAME
        connection = DeadlineConnection.connect(**params, autocommit=True)
    connection.query_timeout = HEARTBEAT_TIMEOUT
    return connection


class Listener(threading.Thread):
    """Keeps one LISTEN connection and applies its notifications to the cache, forever."""

    def __init__(
        self,
        cache: AuthCache,
        connect: Callable[[], psycopg.Connection[Any]] = listen_connection,
        heartbeat_interval: float = HEARTBEAT_INTERVAL,
    ) -> None:
        super().__init__(name="auth-cache-listener", daemon=True)
        self.cache = cache
        self.connect = connect
        self.heartbeat_interval = heartbeat_interval
        self.stopping = threading.Event()
        self.connection: psycopg.Connection[Any] | None = None

    def run(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                self._listen()
            except Exception as error:  # noqa: BLE001 - any failure: fail closed and reconnect
                self.cache.lost()
                metrics.observe_auth_cache(live=False, entries=0)
                if self.stopping.is_set():
                    break
                if failures == 0:
                    logger.warning(
                        "API key cache off: its listener lost the database (%s: %s); "
                        "authentication queries the database until it is back.",
                        type(error).__name__,
                        error,
                    )
                delay = RECONNECT_DELAYS[min(failures, len(RECONNECT_DELAYS) - 1)]
                failures += 1
                self.stopping.wait(delay)
            else:
                failures = 0
            finally:
                self._close()
        self.cache.lost()
        metrics.observe_auth_cache(live=False, entries=0)

    def _listen(self) -> None:
        self.connection = connection = self.connect()
        connection.execute(f"LISTEN {CHANNEL}")
        self.cache.listening()
        logger.info("API key cache on: listening on %s.", CHANNEL)
        while not self.stopping.is_set():
            for notification in connection.notifies(timeout=self.heartbeat_interval):
                self.cache.invalidate(notification.payload)
            connection.execute("SELECT 1")
            self.cache.heard()
            metrics.observe_auth_cache(live=self.cache.is_live(), entries=len(self.cache))

    def _close(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None:
            # Already broken, perhaps: there is nothing left to release then.
            with contextlib.suppress(Exception):
                connection.close()

    def stop(self) -> None:
        self.stopping.set()
        self._close()


class ProcessCache:
    """This process's cache and its listener, started on first use (so after a fork: gunicorn
    forks workers, and a thread does not survive a fork)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None
        self.cache: AuthCache | None = None
        self.listener: Listener | None = None

    def get(self) -> AuthCache:
        pid = os.getpid()
        if self._pid != pid:
            with self._lock:
                if self._pid != pid:
                    self.cache = AuthCache(
                        size=settings.API_KEY_CACHE_SIZE, ttl=settings.API_KEY_CACHE_TTL
                    )
                    self.listener = Listener(self.cache)
                    self.listener.start()
                    self._pid = pid
        assert self.cache is not None
        return self.cache

    def current(self) -> AuthCache | None:
        """This process's cache if it has started, without starting it."""
        return self.cache if self._pid == os.getpid() else None

    def stop(self) -> None:
        """Stop the listener and forget the cache (tests, and settings changes)."""
        with self._lock:
            if self.listener is not None and self._pid == os.getpid():
                self.listener.stop()
                self.listener.join(timeout=5)
            self._pid, self.cache, self.listener = None, None, None


process_cache = ProcessCache()


def status() -> str:
    """For the readiness check: `on`, `off` (bypassed: the listener is not in touch with the
    database) or `disabled` (API_KEY_CACHE=0, or not PostgreSQL)."""
    if not settings.API_KEY_CACHE:
        return "disabled"
    return "on" if process_cache.get().is_live() else "off"
