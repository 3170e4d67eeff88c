"""A burst of webhook events does not slow the API: latency before, during and after, on
PostgreSQL, while the webhook queue grows by BENCH_BURST_EVENTS (default 10,000) jobs.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voxkeys_bench python bench/webhook_burst.py

One gunicorn server (2 sync workers, production settings, as bench/api_throughput.py starts
it). Two client threads, each sending a request every 20 ms, alternate `GET /api/v1/credits`
and `POST /api/v1/contacts` for an account with an endpoint subscribed to contact.created (so
that request enqueues a job into the very queue that grows). Phases:

1. control: the queue empty, BENCH_PHASE_SECONDS (default 8);
2. burst: another process creates BENCH_BURST_EVENTS contacts for a second account with an
   endpoint, through `voice.services.create_contact`, 200 per transaction: 10,000 events,
   deliveries and jobs written as fast as one process can (no worker runs, so the queue grows);
3. deep queue: BENCH_PHASE_SECONDS with every job of the burst still queued;
4. control again: the burst's jobs deleted, BENCH_PHASE_SECONDS.

Prints per phase and request kind p50/p99 and the server's CPU per request (its workers and
their PostgreSQL backends, told apart by application_name), and the queue depth at each phase's
end. The two controls show how much this shared machine moved meanwhile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from urllib.parse import urlsplit

from api_throughput import (
    PYTHON,
    ROOT,
    bench_environment,
    cpu_seconds,
    free_port,
    prepare_postgres,
    server_pids,
    start_server,
    stop_server,
)
from scale_test import http_request, percentile

BURST_EVENTS = int(os.environ.get("BENCH_BURST_EVENTS", "10000"))
PHASE_SECONDS = float(os.environ.get("BENCH_PHASE_SECONDS", "8"))
CLIENTS = 2
PACE = 0.020
APPLICATION_NAME = "voxkeys-bench-burst"

FIXTURES = """
import json, secrets
from accounts.models import Account, Membership, User
from apikeys.services import create_key
from voice.webhooks.services import create_webhook
tag = secrets.token_hex(4)
def account_with_endpoint(name):
    account = Account.objects.create(name=f"{name} {tag}", api_rate_limit=100_000)
    create_webhook(
        account=account, livemode=True, url="http://127.0.0.1:9/hook", events=["contact.created"]
    )
    return account
api = account_with_endpoint("Bench burst API")
user = User.objects.create_user(f"bench-burst-{tag}@example.test", secrets.token_urlsafe(16))
Membership.objects.create(user=user, account=api, role="owner")
key = create_key(account=api, user=user, name="burst", scopes=["contacts:write", "calls:read"])
print(json.dumps({"secret": key.secret, "burst": account_with_endpoint("Bench burst").pk}))
"""

BURST = """
from django.db import transaction
from accounts.models import Account
from voice.services import create_contact
account = Account.objects.get(pk=%(account)d)
for start in range(0, %(events)d, 200):
    with transaction.atomic():
        for number in range(start, min(%(events)d, start + 200)):
            create_contact(
                account=account, livemode=True, name=f"Burst {number}", phone="+14155550100"
            )
