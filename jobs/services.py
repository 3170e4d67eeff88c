"""What operators do to the queue: recover jobs whose worker died, and run failed jobs again.

django-tasks-db marks a job RUNNING when a worker claims it and never looks at it again, so a
worker killed with SIGKILL (or the OOM killer, or a machine that vanished) would leave its job
RUNNING forever. A job that has been RUNNING longer than JOB_STALL_SECONDS is taken to have lost
its worker and is made READY again: every job runs at least once, and a job may run twice (jobs
must be safe to repeat). JOB_STALL_SECONDS must be above the longest a job can take.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from jobs.retries import ATTEMPT, Job

# A failed job that was run again: its return value names the copy, so it is run again once.
RERUN_AS = "rerun_as"


def recover_stalled_jobs(*, now: datetime | None = None) -> int:
    """Make jobs RUNNING for longer than JOB_STALL_SECONDS READY again; return how many."""
    started_before = (now or timezone.now()) - timedelta(seconds=settings.JOB_STALL_SECONDS)
    # One UPDATE: two workers recovering at once make the same rows READY, which is harmless.
    return DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, started_at__lt=started_before
    ).update(status=TaskResultStatus.READY)


def failed_jobs() -> list[Job]:
    """Return the failed jobs not yet run again, newest first."""
    return list(
        DBTaskResult.objects.failed()
        .exclude(return_value__has_key=RERUN_AS)
        .order_by("-finished_at")
    )


class JobNotRerunnable(Exception):
    pass


@transaction.atomic
def rerun_job(*, job_id: str) -> Job:
    """Enqueue a fresh copy of a failed job (from its first attempt); return the copy."""
    try:
        job = DBTaskResult.objects.select_for_update().get(pk=job_id)
    except (DBTaskResult.DoesNotExist, ValidationError) as error:
        raise JobNotRerunnable(f"There is no job {job_id}.") from error
    if job.status != TaskResultStatus.FAILED:
        raise JobNotRerunnable(f"Job {job.pk} is {job.status.lower()}: only failed jobs run again.")
    if isinstance(job.return_value, dict) and RERUN_AS in job.return_value:
        raise JobNotRerunnable(
            f"Job {job.pk} was already run again as job {job.return_value[RERUN_AS]}."
        )
    try:
        task = job.task.using(run_after=timezone.now())
    except ImportError as error:
        raise JobNotRerunnable(f"Job {job.pk}'s task {job.task_path} no longer exists.") from error
    kwargs = {name: value for name, value in job.args_kwargs["kwargs"].items() if name != ATTEMPT}
    copy = task.get_backend().enqueue(task, job.args_kwargs["args"], kwargs)
    job.return_value = {RERUN_AS: copy.id}
    job.save(update_fields=["return_value"])
    return DBTaskResult.objects.get(pk=copy.id)


def rerun_failed_jobs() -> tuple[list[Job], list[str]]:
    """Run every failed job again once; return the copies, and why any could not be."""
    copies, refusals = [], []
    for job in failed_jobs():
        try:
            copies.append(rerun_job(job_id=str(job.pk)))
        except JobNotRerunnable as refusal:
            refusals.append(str(refusal))
    return copies, refusals
