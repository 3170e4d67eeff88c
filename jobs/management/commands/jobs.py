"""The task queue at a glance: jobs by queue and status, the failed ones, and running them again."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Count
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from jobs.services import JobNotRerunnable, failed_jobs, rerun_failed_jobs, rerun_job

STATUSES = [status.value for status in TaskResultStatus]


def last_line(traceback: str) -> str:
    lines = traceback.strip().splitlines()
    return lines[-1] if lines else ""


class Command(BaseCommand):
    help = (
        "List the task queue's jobs by queue and status, and the failed jobs not yet run again; "
        "--rerun ID or --rerun-failed enqueue fresh copies of failed jobs."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        reruns = parser.add_mutually_exclusive_group()
        reruns.add_argument("--rerun", metavar="ID", help="Run this failed job again.")
        reruns.add_argument(
            "--rerun-failed", action="store_true", help="Run every listed failed job again."
        )

    def handle(self, *args: Any, rerun: str | None, rerun_failed: bool, **options: Any) -> None:
        if rerun:
            try:
                copy = rerun_job(job_id=rerun)
            except JobNotRerunnable as refusal:
                raise CommandError(str(refusal)) from refusal
            self.stdout.write(f"Job {rerun} runs again as job {copy.pk}.")
            return
        if rerun_failed:
            copies, refusals = rerun_failed_jobs()
            for reason in refusals:
                self.stderr.write(reason)
            self.stdout.write(f"Failed jobs run again: {len(copies)}.")
            return
        self.write_counts()
        self.write_failed()

    def write_counts(self) -> None:
        counts: dict[str, dict[str, int]] = {}
        for row in DBTaskResult.objects.values("queue_name", "status").annotate(jobs=Count("pk")):
            counts.setdefault(row["queue_name"], {})[row["status"]] = row["jobs"]
        width = max([len("queue"), *map(len, counts)])
        self.stdout.write("queue".ljust(width) + "".join(f"  {status:>10}" for status in STATUSES))
        for queue in sorted(counts):
            self.stdout.write(
                queue.ljust(width)
                + "".join(f"  {counts[queue].get(status, 0):>10}" for status in STATUSES)
            )

    def write_failed(self) -> None:
        jobs = failed_jobs()
        self.stdout.write(f"\nFailed jobs: {len(jobs)} (run one again: manage.py jobs --rerun ID)")
        for job in jobs:
            arguments = json.dumps(job.args_kwargs, ensure_ascii=False)
            self.stdout.write(
                f"{job.pk}  {job.task_path}  {job.queue_name}  "
                f"failed {job.finished_at:%Y-%m-%d %H:%M:%S} UTC, "
                f"after {len(job.worker_ids)} run(s)\n"
                f"    arguments: {arguments[:300]}\n"
                f"    error: {last_line(job.traceback)}"
            )
