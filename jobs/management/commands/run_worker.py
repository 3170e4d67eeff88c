"""The queue's worker: django-tasks-db's `db_worker`, plus recovery of jobs whose worker died.

Every queue by default. SIGTERM (or Ctrl-C) stops it gracefully: the job it is running
finishes, and it takes no new one; a second signal stops the job too (it is then FAILED, and can
be run again). A worker killed outright leaves its job RUNNING, and some worker makes it READY
again once it has been RUNNING for JOB_STALL_SECONDS (jobs.services.recover_stalled_jobs).
"""

from __future__ import annotations

import logging
import threading
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django_tasks_db.management.commands import db_worker

from jobs.services import recover_stalled_jobs

logger = logging.getLogger("jobs.worker")


class StallRecovery(threading.Thread):
    """Recover stalled jobs now and every `interval` seconds, beside the worker's loop."""

    def __init__(self, interval: float) -> None:
        # A daemon: a stopping worker does not wait for it, and an UPDATE cut short commits nothing.
        super().__init__(name="stalled job recovery", daemon=True)
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.is_set():
                self.recover()
                self.stopped.wait(self.interval)
        finally:
            connection.close()

    def recover(self) -> None:
        try:
            recovered = recover_stalled_jobs()
        except DatabaseError as error:
            # The worker's own loop meets the same outage and says so; try again next time.
            logger.warning("Could not look for stalled jobs: %s", error)
            connection.close()
            return
        if recovered:
            logger.warning(
                "%d jobs were RUNNING for over %d s (their worker died): they are READY again.",
                recovered,
                settings.JOB_STALL_SECONDS,
            )


class RecoveringWorker(db_worker.Worker):
    def run(self) -> None:
        # Often enough that a stalled job waits little past JOB_STALL_SECONDS, rarely enough
        # to cost little (one UPDATE that usually matches no row).
        recovery = StallRecovery(interval=min(60, max(1, settings.JOB_STALL_SECONDS / 5)))
        recovery.start()
        try:
            super().run()
        finally:
            recovery.stopped.set()


class Command(db_worker.Command):
    help = (
        "Run jobs from the task queue (every queue by default), recovering those whose worker "
        "died. SIGTERM stops it once the current job is done."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.set_defaults(queue_name="*")

    def handle(self, *args: Any, **options: Any) -> None:
        # db_worker builds its Worker by name: run ours instead.
        original = db_worker.Worker
        db_worker.Worker = RecoveringWorker  # type: ignore[misc]
        try:
            super().handle(*args, **options)
        finally:
            db_worker.Worker = original  # type: ignore[misc]
