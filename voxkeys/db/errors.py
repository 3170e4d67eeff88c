"""Which database errors a new connection cures."""

from __future__ import annotations

import psycopg
from django.db import InterfaceError, OperationalError

from voxkeys.db.backends.postgresql.base import DatabaseTimeout


def is_retryable(exc: BaseException) -> bool:
    """Whether a database error is worth one more try on a new connection.

    A deadline that passed is not: the database is hung or overloaded, and trying again
    doubles the wait.
    """
    cause = exc.__cause__ or exc
    if isinstance(
        cause,
        DatabaseTimeout | psycopg.errors.ConnectionTimeout | psycopg.errors.QueryCanceled,
    ):
        return False
    # A prepared statement that a migration made stale ("cached plan must not change result
    # type", repeated until the statement is dropped) or that the server no longer has.
    if isinstance(
        cause,
        psycopg.errors.FeatureNotSupported
        | psycopg.errors.InvalidSqlStatementName
        | psycopg.errors.DuplicatePreparedStatement,
    ):
        return True
    # The connection died: a database restart, a failover, an idle connection cut.
    return isinstance(exc, OperationalError | InterfaceError)
