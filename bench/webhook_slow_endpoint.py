"""One slow endpoint does not delay the others: a fast endpoint's event -> delivered latency
with and without a slow endpoint getting the same events, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voxkeys_bench \\
        python bench/webhook_slow_endpoint.py

Two local receivers: a fast one answering at once, a slow one answering after
WEBHOOK_TIMEOUT_SECONDS + 1 s (so every attempt to it times out, as a hung endpoint's would).
BENCH_WORKERS `manage.py run_worker --queue-name webhooks` processes (default 3) run with
WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT=BENCH_CAP (default 2): the cap is what keeps the slow
endpoint from holding every worker, so it must be below the worker count.

Phases of BENCH_PHASE_SECONDS (default 15), each creating contacts through
`voice.services.create_contact` at BENCH_RATE per second (default 2):

- control: an account with only a fast endpoint;
- with slow: an account with a fast endpoint and a slow one, both subscribed to contact.created;
- control again, once the slow endpoint's attempts are still running and retrying.

Prints, per phase, the fast endpoint's p50/p99 from each event's creation to the end of its
successful attempt, and how many deliveries were made.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from webhook_delivery import set_up_django
from webhook_receiver import receiving

if TYPE_CHECKING:
    from accounts.models import Account

ROOT = Path(__file__).resolve().parent.parent
WORKERS = int(os.environ.get("BENCH_WORKERS", "3"))
CAP = int(os.environ.get("BENCH_CAP", "2"))
PHASE_SECONDS = float(os.environ.get("BENCH_PHASE_SECONDS", "15"))
RATE = float(os.environ.get("BENCH_RATE", "2"))
TIMEOUT = int(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", "10"))
# How long the fast deliveries may take after the last phase, before the table is printed.
WAIT_SECONDS = 60


def main() -> None:
    set_up_django(
        WEBHOOK_TIMEOUT_SECONDS=str(TIMEOUT),
        WEBHOOK_MAX_CONCURRENCY_PER_ENDPOINT=str(CAP),
        EMAIL_BACKEND="django.core.mail.backends.dummy.EmailBackend",
        LOG_LEVEL="ERROR",
    )
    from django_tasks_db.models import DBTaskResult

    from accounts.models import Account
    from voice.webhooks.services import create_webhook

    DBTaskResult.objects.filter(queue_name="webhooks").delete()
    with receiving() as fast, receiving(hold=TIMEOUT + 1) as slow:
        control = Account.objects.create(name="Bench fast only")
        mixed = Account.objects.create(name="Bench fast and slow")
        endpoints = {
            account.pk: create_webhook(
                account=account, livemode=True, url=fast.url(), events=["contact.created"]
            ).webhook
            for account in (control, mixed)
        }
        slow_endpoint = create_webhook(
            account=mixed, livemode=True, url=slow.url(), events=["contact.created"]
        ).webhook
        workers = start_workers()
        try:
            warm_up(control)
            phases = [
                ("control", control),
                ("with a slow endpoint", mixed),
                ("control again", control),
            ]
            made = [(name, account, create_events(account, name)) for name, account in phases]
            finished = wait_for_fast_deliveries([ids for _, _, ids in made])
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait()
        print(
            f"\nOne slow endpoint ({TIMEOUT + 1} s answers, WEBHOOK_TIMEOUT_SECONDS={TIMEOUT}): "
            f"{WORKERS} workers, at most {CAP} deliveries in flight per endpoint, "
            f"{RATE:g} events/s for {PHASE_SECONDS:g} s per phase\n"
        )
        print("| phase | fast endpoint: deliveries | p50 | p99 | max |")
        print("|---|---|---|---|---|")
        for name, account, ids in made:
            delivered = fast_latencies(endpoints[account.pk].pk, ids)
            latencies = delivered or [float("nan")]
            print(
                f"| {name} | {len(delivered)}/{len(ids)} | {statistics.median(latencies):.3f} s "
                f"| {percentile(latencies, 0.99):.3f} s | {max(latencies):.3f} s |"
            )
        if not finished:
            print(f"\nNOT ALL DELIVERED: fast deliveries still pending {WAIT_SECONDS} s later")
        print(
            f"\nslow endpoint: {len(slow.arrivals)} requests received, "
            f"{slow_attempts(slow_endpoint.pk)} attempts recorded"
        )


def start_workers() -> list[subprocess.Popen[bytes]]:
    return [
        subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--queue-name", "webhooks"]
            + ["--interval", "0.05", "--no-startup-delay", "--worker-id", f"bench-slow-{n}"],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for n in range(WORKERS)
    ]


def warm_up(account: Account) -> None:
    """One delivery before the phases: the workers have started and connected."""
    from voice.models import WebhookEvent
    from voice.services import create_contact

    create_contact(
        account=account,
        livemode=True,
        name="Warm-up",
        phone="+14155550100",
    )
    event = WebhookEvent.objects.filter(account=account).latest("pk")
    if not wait_for_fast_deliveries([[event.public_id]]):
        sys.exit(f"webhook slow-endpoint bench: the warm-up not delivered in {WAIT_SECONDS} s")


def create_events(account: Account, phase: str) -> list[str]:
    """Create contacts at RATE per second for PHASE_SECONDS; their events' ids."""
    from voice.models import WebhookEvent
    from voice.services import create_contact

    started = time.monotonic()
    count = int(PHASE_SECONDS * RATE)
    for number in range(count):
        time.sleep(max(0.0, started + number / RATE - time.monotonic()))
        create_contact(
            account=account,
            livemode=True,
            name=f"{phase} {number}",
            phone=f"+1415555{number:04d}",
        )
    return list(
        WebhookEvent.objects.filter(account=account)
        .order_by("-pk")
        .values_list("public_id", flat=True)[:count]
    )


def wait_for_fast_deliveries(phases: list[list[str]]) -> bool:
    """Wait up to WAIT_SECONDS for the events' fast deliveries; whether they all succeeded."""
    from voice.models import WebhookDelivery

    ids = [public_id for phase in phases for public_id in phase]
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        done = WebhookDelivery.objects.filter(event__public_id__in=ids, status="succeeded").count()
        if done >= len(ids):
            return True
        time.sleep(0.5)
    return False


def fast_latencies(webhook_id: int, ids: list[str]) -> list[float]:
    from voice.models import WebhookAttempt

    return sorted(
        (attempt.started_at - attempt.delivery.event.created_at).total_seconds()
        + (attempt.duration_ms or 0) / 1000
        for attempt in WebhookAttempt.objects.filter(
            delivery__webhook_id=webhook_id, delivery__event__public_id__in=ids, status_code=200
        ).select_related("delivery__event")
    )


def slow_attempts(webhook_id: int) -> int:
    from voice.models import WebhookAttempt

    return WebhookAttempt.objects.filter(delivery__webhook_id=webhook_id).count()


def percentile(values: list[float], fraction: float) -> float:
    return values[min(len(values) - 1, int(len(values) * fraction))]


if __name__ == "__main__":
    main()
