"""Webhook delivery throughput per worker and event -> delivered latency, on PostgreSQL.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voxkeys_bench python bench/webhook_delivery.py

Enqueues BENCH_EVENTS deliveries (default 500) to a local receiver answering 200 at once, then
runs BENCH_WORKERS `manage.py db_worker --queue-name webhooks` processes (default 1) until every
delivery has succeeded. Reports deliveries per second per worker, and p50/p99 of the time from
each event's creation to the end of its successful attempt (a queue that starts full, so this is
mostly time spent waiting in it: divide by the queue length for the per-delivery cost).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
EVENTS = int(os.environ.get("BENCH_EVENTS", "500"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))


def set_up_django(**settings: str) -> None:
    """Django in this process on DATABASE_URL (created and migrated), with `settings` in the
    environment; the workers this process starts inherit them."""
    database_url = os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voxkeys_bench"
    )
    os.environ.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="voxkeys.settings",
        SECRET_KEY=os.environ.get("SECRET_KEY", "bench-only-secret-key-0123456789abcdef"),
        WEBHOOK_ALLOW_PRIVATE_NETWORKS="1",
        **settings,
    )
    create_database(database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True
    )
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def main() -> None:
    set_up_django()
    from django.db import transaction
    from django_tasks_db.models import DBTaskResult

    from tests.factories import AccountFactory
    from tests.support.webhooks import make_delivery, make_webhook, receiving
    from voice.models import WebhookAttempt, WebhookDelivery
    from voice.webhooks.delivery import enqueue_delivery

    DBTaskResult.objects.filter(queue_name="webhooks").delete()
    with receiving() as receiver:
        webhook = make_webhook(AccountFactory(name="Bench"), receiver.url())
        with transaction.atomic():
            deliveries = [make_delivery(webhook, number) for number in range(EVENTS)]
            for delivery in deliveries:
                enqueue_delivery(delivery)
        ids = [delivery.pk for delivery in deliveries]
        started = time.monotonic()
        workers = [
            subprocess.Popen(
                [
                    sys.executable,
                    "manage.py",
                    "db_worker",
                    "--queue-name",
                    "webhooks",
                    "--interval",
                    "0.05",
                    "--no-startup-delay",
                    "--worker-id",
                    f"bench-{n}",
                ],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for n in range(WORKERS)
        ]
        try:
            while WebhookDelivery.objects.filter(pk__in=ids, status="succeeded").count() < EVENTS:
                if time.monotonic() - started > 600:
                    sys.exit("webhook bench: deliveries not done in 600 s")
                time.sleep(0.2)
            elapsed = time.monotonic() - started
        finally:
            for worker in workers:
                worker.terminate()
            for worker in workers:
                worker.wait()
    latencies = sorted(
        (attempt.started_at - attempt.delivery.event.created_at).total_seconds()
        + (attempt.duration_ms or 0) / 1000
        for attempt in WebhookAttempt.objects.filter(
            delivery__in=ids, status_code=200
        ).select_related("delivery__event")
    )
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(
        f"webhook deliveries: {EVENTS} with {WORKERS} worker(s) in {elapsed:.1f} s: "
        f"{EVENTS / elapsed / WORKERS:.0f} per second per worker; "
        f"event -> delivered p50 {p50:.2f} s, p99 {p99:.2f} s (queue starting {EVENTS} deep); "
        f"requests received {len(receiver.received)}"
    )


def create_database(database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


if __name__ == "__main__":
    main()
