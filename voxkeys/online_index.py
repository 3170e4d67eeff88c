"""AddIndex that does not stop writes: CREATE INDEX CONCURRENTLY on PostgreSQL.

A plain CREATE INDEX holds a lock that blocks every INSERT into the table while it builds: on the
activity log (a million rows, written in every key action's transaction) or the hourly usage
counts (written by every usage flush), that is every key action and flush waiting for the whole
build. CONCURRENTLY builds beside the writers, at the price of running outside a transaction
(so the migration sets `atomic = False`) and, if it fails midway, leaving an INVALID index that
must be dropped (`DROP INDEX CONCURRENTLY name`) before migrating again. Other databases (SQLite
in development and tests) get a plain AddIndex.
"""

from __future__ import annotations

from typing import Any

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db.migrations.operations import AddIndex


class AddIndexOnline(AddIndexConcurrently):
    def database_forwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, *args)
        else:
            AddIndex.database_forwards(self, app_label, schema_editor, *args)

    def database_backwards(self, app_label: str, schema_editor: Any, *args: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, *args)
        else:
            AddIndex.database_backwards(self, app_label, schema_editor, *args)
