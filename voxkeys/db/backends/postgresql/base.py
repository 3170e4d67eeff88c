"""PostgreSQL with a client-side deadline on every wait for the server.

A database that is paused (SIGSTOP), swapping to death or behind a black-holing network never
answers, and nothing on the server side can help: its statement_timeout does not run, and its
kernel still ACKs our packets, so TCP keepalives and tcp_user_timeout never fire either. psycopg
waits for every answer in `Connection.wait()`; this backend's connections give that wait a
deadline (OPTIONS["query_timeout"], seconds) and, when it passes, close the connection (its
state is unknown: the answer may still come) and raise DatabaseTimeout, an OperationalError.
Django then discards the connection and the next request opens a new one.

connect_timeout already bounds connecting (psycopg enforces it on the client side).

Private APIs this relies on (imported or checked here, so an upgrade that changes them fails at
start-up rather than in an outage):
- psycopg's `errors._WaitTimeout`, what `Connection.wait()` raises when its timeout passes;
- psycopg's `Connection.wait(gen, interval, timeout)`, undocumented, which this overrides;
- Django's `DatabaseWrapper.get_new_connection()`, copied below less the pool: re-read it when
  pyproject.toml lets Django past 5.2.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from django.core.exceptions import ImproperlyConfigured
from django.db.backends.postgresql import base
from psycopg import IsolationLevel
from psycopg.errors import _WaitTimeout

if tuple(inspect.signature(psycopg.Connection.wait).parameters) != (
    "self",
    "gen",
    "interval",
    "timeout",
):
    raise ImportError("psycopg's Connection.wait() changed: review DeadlineConnection.wait().")


class DatabaseTimeout(psycopg.OperationalError):
    """The server did not answer within the connection's deadline; the connection is closed."""


class DeadlineConnection(psycopg.Connection):
    """A psycopg connection whose waits for the server end after `query_timeout` seconds."""

    query_timeout: float | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        if timeout is not None or self.query_timeout is None:
            # psycopg's own timed waits (notifies(), cancellation) handle their timeouts.
            return super().wait(gen, interval, timeout)
        try:
            return super().wait(gen, interval, self.query_timeout)
        except _WaitTimeout as exc:
            # psycopg does the same when a cancelled query does not end (#1371): the
            # connection is mid-protocol, so it cannot be used again.
            self.pgconn.finish()
            raise DatabaseTimeout(
                f"the database did not answer within {self.query_timeout:g} s"
            ) from exc

    @contextmanager
    def deadline(self, seconds: float) -> Iterator[None]:
        """Give the waits inside the block a different deadline."""
        previous, self.query_timeout = self.query_timeout, seconds
        try:
            yield
        finally:
            self.query_timeout = previous


class DatabaseWrapper(base.DatabaseWrapper):
    def get_connection_params(self) -> dict[str, Any]:
        params = super().get_connection_params()
        # Ours, not a libpq parameter: psycopg would refuse it.
        self._query_timeout = params.pop("query_timeout", None)
        return params

    def get_new_connection(self, conn_params: dict[str, Any]) -> DeadlineConnection:
        if self.settings_dict["OPTIONS"].get("pool"):
            raise ImproperlyConfigured(
                "voxkeys.db.backends.postgresql does not support OPTIONS['pool']: its "
                "connections are DeadlineConnection, which the pool would not create."
            )
        # Django's own method, less the pool and with our connection class.
        options = self.settings_dict["OPTIONS"]
        isolation_level = options.get("isolation_level")
        self.isolation_level = (
            IsolationLevel.READ_COMMITTED
            if isolation_level is None
            else IsolationLevel(isolation_level)
        )
        connection = DeadlineConnection.connect(**conn_params)
        connection.query_timeout = self._query_timeout
        if isolation_level is not None:
            connection.isolation_level = self.isolation_level
        return connection
