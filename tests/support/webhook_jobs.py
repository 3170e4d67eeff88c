"""Running queued jobs in the test's process, as `manage.py db_worker` does: claim the next job
that is due, run it with the worker's own code, until none is due."""

from __future__ import annotations

from django.db import transaction
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

WORKER_ID = "tests"
# A job that keeps queueing itself for "now" would otherwise loop forever.
MAX_JOBS = 1000


def run_ready_jobs() -> int:
    """Run every job due now (time-machine moves "now"); return how many ran."""
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id=WORKER_ID,
        excluded_queue_names=[],
    )
    for ran in range(MAX_JOBS):
        with transaction.atomic():
            job = DBTaskResult.objects.ready().get_locked()
            if job is None:
                return ran
            job.claim(WORKER_ID)
        worker.run_task(job)
    raise AssertionError(f"Still jobs due after running {MAX_JOBS}.")


def queued_jobs(task_name: str) -> list[DBTaskResult]:
    """The jobs of `task_name` (its module path) not run yet."""
    return list(DBTaskResult.objects.filter(task_path=task_name, status="READY"))
