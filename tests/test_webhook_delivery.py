"""The delivery job: one attempt per run, retried on the Standard Webhooks schedule, at least
once (a killed worker's attempt is made again, with the same webhook-id), 410 and three days of
failures disable the endpoint, and at most N deliveries in flight per endpoint."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django_tasks_db.models import DBTaskResult, get_date_max
from pytest_django.fixtures import Settings
from standardwebhooks.webhooks import Webhook as Verifier

from accounts.models import Membership
from tests.support.metrics import TOKEN, moved, scrape
from tests.support.webhooks import Answer, Receiver, make_delivery, make_webhook, receiving
from voice.models import Webhook, WebhookAttempt, WebhookDelivery, WebhookEvent
from voice.webhooks.delivery import (
    MAX_ATTEMPTS,
    WebhookDisabled,
    claim_attempt,
    deliver_webhook,
    enqueue_delivery,
    in_flight_lease,
    redeliver,
)
from voice.webhooks.secrets import new_signing_secret

pytestmark = pytest.mark.django_db
T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
SECRET = new_signing_secret()
JOB = "voice.webhooks.delivery.deliver_webhook"


@pytest.fixture(autouse=True)
def private_allowed(settings: Settings) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


@pytest.fixture
def receiver(request: pytest.FixtureRequest) -> Iterator[Receiver]:
    """A receiver answering 200, or the answers a test gives as its indirect parameter."""
    with receiving(getattr(request, "param", [])) as found:
        yield found


def scheduled() -> list[tuple[list, datetime | None]]:
    """The delivery jobs waiting in the queue: their arguments and when they may run (None:
    at once)."""
    jobs = DBTaskResult.objects.filter(task_path=JOB, status="READY").order_by(
        "run_after", "enqueued_at"
    )
    return [
        (job.args_kwargs["args"], None if job.run_after == get_date_max() else job.run_after)
        for job in jobs
    ]


def run_due_job() -> str:
    """Run a job that is due now, as a worker would, and mark it done."""
    job = DBTaskResult.objects.ready().filter(task_path=JOB).order_by("enqueued_at")[0]
    job.status = "SUCCESSFUL"
    job.save(update_fields=["status"])
    return deliver_webhook.call(*job.args_kwargs["args"])


@pytest.mark.parametrize(
    "receiver",
    [[Answer(500, b"boom"), Answer(502, b"again"), Answer(200, b"thanks")]],
    indirect=True,
)
def test_a_receiver_failing_twice_gets_the_event_on_the_third_attempt(
    owner: Membership, receiver: Receiver, settings: Settings
) -> None:
    settings.METRICS_TOKEN = TOKEN
    before = scrape()
    webhook = make_webhook(owner.account, receiver.url(), secret=SECRET)
    delivery = make_delivery(webhook)
    with time_machine.travel(T0, tick=False):
        enqueue_delivery(delivery)
        assert scheduled() == [([delivery.pk, 1], None)]
        assert run_due_job() == "Failed; retrying."
        [(args, second_run)] = scheduled()
    assert args == [delivery.pk, 2]
    assert T0 + timedelta(seconds=4.5) <= second_run <= T0 + timedelta(seconds=5.5)
    webhook.refresh_from_db()
    assert webhook.status == Webhook.Status.FAILING
    assert webhook.failing_since == T0
    with time_machine.travel(second_run, tick=False):
        assert run_due_job() == "Failed; retrying."
        [(args, third_run)] = scheduled()
    assert args == [delivery.pk, 3]
    assert second_run + timedelta(minutes=4.5) <= third_run <= second_run + timedelta(minutes=5.5)
    with time_machine.travel(third_run, tick=False):
        assert run_due_job() == "Delivered."
    assert scheduled() == []

    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempts == 3
    assert delivery.next_attempt_at is None
    log = list(delivery.log.values_list("number", "started_at", "status_code", "response_body"))
    assert log == [
        (1, T0, 500, "boom"),
        (2, second_run, 502, "again"),
        (3, third_run, 200, "thanks"),
    ]
    webhook.refresh_from_db()
    assert webhook.status == Webhook.Status.ENABLED
    assert webhook.failing_since is None
    after = scrape()
    assert moved(before, after, "voxkeys_webhook_deliveries_total", outcome="failed") == 2
    assert moved(before, after, "voxkeys_webhook_deliveries_total", outcome="delivered") == 1
    # Every attempt is the same message: one webhook-id, each signed when it was sent.
    assert {request.headers["webhook-id"] for request in receiver.received} == {
        delivery.event.public_id
    }
    for request, sent_at in zip(receiver.received, [T0, second_run, third_run], strict=True):
        assert request.headers["webhook-timestamp"] == str(int(sent_at.timestamp()))
        with time_machine.travel(sent_at, tick=False):
            assert Verifier(SECRET).verify(request.body, request.headers)["id"] == (
                delivery.event.public_id
            )


@pytest.mark.parametrize("receiver", [[Answer(500)]], indirect=True)
def test_after_the_last_attempt_the_delivery_is_failed(
    owner: Membership, receiver: Receiver
) -> None:
    delivery = make_delivery(make_webhook(owner.account, receiver.url()))
    with time_machine.travel(T0, tick=False) as clock:
        enqueue_delivery(delivery)
        waits = []
        for _ in range(MAX_ATTEMPTS):
            [(_, run_after)] = scheduled()
            if run_after:
                clock.move_to(run_after)
            waits.append(run_after or T0)
            run_due_job()
    assert scheduled() == []
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == MAX_ATTEMPTS == 10
    gaps = [later - earlier for earlier, later in zip(waits, waits[1:], strict=False)]
    schedule = [5, 300, 1800, 7200, 18000, 36000, 50400, 72000, 86400]
    for gap, seconds in zip(gaps, schedule, strict=True):
        assert seconds * 0.9 <= gap.total_seconds() <= seconds * 1.1


@pytest.mark.parametrize(
    ("status", "retry_after", "wait"),
    [
        (429, "120", timedelta(seconds=120)),
        (503, "Mon, 04 Jan 2027 10:00:00 GMT", timedelta(hours=1)),
        (429, "999999", timedelta(hours=24)),  # no longer than the schedule's longest wait
    ],
)
def test_retry_after_is_honoured_on_429_and_503(
    owner: Membership, status: int, retry_after: str, wait: timedelta
) -> None:
    with receiving([Answer(status, b"", {"Retry-After": retry_after})]) as receiver:
        delivery = make_delivery(make_webhook(owner.account, receiver.url()))
        with time_machine.travel(T0, tick=False):
            enqueue_delivery(delivery)
            run_due_job()
    [(_, run_after)] = scheduled()
    assert run_after == T0 + wait


def test_retry_after_on_other_statuses_is_ignored(owner: Membership) -> None:
    with receiving([Answer(500, b"", {"Retry-After": "3600"})]) as receiver:
        delivery = make_delivery(make_webhook(owner.account, receiver.url()))
        with time_machine.travel(T0, tick=False):
            enqueue_delivery(delivery)
            run_due_job()
    [(_, run_after)] = scheduled()
    assert run_after <= T0 + timedelta(seconds=5.5)


@pytest.mark.parametrize("receiver", [[Answer(410, b"gone")]], indirect=True)
def test_410_gone_disables_the_endpoint_and_fails_what_was_waiting(
    owner: Membership, admin_member: Membership, member: Membership, receiver: Receiver
) -> None:
    webhook = make_webhook(owner.account, receiver.url())
    first, waiting = make_delivery(webhook, 1), make_delivery(webhook, 2)
    with time_machine.travel(T0, tick=False):
        enqueue_delivery(first)
        enqueue_delivery(waiting)
        assert run_due_job() == "The endpoint is gone; it is disabled."
        assert run_due_job() == "The delivery is already finished."
    webhook.refresh_from_db()
    assert webhook.status == Webhook.Status.DISABLED
    assert webhook.disabled_at == T0
    assert webhook.disabled_reason == "The endpoint answered 410 Gone."
    assert set(webhook.deliveries.values_list("status", flat=True)) == {"failed"}
    assert len(receiver.received) == 1
    assert sorted(message.to[0] for message in mail.outbox) == [
        "admin@acme.test",
        "owner@acme.test",
    ]
    assert "410 Gone" in mail.outbox[0].body
    assert receiver.url() in mail.outbox[0].body


def test_a_disabled_endpoints_deliveries_are_not_attempted(
    owner: Membership, receiver: Receiver
) -> None:
    webhook = make_webhook(owner.account, receiver.url())
    webhook.status = Webhook.Status.DISABLED
    webhook.save()
    delivery = make_delivery(webhook)
    enqueue_delivery(delivery)
    assert run_due_job() == "The endpoint is disabled."
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == 0
    assert receiver.received == []
    with pytest.raises(WebhookDisabled):
        redeliver(delivery)


@pytest.mark.parametrize("receiver", [[Answer(500)]], indirect=True)
def test_an_endpoint_failing_for_three_days_is_disabled_and_its_managers_emailed(
    owner: Membership, admin_member: Membership, member: Membership, receiver: Receiver
) -> None:
    webhook = make_webhook(owner.account, receiver.url())
    with time_machine.travel(T0, tick=False):
        enqueue_delivery(make_delivery(webhook, 1))
        run_due_job()
    with time_machine.travel(T0 + timedelta(days=3) - timedelta(seconds=1), tick=False):
        enqueue_delivery(make_delivery(webhook, 2))
        run_due_job()
    webhook.refresh_from_db()
    assert webhook.status == Webhook.Status.FAILING
    assert mail.outbox == []
    with time_machine.travel(T0 + timedelta(days=3), tick=False):
        enqueue_delivery(make_delivery(webhook, 3))
        assert run_due_job() == "The endpoint kept failing; it is disabled."
    webhook.refresh_from_db()
    assert webhook.status == Webhook.Status.DISABLED
    assert webhook.disabled_reason == "Every delivery failed for 3 days."
    assert not webhook.deliveries.filter(status="pending").exists()
    assert sorted(message.to[0] for message in mail.outbox) == [
        "admin@acme.test",
        "owner@acme.test",
    ]
    assert "Every delivery failed for 3 days." in mail.outbox[0].body


def test_at_most_n_deliveries_are_in_flight_per_endpoint(
    owner: Membership, receiver: Receiver, settings: Settings
) -> None:
    settings.WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT = 2
    slow = make_webhook(owner.account, receiver.url("/slow"))
    other = make_webhook(owner.account, receiver.url("/other"))
    running = [make_delivery(slow, 1), make_delivery(slow, 2)]
    third, elsewhere = make_delivery(slow, 3), make_delivery(other, 1)
    with time_machine.travel(T0, tick=False):
        # Two attempts started and not finished: their workers are waiting on the receiver.
        for delivery in running:
            claim_attempt(delivery_id=delivery.pk, attempt_number=1)
        assert deliver_webhook.call(third.pk, 1) == (
            "The endpoint has its most deliveries in flight."
        )
        # Another endpoint's deliveries are not held up by this one.
        assert deliver_webhook.call(elsewhere.pk, 1) == "Delivered."
    [(args, run_after)] = scheduled()
    assert args == [third.pk, 1]
    assert T0 + timedelta(seconds=1.8) <= run_after <= T0 + timedelta(seconds=2.2)
    assert [request.path for request in receiver.received] == ["/other"]
    third.refresh_from_db()
    assert third.attempts == 0
    # Attempts unfinished past the lease belong to workers that are gone: they no longer count.
    with time_machine.travel(T0 + in_flight_lease() + timedelta(seconds=1), tick=False):
        assert run_due_job() == "Delivered."


def test_a_killed_workers_attempt_is_made_again_with_the_same_webhook_id(
    owner: Membership, receiver: Receiver
) -> None:
    delivery = make_delivery(make_webhook(owner.account, receiver.url(), secret=SECRET))
    with time_machine.travel(T0, tick=False):
        # The worker recorded the attempt as started, then was killed before its answer.
        claim_attempt(delivery_id=delivery.pk, attempt_number=1)
        # The queue runs the job again: too soon to tell a dead worker from a slow one.
        assert deliver_webhook.call(delivery.pk, 1) == "This attempt is in flight."
    [(args, run_after)] = scheduled()
    assert args == [delivery.pk, 1]
    assert run_after == T0 + in_flight_lease()
    with time_machine.travel(run_after, tick=False):
        assert run_due_job() == "Delivered."
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    attempts = list(delivery.log.values_list("number", "duration_ms", "status_code"))
    assert [(number, code) for number, _, code in attempts] == [(1, None), (2, 200)]
    [request] = receiver.received
    assert request.headers["webhook-id"] == delivery.event.public_id


def test_a_duplicate_job_does_not_deliver_twice(owner: Membership, receiver: Receiver) -> None:
    delivery = make_delivery(make_webhook(owner.account, receiver.url()))
    assert deliver_webhook.call(delivery.pk, 1) == "Delivered."
    assert deliver_webhook.call(delivery.pk, 1) == "The delivery is already finished."
    assert len(receiver.received) == 1


def test_redeliver_makes_a_new_attempt_even_after_success(
    owner: Membership, receiver: Receiver
) -> None:
    delivery = make_delivery(make_webhook(owner.account, receiver.url()))
    assert deliver_webhook.call(delivery.pk, 1) == "Delivered."
    redeliver(delivery)
    assert delivery.status == WebhookDelivery.Status.PENDING
    [(args, _)] = scheduled()
    assert args == [delivery.pk, 2]
    assert run_due_job() == "Delivered."
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.SUCCEEDED
    assert delivery.attempts == 2
    assert len({request.headers["webhook-id"] for request in receiver.received}) == 1
    assert len(receiver.received) == 2


@pytest.mark.parametrize("receiver", [[Answer(500)]], indirect=True)
def test_a_redelivery_overtakes_the_scheduled_retry(owner: Membership, receiver: Receiver) -> None:
    delivery = make_delivery(make_webhook(owner.account, receiver.url()))
    with time_machine.travel(T0, tick=False):
        assert deliver_webhook.call(delivery.pk, 1) == "Failed; retrying."
        redeliver(delivery)
        [(redelivery, _), (retry, _)] = scheduled()
        assert redelivery == retry == [delivery.pk, 2]
        assert run_due_job() == "Failed; retrying."
    with time_machine.travel(T0 + timedelta(seconds=6), tick=False):
        assert run_due_job() == "This attempt was already made."
    assert len(receiver.received) == 2


def test_a_refused_address_is_a_failed_attempt_with_its_reason(
    owner: Membership, settings: Settings
) -> None:
    delivery = make_delivery(make_webhook(owner.account, "http://127.0.0.1:9/hook"))
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = False
    assert deliver_webhook.call(delivery.pk, 1) == "Failed; retrying."
    [attempt] = delivery.log.all()
    assert attempt.status_code is None
    assert attempt.error.startswith("Refused URL")


def test_a_redirect_is_a_failure_that_says_why(owner: Membership) -> None:
    with receiving([Answer(301, b"", {"Location": "https://example.com/"})]) as receiver:
        delivery = make_delivery(make_webhook(owner.account, receiver.url()))
        assert deliver_webhook.call(delivery.pk, 1) == "Failed; retrying."
    [attempt] = delivery.log.all()
    assert attempt.status_code == 301
    assert attempt.error.startswith("Redirects are not followed")


def test_pruning_deletes_events_deliveries_and_attempts_past_retention(
    owner: Membership, receiver: Receiver
) -> None:
    webhook = make_webhook(owner.account, receiver.url())
    with time_machine.travel(T0, tick=False):
        old = make_delivery(webhook, 1)
        deliver_webhook.call(old.pk, 1)
    with time_machine.travel(T0 + timedelta(days=29), tick=False):
        recent = make_delivery(webhook, 2)
        deliver_webhook.call(recent.pk, 1)
    with time_machine.travel(T0 + timedelta(days=30, seconds=1), tick=False):
        out = StringIO()
        call_command("prune_webhook_deliveries", stdout=out)
    assert out.getvalue() == "Webhook events older than 30 days deleted: 1.\n"
    assert list(WebhookEvent.objects.all()) == [recent.event]
    assert list(WebhookDelivery.objects.all()) == [recent]
    assert list(WebhookAttempt.objects.values_list("delivery", flat=True)) == [recent.pk]
