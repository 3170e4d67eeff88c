"""The task queue in operation: backoff, stalled jobs recovered, failed jobs listed and run
again (command and admin), and the worker's graceful stop on SIGTERM."""

from __future__ import annotations

import datetime as dt
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import time_machine
from django.conf import settings as django_settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test import Client
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from accounts.notifications import send_email, send_to_each
from jobs.retries import Backoff
from jobs.services import recover_stalled_jobs, rerun_job
from tests.support.admin import logged_in, staff_with
from tests.support.jobs import jobs, nap, run_jobs
from voxkeys import sealed

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
REFUSING = "tests.test_mail_queue.RefusingBackend"
PROJECT = Path(__file__).resolve().parent.parent


def failed_email_job(settings) -> DBTaskResult:  # noqa: ANN001
    """An email whose every attempt the mail server refused."""
    settings.EMAIL_BACKEND = REFUSING
    send_to_each("Hello", "Body", ["owner@acme.test"])
    with time_machine.travel(START, tick=False) as clock:
        run_jobs()
        for _ in range(5):
            clock.move_to(DBTaskResult.objects.get(status=TaskResultStatus.READY).run_after)
            run_jobs()
    [failed] = jobs(TaskResultStatus.FAILED)
    return failed


def test_each_wait_is_its_delay_give_or_take_the_jitter_and_the_last_attempt_has_none() -> None:
    backoff = Backoff(delays=(dt.timedelta(minutes=1), dt.timedelta(hours=2)), jitter=0.1)
    assert backoff.attempts == 3
    for _ in range(200):
        first, second = backoff.delay_after(1), backoff.delay_after(2)
        assert first is not None and second is not None
        assert dt.timedelta(seconds=54) <= first <= dt.timedelta(seconds=66)
        assert dt.timedelta(minutes=108) <= second <= dt.timedelta(minutes=132)
    assert backoff.delay_after(3) is None


def test_a_job_running_past_the_stall_limit_is_ready_again_and_runs(
    settings,  # noqa: ANN001
    mailoutbox: list,
) -> None:
    settings.JOB_STALL_SECONDS = 300
    with time_machine.travel(START, tick=False) as clock:
        result = send_email.enqueue("Hello", sealed.seal("Body"), "owner@acme.test")
        # A worker claims it, then is killed with SIGKILL: the row stays RUNNING.
        DBTaskResult.objects.get(pk=result.id).claim("killed-worker")
        clock.move_to(START + dt.timedelta(seconds=300))
        assert recover_stalled_jobs() == 0
        assert run_jobs() == 0
        clock.move_to(START + dt.timedelta(seconds=301))
        assert recover_stalled_jobs() == 1
        assert recover_stalled_jobs() == 0
        assert [message.to for message in mailoutbox] == [["owner@acme.test"]]
    job = DBTaskResult.objects.get(pk=result.id)
    assert job.status == TaskResultStatus.SUCCESSFUL
    assert job.worker_ids == ["killed-worker", "tests"]


def test_manage_jobs_lists_counts_and_failed_jobs_and_runs_one_again_once(
    settings,  # noqa: ANN001
    mailoutbox: list,
) -> None:
    failed = failed_email_job(settings)
    out = io.StringIO()
    call_command("jobs", stdout=out)
    listing = out.getvalue()
    assert listing.splitlines()[:2] == [
        "queue       READY     RUNNING      FAILED  SUCCESSFUL",
        "email           0           0           1           5",
    ]
    assert "Failed jobs: 1 (run one again: manage.py jobs --rerun ID)" in listing
    assert f"{failed.pk}  accounts.notifications.send_email  email  failed 2026-03-01" in listing
    assert '"args": ["Hello", "' in listing
    # The body is sealed in the job's arguments: a reset or invitation link is not readable there.
    assert "Body" not in listing
    assert "error: ConnectionRefusedError: mail server down" in listing

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    out = io.StringIO()
    call_command("jobs", rerun=str(failed.pk), stdout=out)
    assert out.getvalue().startswith(f"Job {failed.pk} runs again as job ")
    with pytest.raises(CommandError, match="was already run again"):
        call_command("jobs", rerun=str(failed.pk), stdout=io.StringIO())
    with pytest.raises(CommandError, match="There is no job not-a-job"):
        call_command("jobs", rerun="not-a-job", stdout=io.StringIO())
    out = io.StringIO()
    call_command("jobs", rerun_failed=True, stdout=out)
    assert out.getvalue() == "Failed jobs run again: 0.\n"
    assert [message.to for message in mailoutbox] == [["owner@acme.test"]]
    out = io.StringIO()
    call_command("jobs", stdout=out)
    assert "Failed jobs: 0" in out.getvalue()


def test_only_failed_jobs_run_again(settings) -> None:  # noqa: ANN001
    result = send_email.enqueue("Hello", "Body", "owner@acme.test")
    with pytest.raises(Exception, match="is ready: only failed jobs run again"):
        rerun_job(job_id=result.id)


def test_the_admin_runs_a_failed_job_again(
    settings,  # noqa: ANN001
    staff_client: Client,
    mailoutbox: list,
) -> None:
    failed = failed_email_job(settings)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    changelist = "/admin/django_tasks_database/dbtaskresult/"
    page = staff_client.get(changelist)
    assert "Run again (failed jobs only)" in page.content.decode()
    response = staff_client.post(
        changelist, {"action": "run_again", "_selected_action": [str(failed.pk)]}, follow=True
    )
    assert "1 job(s) enqueued to run again." in response.content.decode()
    assert [message.to for message in mailoutbox] == [["owner@acme.test"]]


def test_staff_without_the_change_permission_cannot_run_jobs_again(
    settings,  # noqa: ANN001
) -> None:
    failed = failed_email_job(settings)
    viewer = staff_with("django_tasks_database.view_dbtaskresult")
    client = logged_in(viewer)
    changelist = "/admin/django_tasks_database/dbtaskresult/"
    assert "Run again" not in client.get(changelist).content.decode()
    client.post(changelist, {"action": "run_again", "_selected_action": [str(failed.pk)]})
    assert DBTaskResult.objects.count() == 6


def database_url() -> str:
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    return (
        f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST']}:"
        f"{database['PORT']}/{database['NAME']}"
    )


@pytest.mark.django_db(transaction=True)
def test_sigterm_lets_the_running_job_finish_and_takes_no_new_one() -> None:
    slow = nap.enqueue(3)
    waiting = nap.enqueue(0)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
    }
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--no-reload", "--no-startup-delay"],
        cwd=PROJECT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while DBTaskResult.objects.get(pk=slow.id).status != TaskResultStatus.RUNNING:
            assert worker.poll() is None, worker.stdout.read() if worker.stdout else ""
            assert time.monotonic() < deadline, "the worker never started the job"
            time.sleep(0.05)
        worker.send_signal(signal.SIGTERM)
        output, _ = worker.communicate(timeout=60)
    finally:
        if worker.poll() is None:
            worker.kill()
    assert worker.returncode == 0, output
    assert "shutting down gracefully" in output
    assert DBTaskResult.objects.get(pk=slow.id).status == TaskResultStatus.SUCCESSFUL
    assert DBTaskResult.objects.get(pk=waiting.id).status == TaskResultStatus.READY
    assert django_settings.JOB_STALL_SECONDS == 300
