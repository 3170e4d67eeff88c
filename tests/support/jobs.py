"""Running the task queue's jobs inside a test, as `manage.py run_worker` runs them.

Jobs are rows of the real DatabaseBackend, enqueued in the test's transaction; `run_jobs` claims
the ready ones and runs them with django-tasks-db's own Worker.run_task, in this thread (for a
live server's jobs too: the rows are in the database either way). Retries wait for their
`run_after`: travel in time (time-machine) to run them.
"""

from __future__ import annotations

import time

from django.core import mail
from django.utils import timezone
from django_tasks import TaskResultStatus, task
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from django_tasks_db.utils import exclusive_transaction

WORKER_ID = "tests"
# More than any test enqueues: a job that enqueues itself at once must not loop forever.
MAX_JOBS = 1000


def test_worker() -> Worker:
    return Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=WORKER_ID,
        excluded_queue_names=[],
    )


def run_jobs() -> int:
    """Run every job that is ready now, those they enqueue included; return how many ran."""
    worker = test_worker()
    ran = 0
    while ran < MAX_JOBS:
        with exclusive_transaction():
            job = DBTaskResult.objects.ready().get_locked()
            if job is None:
                return ran
            job.claim(WORKER_ID)
        worker.run_task(job)
        ran += 1
    raise AssertionError(f"more than {MAX_JOBS} jobs: does a job enqueue itself?")


def jobs(status: TaskResultStatus | None = None, *, task_name: str = "") -> list[DBTaskResult]:
    """Return the queue's jobs, oldest first, optionally of one status or task (function name)."""
    found = DBTaskResult.objects.order_by("enqueued_at")
    if status is not None:
        found = found.filter(status=status)
    if task_name:
        found = found.filter(task_path__endswith=f".{task_name}")
    return list(found)


def waiting_jobs() -> list[DBTaskResult]:
    """Return the READY jobs whose time has not come (retries), soonest first."""
    return list(
        DBTaskResult.objects.filter(
            status=TaskResultStatus.READY, run_after__gt=timezone.now()
        ).order_by("run_after")
    )


class OutboxAfterJobs(list[mail.EmailMessage]):
    """Django's locmem outbox as a worker would leave it: reading it first runs the ready jobs.

    Tests written when mail went out with the request read `mail.outbox` after an action; the
    mail is now a job, so each read runs the queue first (the jobs really run, on the real
    backend). Writing (the locmem backend appends) runs nothing.
    """

    running = False

    def run_ready_jobs(self) -> None:
        if OutboxAfterJobs.running:
            return
        OutboxAfterJobs.running = True
        try:
            run_jobs()
        finally:
            OutboxAfterJobs.running = False

    def __iter__(self):  # type: ignore[no-untyped-def]
        self.run_ready_jobs()
        return super().__iter__()

    def __len__(self) -> int:
        self.run_ready_jobs()
        return super().__len__()

    def __getitem__(self, index):  # type: ignore[no-untyped-def]
        self.run_ready_jobs()
        return super().__getitem__(index)

    def __reversed__(self):  # type: ignore[no-untyped-def]
        self.run_ready_jobs()
        return super().__reversed__()

    def __eq__(self, other: object) -> bool:
        self.run_ready_jobs()
        return super().__eq__(other)

    def __bool__(self) -> bool:
        return len(self) > 0

    def __contains__(self, item: object) -> bool:
        self.run_ready_jobs()
        return super().__contains__(item)

    def clear(self) -> None:
        # What was enqueued before the clear is mail the test means to forget too.
        self.run_ready_jobs()
        super().clear()


@task()
def nap(seconds: float) -> None:
    """A job that takes its time (for the worker's graceful stop)."""
    time.sleep(seconds)