"""

QUEUED = (
    "SELECT count(*) FROM django_tasks_database_dbtaskresult "
    "WHERE queue_name = 'webhooks' AND status = 'READY'"
)


class Client:
    """Paced client threads; every answer is kept with the phase it was sent in."""

    def __init__(self, port: int, secret: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        self.phase = "warm-up"
        self.stopping = threading.Event()
        self.latencies: dict[tuple[str, str], list[float]] = defaultdict(list)
        self.statuses: dict[int, int] = defaultdict(int)
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(n,)) for n in range(CLIENTS)]

    def run(self, number: int) -> None:
        turn = number
        while not self.stopping.is_set():
            phase = self.phase
            if turn % 2:
                kind, method, path, body = "credits", "GET", "/api/v1/credits", None
            else:
                kind, method, path = "contacts", "POST", "/api/v1/contacts"
                body = json.dumps({"name": f"API {turn}", "phone": "+14155550101"}).encode()
            sent = time.monotonic()
            status, _, _ = http_request(self.port, method, path, self.headers, body)
            latency = time.monotonic() - sent
            with self.lock:
                self.latencies[phase, kind].append(latency * 1000)
                self.statuses[status] += 1
            turn += 1
            self.stopping.wait(PACE)

    def count(self, phase: str) -> int:
        with self.lock:
            return sum(len(v) for (p, _), v in self.latencies.items() if p == phase)


def queued(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url) as connection:
        row = connection.execute(QUEUED).fetchone()
    return int(row[0]) if row else 0


def main() -> int:
    database_url = os.environ.get(
        "DATABASE_URL", "postgres://postgres@127.0.0.1:5432/voxkeys_bench"
    )
    if not database_url.startswith(("postgres", "pgsql")):
        sys.exit("The burst bench needs PostgreSQL: set DATABASE_URL=postgres://...")
    prepare_postgres(database_url)
    env = bench_environment(database_url)
    env["EMAIL_BACKEND"] = "django.core.mail.backends.dummy.EmailBackend"
    env["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] = "1"
    manage = [PYTHON, "manage.py"]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)

    def shell(script: str) -> str:
        return subprocess.run(
            [*manage, "shell", "-c", script],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout

    fixtures = json.loads(shell(FIXTURES).strip().splitlines()[-1])
    delete_queue(database_url)
    port = free_port()
    server = start_server({**env, "PGAPPNAME": APPLICATION_NAME}, port)
    client = Client(port, fixtures["secret"])
    rows = []
    try:
        for thread in client.threads:
            thread.start()
        time.sleep(2)
        pids = server_pids(server, database_url, APPLICATION_NAME)

        def phase(name: str, action: Callable[[], object]) -> None:
            before = cpu_seconds(pids[0] + pids[1])
            client.phase = name
            started = time.monotonic()
            action()
            elapsed = time.monotonic() - started
            client.phase = "between"
            spent = cpu_seconds(pids[0] + pids[1]) - before
            rows.append((name, elapsed, spent / max(client.count(name), 1), queued(database_url)))

        phase("control", lambda: time.sleep(PHASE_SECONDS))
        phase(
            "burst", lambda: shell(BURST % {"account": fixtures["burst"], "events": BURST_EVENTS})
        )
        phase("deep queue", lambda: time.sleep(PHASE_SECONDS))
        delete_queue(database_url)
        phase("control again", lambda: time.sleep(PHASE_SECONDS))
    finally:
        client.stopping.set()
        for thread in client.threads:
            thread.join()
        stop_server(server)
        delete_queue(database_url)
    name = urlsplit(database_url).path.lstrip("/")
    print(
        f"\nA burst of {BURST_EVENTS:,} webhook events against the API ({name}; {CLIENTS} "
        f"clients, a request every {PACE * 1000:.0f} ms each; statuses "
        + ", ".join(f"{s}: {n}" for s, n in sorted(client.statuses.items()))
        + ")\n"
    )
    print(
        "| phase | seconds | requests | credits p50 / p99 | contacts p50 / p99 "
        "| server CPU per request | webhook jobs queued at its end |"
    )
    print("|---|---|---|---|---|---|---|")
    for phase_name, elapsed, cpu, depth in rows:
        credits = sorted(client.latencies[phase_name, "credits"])
        contacts = sorted(client.latencies[phase_name, "contacts"])
        print(
            f"| {phase_name} | {elapsed:.1f} | {len(credits) + len(contacts)} | "
            f"{percentile(credits, 0.5):.1f} / {percentile(credits, 0.99):.1f} ms | "
            f"{percentile(contacts, 0.5):.1f} / {percentile(contacts, 0.99):.1f} ms | "
            f"{cpu * 1e6:.0f} µs | {depth:,} |"
        )
    return 0 if all(status < 500 for status in client.statuses) else 1


def delete_queue(database_url: str) -> None:
    """Empty the webhook queue: nothing here delivers, and the next run starts from zero."""
    import psycopg

    with psycopg.connect(database_url) as connection:
        connection.execute(
            "DELETE FROM django_tasks_database_dbtaskresult WHERE queue_name = 'webhooks'"
        )


if __name__ == "__main__":
    raise SystemExit(main())
