"""One-parameter ORM queries on the API's hot path, compiled once and run as they are.

Profiling showed that building and compiling a queryset cost several times more than running
it (bench/README.md). A PreparedQuery has the ORM build and compile its query once per database
backend, then runs that SQL with the ORM's own value converters, so results match
`queryset.values_list(...)` exactly (tests/test_middleware.py checks that). On PostgreSQL the
statement is also prepared: parsed and planned once per connection instead of on every request.

Private APIs this relies on (checked when this module is imported, so an upgrade that drops one
fails at start-up rather than in an outage; a change in what they return fails the tests that
compare a PreparedQuery with its queryset):
- Django's SQL compiler: `Query.get_compiler()`, `SQLCompiler.as_sql()`, `.get_converters()`
  and `.select` (the (expression, sql, alias) triples that `setup_query()` fills);
- Django's `BaseDatabaseWrapper.make_cursor()`, `.make_debug_cursor()`, `.queries_logged`,
  `.validate_thread_sharing()` and `.close_if_health_check_failed()`, to wrap a cursor of our
  own as `connection.cursor()` wraps Django's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import DatabaseError, connections, models, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.db.models.sql.compiler import SQLCompiler
from django.db.models.sql.query import Query

from voxkeys.db.backends.postgresql.base import DeadlineConnection
from voxkeys.db.errors import is_retryable


def _require(owner: type, *names: str) -> None:
    missing = [name for name in names if not hasattr(owner, name)]
    if missing:
        raise ImportError(
            f"{owner.__qualname__} has no {', '.join(missing)} any more: PreparedQuery "
            "(voxkeys/db/prepared.py) relies on them."
        )


_require(Query, "get_compiler")
_require(SQLCompiler, "as_sql", "get_converters", "setup_query")
_require(
    BaseDatabaseWrapper,
    "make_cursor",
    "make_debug_cursor",
    "queries_logged",
    "validate_thread_sharing",
    "close_if_health_check_failed",
)


class _PreparedCursor(psycopg.Cursor):
    """A server-side-binding cursor whose statements are prepared (PostgreSQL only)."""

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        kwargs.setdefault("prepare", True)
        return super().execute(query, params, **kwargs)


class PreparedQuery:
    """`build(value)` is a values_list queryset of `model` with `value` as its one parameter;
    calling the PreparedQuery with a value returns the first row, or None.

    It always reads the primary (the database writes go to), never a replica: what it answers
    (a key's revocation, a balance) must count from the commit. `deadline` names the setting
    (seconds) that bounds its wait for the server, when it should differ from pages' queries.
    """

    def __init__(
        self,
        model: type[models.Model],
        build: Callable[[Any], models.QuerySet[Any, tuple[Any, ...]]],
        placeholder: Any,
        *,
        deadline: str | None = None,
    ) -> None:
        self.model = model
        self.build = build
        self.placeholder = placeholder
        self.deadline = deadline
        self._compiled: dict[str, tuple[str, dict[int, tuple[list[Any], Any]]]] = {}

    def _compile(self, connection: BaseDatabaseWrapper) -> tuple[str, dict[int, Any]]:
        compiler = self.build(self.placeholder).query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        if tuple(params) != (self.placeholder,):
            raise ImproperlyConfigured(f"Unexpected parameters in a prepared query: {params!r}")
        converters = compiler.get_converters([column for column, _, _ in compiler.select])
        return sql, converters

    @staticmethod
    def _cursor(connection: BaseDatabaseWrapper) -> CursorWrapper:
        if connection.vendor != "postgresql":
            return connection.cursor()
        connection.close_if_health_check_failed()
        connection.ensure_connection()
        raw_connection = connection.connection
        if raw_connection.prepare_threshold is None:
            return connection.cursor()
        # PostgreSQL, with prepared statements allowed (settings.py). Only these statements:
        # Django's own cursors bind client-side and never prepare. (Django's query log shows
        # their SQL as None: psycopg keeps no text.)
        connection.validate_thread_sharing()
        cursor = _PreparedCursor(raw_connection)
        # django-stubs types the argument of both as a CursorWrapper; Django passes the driver's
        # own cursor, as here.
        if connection.queries_logged:
            return connection.make_debug_cursor(cursor)  # type: ignore[arg-type]  # a raw cursor
        return connection.make_cursor(cursor)  # type: ignore[arg-type]  # a raw cursor

    def _run(self, connection: BaseDatabaseWrapper, sql: str, value: Any) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None
        with self._cursor(connection) as cursor:
            raw_connection = connection.connection
            if self.deadline and isinstance(raw_connection, DeadlineConnection):
                # Set on the client, so it costs no round trip (a SET per request would double
                # the cost).
                with raw_connection.deadline(getattr(settings, self.deadline)):
                    cursor.execute(sql, (value,))
                    row = cursor.fetchone()
            else:
                cursor.execute(sql, (value,))
                row = cursor.fetchone()
        return row

    def __call__(self, value: Any) -> tuple[Any, ...] | None:
        connection = connections[router.db_for_write(self.model)]
        compiled = self._compiled.get(connection.vendor)
        if compiled is None:
            compiled = self._compiled[connection.vendor] = self._compile(connection)
        sql, converters = compiled
        try:
            row = self._run(connection, sql, value)
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
            row = self._run(connection, sql, value)
        if row is None:
            return None
        values = list(row)
        for index, (functions, expression) in converters.items():
            for convert in functions:
                values[index] = convert(values[index], expression, connection)
        return tuple(values)
