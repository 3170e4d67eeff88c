"""/metrics: served only with its token, in the Prometheus text format, and each count moving
when its event happens."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django_tasks import task
from django_tasks_db.models import DBTaskResult
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.parser import text_string_to_metric_families
from pytest_django.fixtures import Settings

from accounts.models import Account, Membership
from apikeys.auth import lookup, ratelimit, usage
from apikeys.auth.cache import AuthCache, process_cache
from apikeys.auth.ratelimit import RateLimits
from apikeys.keys import generate_key, key_digest
from apikeys.models import ApiKey
from apikeys.services import create_key, revoke_key
from tests.support.api import api_client, bearer, make_key
from tests.support.clock import FakeClock
from tests.support.jobs import run_jobs
from tests.support.metrics import TOKEN, Samples, moved, parse, scrape, value
from voxkeys import metrics
from voxkeys.metrics import processes

pytestmark = pytest.mark.django_db

CREDITS = "/api/v1/credits"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def metrics_token(settings: Settings) -> None:
    settings.METRICS_TOKEN = TOKEN


class DownMailServer(BaseEmailBackend):
    """A mail server that refuses every connection."""

    def send_messages(self, email_messages: Sequence[mail.EmailMessage]) -> int:
        raise ConnectionRefusedError("mail server down")


@task(queue_name="email")
def failing_job() -> None:
    raise RuntimeError("the job fails")


@task(queue_name="webhooks")
def waiting_job() -> None:
    """Never run here: it waits in its queue."""


# Who may read it


def test_without_a_configured_token_it_is_an_unknown_path(settings: Settings) -> None:
    settings.METRICS_TOKEN = ""
    unknown = Client().get("/no-such-page")
    for headers in ({}, bearer(""), bearer(TOKEN)):
        response = Client(headers=headers).get("/metrics")
        assert response.status_code == 404
        assert response.content == unknown.content


@pytest.mark.parametrize(
    "authorization",
    [None, "", f"Basic {TOKEN}", "Bearer wrong-token", f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}"],
)
def test_without_the_right_bearer_token_it_is_an_unknown_path(authorization: str | None) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    unknown = Client().get("/no-such-page")
    response = Client(headers=headers).get("/metrics")
    assert response.status_code == 404
    assert response.content == unknown.content
    assert TOKEN.encode() not in response.content


def test_with_the_token_it_answers_the_text_format_without_a_session() -> None:
    client = Client(headers={"Authorization": f"bearer  {TOKEN} "})
    client.cookies["sessionid"] = "a-session-that-does-not-exist"
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert response["Cache-Control"] == "no-store"
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies
    assert not Session.objects.exists()
    families = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "voxkeys_api_requests",
        "voxkeys_api_authentications",
        "voxkeys_request_duration_seconds",
        "voxkeys_task_queue_jobs",
        "voxkeys_task_queue_up",
    } <= families


def test_a_scraper_reaching_the_server_by_its_address_is_answered(settings: Settings) -> None:
    # Prometheus scrapes each server by its address, which ALLOWED_HOSTS does not list.
    settings.ALLOWED_HOSTS = ["dashboard.voxpria.com"]
    response = Client(headers=bearer(TOKEN)).get("/metrics", HTTP_HOST="10.0.3.7:8000")
    assert response.status_code == 200


def test_only_get_and_head_are_answered() -> None:
    assert Client(headers=bearer(TOKEN)).head("/metrics").status_code == 200
    assert Client(headers=bearer(TOKEN)).post("/metrics").status_code == 404


# What it counts


def test_an_api_request_is_counted_by_route_status_and_error_code(owner: Membership) -> None:
    client = api_client(make_key(owner))
    before = scrape()
    assert client.get(CREDITS).status_code == 200
    assert client.get("/api/v1/contacts/999999").status_code == 404
    assert client.get("/api/v1/contacts/123456").status_code == 404
    after = scrape()
    ok = {"route": "api/v1/credits", "status": "200", "error_code": ""}
    assert moved(before, after, "voxkeys_api_requests_total", **ok) == 1
    # The URL pattern, never the path: two ids are one series.
    missing = {"route": "api/v1/contacts/<id:pk>", "status": "404", "error_code": "not_found"}
    assert moved(before, after, "voxkeys_api_requests_total", **missing) == 2
    assert moved(before, after, "voxkeys_api_authentications_total", outcome="authenticated") == 3
    assert moved(before, after, "voxkeys_request_duration_seconds_count", area="api") == 3
    assert moved(before, after, "voxkeys_request_duration_seconds_count", area="page") == 0


def test_each_refusal_is_counted_by_its_code(owner: Membership) -> None:
    revoked = make_key(owner)
    revoke_key(key=ApiKey.objects.get(key_digest=key_digest(revoked)), user=owner.user)
    before = scrape()
    assert api_client().get(CREDITS).status_code == 401
    assert api_client("vxp_live_not-a-key").get(CREDITS).status_code == 401
    assert Client(headers={"Authorization": "Token abc"}).get(CREDITS).status_code == 401
    assert api_client(generate_key()).get(CREDITS).status_code == 401
    assert api_client(revoked).get(CREDITS).status_code == 401
    assert api_client(revoked).get(CREDITS).status_code == 401
    after = scrape()

    def refused(code: str) -> float:
        return moved(before, after, "voxkeys_api_authentications_total", outcome=code)

    assert refused("missing_api_key") == 1
    assert refused("malformed_api_key") == 2
    assert refused("invalid_api_key") == 1
    assert refused("revoked_api_key") == 2
    assert refused("authenticated") == 0
    answered = {"route": "api/v1/credits", "status": "401", "error_code": "revoked_api_key"}
    assert moved(before, after, "voxkeys_api_requests_total", **answered) == 2


@pytest.mark.django_db(transaction=True)
def test_a_cache_hit_and_a_miss_are_counted(
    owner: Membership, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A live cache without its listener (the listener needs PostgreSQL; the counting does not).
    settings.API_KEY_CACHE = True
    cache = AuthCache(size=10, ttl=30)
    cache.listening()
    monkeypatch.setattr(lookup.process_cache, "get", lambda: cache)
    client = api_client(make_key(owner))
    before = scrape()
    assert client.get(CREDITS).status_code == 200
    assert client.get(CREDITS).status_code == 200
    assert client.get(CREDITS).status_code == 200
    after = scrape()
    assert moved(before, after, "voxkeys_api_auth_cache_lookups_total", result="miss") == 1
    assert moved(before, after, "voxkeys_api_auth_cache_lookups_total", result="hit") == 2


def test_a_key_over_its_rate_limit_is_counted(
    owner: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = RateLimits.from_settings(redis_url="", clock=FakeClock())
    monkeypatch.setattr(ratelimit, "limits", limits)
    Account.objects.filter(pk=owner.account_id).update(api_rate_limit=2)
    client = api_client(make_key(owner))
    before = scrape()
    statuses = [client.get(CREDITS).status_code for _ in range(5)]
    after = scrape()
    assert statuses == [200, 200, 429, 429, 429]
    assert moved(before, after, "voxkeys_api_rate_limited_total", limit="key") == 3
    assert moved(before, after, "voxkeys_api_rate_limited_total", limit="auth_failures") == 0
    limited = {"route": "api/v1/credits", "status": "429", "error_code": "rate_limited"}
    assert moved(before, after, "voxkeys_api_requests_total", **limited) == 3


def test_an_address_over_its_failed_authentications_is_counted(
    owner: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    limits = RateLimits.from_settings(redis_url="", auth_failures_per_minute=2, clock=FakeClock())
    monkeypatch.setattr(ratelimit, "limits", limits)
    revoked = make_key(owner)
    revoke_key(key=ApiKey.objects.get(key_digest=key_digest(revoked)), user=owner.user)
    client = api_client(revoked)
    before = scrape()
    statuses = [client.get(CREDITS).status_code for _ in range(4)]
    after = scrape()
    # Two failures a minute: the second empties the address's bucket, so the rest wait.
    assert statuses == [401, 401, 429, 429]
    assert moved(before, after, "voxkeys_api_rate_limited_total", limit="auth_failures") == 2
    assert moved(before, after, "voxkeys_api_authentications_total", outcome="rate_limited") == 2
    assert moved(before, after, "voxkeys_api_authentications_total", outcome="revoked_api_key") == 2
    assert moved(before, after, "voxkeys_api_rate_limited_total", limit="key") == 0


def test_a_failed_usage_flush_is_counted(
    owner: Membership, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api_client(make_key(owner)).get(CREDITS).status_code == 200
    before = scrape()
    # The write really fails (a table that does not exist), inside the flush's transaction.
    monkeypatch.setattr(usage, "_CLIENT_UPSERT", "INSERT INTO no_such_table VALUES (%s)")
    assert not usage.recorder.flush()
    assert moved(before, scrape(), "voxkeys_api_usage_flush_failures_total") == 1
    monkeypatch.undo()
    assert usage.recorder.flush()
    assert moved(before, scrape(), "voxkeys_api_usage_flush_failures_total") == 1


def test_an_email_the_mail_server_refuses_is_counted(
    owner: Membership,
    admin_member: Membership,
    settings: Settings,
) -> None:
    settings.EMAIL_BACKEND = "tests.test_metrics.DownMailServer"
    before = scrape()
    create_key(account=owner.account, user=owner.user, name="Nightly", scopes=["calls:read"])
    run_jobs()  # the worker renders the key email, then tries each recipient's job once
    run_jobs()
    # One message to each of the owner and the admin, neither sent (both retried later).
    assert moved(before, scrape(), "voxkeys_emails_failed_total") == 2


def test_a_sent_email_is_not_counted(
    owner: Membership, django_capture_on_commit_callbacks: Any
) -> None:
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        create_key(account=owner.account, user=owner.user, name="Nightly", scopes=["calls:read"])
    assert len(mail.outbox) == 1
    assert moved(before, scrape(), "voxkeys_emails_failed_total") == 0


def test_a_page_request_is_timed_in_the_page_histogram_and_the_scrape_is_not() -> None:
    before = scrape()
    assert Client().get("/login/").status_code == 200
    after = scrape()
    assert moved(before, after, "voxkeys_request_duration_seconds_count", area="page") == 1
    assert moved(before, after, "voxkeys_request_duration_seconds_count", area="api") == 0
    assert moved(before, after, "voxkeys_request_duration_seconds_sum", area="page") > 0
    inf = moved(before, after, "voxkeys_request_duration_seconds_bucket", area="page", le="+Inf")
    assert inf == 1


def test_webhook_deliveries_are_counted_by_outcome() -> None:
    before = scrape()
    metrics.count_webhook_delivery("delivered")
    metrics.count_webhook_delivery("delivered")
    metrics.count_webhook_delivery("gave_up")
    after = scrape()
    assert moved(before, after, "voxkeys_webhook_deliveries_total", outcome="delivered") == 2
    assert moved(before, after, "voxkeys_webhook_deliveries_total", outcome="gave_up") == 1


@pytest.mark.django_db(transaction=True)  # the worker closes its connection when it is done
def test_the_task_queue_shows_waiting_and_failed_jobs_per_queue() -> None:
    empty = scrape()
    assert value(empty, "voxkeys_task_queue_up") == 1
    for queue in ("default", "email", "webhooks"):
        for status in ("ready", "running", "failed"):
            labels = frozenset({("queue", queue), ("status", status)})
            assert ("voxkeys_task_queue_jobs", labels) in empty
    waiting_job.enqueue()
    waiting_job.enqueue()
    failing_job.enqueue()
    queued = scrape()
    assert value(queued, "voxkeys_task_queue_jobs", queue="webhooks", status="ready") == 2
    assert value(queued, "voxkeys_task_queue_jobs", queue="email", status="ready") == 1
    call_command("db_worker", queue_name="email", batch=True, startup_delay=False, reload=False)
    ran = scrape()
    assert value(ran, "voxkeys_task_queue_jobs", queue="email", status="ready") == 0
    assert value(ran, "voxkeys_task_queue_jobs", queue="email", status="failed") == 1
    assert value(ran, "voxkeys_task_queue_jobs", queue="webhooks", status="ready") == 2


def test_the_rest_is_served_when_the_queue_cannot_be_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(DBTaskResult._meta, "db_table", "no_such_table")
    samples = scrape()
    assert value(samples, "voxkeys_task_queue_up") == 0
    assert not any(name == "voxkeys_task_queue_jobs" for name, _ in samples)
    assert any(name == "voxkeys_request_duration_seconds_count" for name, _ in samples)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the listener needs PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_the_auth_cache_gauges_follow_its_listener(owner: Membership) -> None:
    assert api_client(make_key(owner)).get(CREDITS).status_code == 200
    deadline = time.monotonic() + 10
    while value(scrape(), "voxkeys_auth_cache_live") != 1:
        assert time.monotonic() < deadline, "the listener never reported"
        time.sleep(0.1)
    assert api_client(make_key(owner)).get(CREDITS).status_code == 200
    while value(scrape(), "voxkeys_auth_cache_entries") < 1:
        assert time.monotonic() < deadline, "the cache's size never showed"
        time.sleep(0.1)
    process_cache.stop()
    assert value(scrape(), "voxkeys_auth_cache_live") == 0


# Several processes (gunicorn's workers)

WORKER = """
import json, os, sys
import django
django.setup()
from django.test import Client
from voxkeys import metrics
metrics.count_webhook_delivery("delivered")
metrics.observe_auth_cache(live=True, entries=int(sys.argv[1]))
response = Client(headers={"Authorization": "Bearer " + os.environ["METRICS_TOKEN"]}).get(
    "/metrics"
)
print(json.dumps({"pid": os.getpid(), "status": response.status_code, "body": response.text}))
"""


def run_worker(directory: Path, entries: int) -> dict[str, Any]:
    """Count in a process of its own, as a gunicorn worker would, and return its scrape."""
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(directory),
        "METRICS_TOKEN": TOKEN,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        # A database that cannot be opened: the queue's count fails and is left out.
        "DATABASE_URL": f"sqlite:///{directory}/absent/db.sqlite3",
    }
    finished = subprocess.run(
        [sys.executable, "-c", WORKER, str(entries)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    answer: dict[str, Any] = json.loads(finished.stdout)
    assert answer["status"] == 200
    return answer


def cache_sizes(samples: Samples) -> dict[str, float]:
    return {
        dict(labels)["pid"]: number
        for (name, labels), number in samples.items()
        if name == "voxkeys_auth_cache_entries"
    }


def test_in_multiprocess_mode_a_scrape_sums_every_workers_counts(tmp_path: Path) -> None:
    first = run_worker(tmp_path, 3)
    second = run_worker(tmp_path, 5)
    samples = parse(second["body"])
    # Counters add up over the processes, an exited one's included.
    assert value(samples, "voxkeys_webhook_deliveries_total", outcome="delivered") == 2
    assert value(samples, "voxkeys_task_queue_up") == 0
    # The cache's gauges are per worker: one series per pid, until the master marks it dead.
    assert cache_sizes(samples) == {str(first["pid"]): 3, str(second["pid"]): 5}
    processes.mark_worker_ended(first["pid"], str(tmp_path))
    processes.mark_worker_ended(second["pid"], str(tmp_path))
    third = run_worker(tmp_path, 7)
    samples = parse(third["body"])
    assert value(samples, "voxkeys_webhook_deliveries_total", outcome="delivered") == 3
    assert cache_sizes(samples) == {str(third["pid"]): 7}


# The request path's deferred counts


def test_deferred_counts_reach_their_counter_within_the_interval_without_a_scrape() -> None:
    registry = CollectorRegistry()
    counter = Counter("voxkeys_test_events", "Events.", registry=registry)
    counts = metrics.PendingCounts(interval=0.05)
    counts.add(counter)
    counts.add(counter)
    deadline = time.monotonic() + 10
    while registry.get_sample_value("voxkeys_test_events_total") != 2:
        assert time.monotonic() < deadline, "the counts never arrived"
        time.sleep(0.01)


def test_a_forked_worker_does_not_add_its_parents_pending_counts() -> None:
    registry = CollectorRegistry()
    counter = Counter("voxkeys_test_events", "Events.", registry=registry)
    counts = metrics.PendingCounts(interval=3600)
    counts.add(counter)
    pid = os.fork()
    if pid == 0:
        counts.publish()
        os._exit(0 if registry.get_sample_value("voxkeys_test_events_total") == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    counts.publish()
    assert registry.get_sample_value("voxkeys_test_events_total") == 1


def test_at_gunicorns_start_only_the_files_of_ended_processes_are_removed(tmp_path: Path) -> None:
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    ended_pid = int(ended.stdout)
    running = tmp_path / f"counter_{os.getpid()}.db"  # a task worker still counting
    stale = [tmp_path / f"counter_{ended_pid}.db", tmp_path / f"gauge_liveall_{ended_pid}.db"]
    for path in [running, *stale]:
        path.write_bytes(b"")
    assert sorted(processes.remove_ended_processes_files(str(tmp_path))) == sorted(stale)
    assert [path.name for path in tmp_path.iterdir()] == [running.name]


def test_the_shared_directory_is_created_when_missing(tmp_path: Path) -> None:
    directory = tmp_path / "metrics"
    assert processes.remove_ended_processes_files(str(directory)) == []
    assert directory.is_dir()
