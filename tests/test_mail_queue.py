"""Every email is a job: the request that causes it never waits for a mail server, and a mail
server that fails is tried again on EMAIL_RETRY_BACKOFF until the last attempt fails for real."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
import time_machine
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.test import Client
from django_tasks import TaskResultStatus

from accounts.models import Membership
from accounts.notifications import EMAIL_RETRY_BACKOFF, send_to_each
from apikeys.models import ApiKey
from apikeys.services import create_key
from jobs.services import rerun_job
from tests.support.apikeys import CREATE, form_data, revealed_secret
from tests.support.jobs import jobs, run_jobs, waiting_jobs

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
SMTP_SLEEP = 3.0


class RefusingBackend(BaseEmailBackend):
    """A mail server that is down."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise ConnectionRefusedError("mail server down")


@pytest.fixture
def slow_smtp_server() -> Iterator[int]:
    """A server on 127.0.0.1 that accepts connections and says nothing for SMTP_SLEEP seconds."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                stop.wait(SMTP_SLEEP)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


def test_a_slow_mail_server_no_longer_slows_key_creation(
    owner_client: Client,
    owner: Membership,
    settings,  # noqa: ANN001
    slow_smtp_server: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = (
        "127.0.0.1",
        slow_smtp_server,
        1,
    )
    started = time.monotonic()
    response = owner_client.post(CREATE, form_data())
    took = time.monotonic() - started
    assert response.status_code == 200
    revealed_secret(response)
    # A bound well below the server's silence (this is a behaviour check, not a benchmark).
    assert took < 1.0
    assert not [record for record in caplog.records if record.exc_info]

    # The worker meets the silent server: its SMTP timeout, then a retry a minute later.
    run_jobs()
    [retry] = waiting_jobs()
    assert retry.args_kwargs["args"][2] == "owner@acme.test"
    assert retry.args_kwargs["kwargs"] == {"attempt": 2}
    [warning] = [r for r in caplog.records if r.name == "jobs.retries"]
    assert "attempt 1 of 6" in warning.getMessage() and "timed out" in warning.getMessage()
    assert warning.exc_info is None


def test_a_refused_mail_is_retried_at_the_scheduled_times_and_the_last_failure_is_kept(
    owner: Membership,
    settings,
    mailoutbox: list,  # noqa: ANN001
) -> None:
    settings.EMAIL_BACKEND = "tests.test_mail_queue.RefusingBackend"
    with time_machine.travel(START, tick=False) as clock:
        create_key(account=owner.account, user=owner.user, name="Billing", scopes=["calls:read"])
        run_jobs()  # renders the event's email, whose first send fails
        for attempt, delay in enumerate(EMAIL_RETRY_BACKOFF.delays, start=2):
            [retry] = waiting_jobs()
            assert retry.args_kwargs["kwargs"] == {"attempt": attempt}
            waited = retry.run_after - dt.datetime.now(dt.UTC)
            assert delay * 0.9 <= waited <= delay * 1.1
            clock.move_to(retry.run_after - dt.timedelta(seconds=1))
            assert run_jobs() == 0  # not before its time
            clock.move_to(retry.run_after)
            assert run_jobs() == 1
        assert waiting_jobs() == []
        [failed] = jobs(TaskResultStatus.FAILED)
        assert failed.task_path == "accounts.notifications.send_email"
        assert failed.exception_class_path == "builtins.ConnectionRefusedError"
        assert "mail server down" in failed.traceback
        # Attempts 1 to 5 finished, each pointing at the next; the sixth failed.
        retried = jobs(TaskResultStatus.SUCCESSFUL, task_name="send_email")
        # (one frozen clock: their enqueue times tie, so their order is not the attempts)
        assert sorted(job.return_value["attempt"] for job in retried) == [1, 2, 3, 4, 5]

        settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
        rerun_job(job_id=str(failed.pk))
        assert [message.to for message in mailoutbox] == [["owner@acme.test"]]
        assert mailoutbox[0].subject == "[VoxPria] API key “Billing” created in Acme Voice"


def test_a_key_created_in_a_rolled_back_transaction_enqueues_no_mail(owner: Membership) -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        create_key(account=owner.account, user=owner.user, name="Billing", scopes=["calls:read"])
        assert jobs() != []
        raise RuntimeError("a later step failed")
    assert jobs() == []
    assert not ApiKey.objects.exists()


def test_a_name_that_would_inject_a_header_is_flattened_by_the_job(
    owner: Membership, mailoutbox: list
) -> None:
    send_to_each("Hello\nBcc: attacker@example.test", "Body\u202e", ["owner@acme.test"])
    [message] = mailoutbox
    assert message.subject == "Hello Bcc: attacker@example.test"
    assert message.recipients() == ["owner@acme.test"]
    assert message.body == "Body\ufffd"


def test_every_recipient_gets_a_job_of_their_own(
    owner: Membership, admin_member: Membership, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    create_key(account=owner.account, user=owner.user, name="Billing", scopes=["calls:read"])
    run_jobs()
    sends = jobs(TaskResultStatus.SUCCESSFUL, task_name="send_email")
    assert sorted(job.args_kwargs["args"][2] for job in sends) == [
        "admin@acme.test",
        "owner@acme.test",
    ]
    assert all(job.queue_name == "email" for job in jobs())
