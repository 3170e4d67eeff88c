"""What the app counts for Prometheus, and `/metrics`, which serves it to a scraper with the token.

Counting is always on and costs a few microseconds per request (bench/metrics_cost.py); only
serving depends on METRICS_TOKEN. Labels are few and bounded: a route is the URL pattern that
answered (`api/v1/contacts/<str:contact_id>`), never the path, so no client can mint series.

Under gunicorn each worker is its own process, and a scrape reaches one of them. With
PROMETHEUS_MULTIPROC_DIR set (before the process starts: prometheus_client reads it once, at
import) every process writes its values to files in that directory and a scrape sums them; the
master must empty the directory at start and mark each dead worker (README "Metrics"). Without
it, as under runserver and in tests, the values live in this process's memory.

This module is loaded while logging is configured, before the apps are: it imports no models.
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from api import API_PREFIX

METRICS_PATH = "/metrics"
MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

# A `_created` series per counter doubles the output and tells nothing a restart does not.
disable_created_metrics()  # type: ignore[no-untyped-call]

# This process's metrics (the default registry would add Python's own, which multiprocess mode
# cannot sum).
registry = CollectorRegistry()

api_requests = Counter(
    "voxkeys_api_requests",
    "API requests answered, by route (URL pattern), status and error code.",
    ["route", "status", "error_code"],
    registry=registry,
)
authentications = Counter(
    "voxkeys_api_authentications",
    "API key checks, by outcome: authenticated, or the refusal's error code.",
    ["outcome"],
    registry=registry,
)
auth_cache_lookups = Counter(
    "voxkeys_api_auth_cache_lookups",
    "Key lookups that asked the authentication cache, by result: hit, or miss (the database).",
    ["result"],
    registry=registry,
)
rate_limited = Counter(
    "voxkeys_api_rate_limited",
    "API requests answered 429, by limit: key (its requests per second) or auth_failures "
    "(its address's failed authentications).",
    ["limit"],
    registry=registry,
)
usage_flush_failures = Counter(
    "voxkeys_api_usage_flush_failures",
    "Usage flushes the database refused (their counts are kept for the next try).",
    registry=registry,
)
emails_failed = Counter(
    "voxkeys_emails_failed",
    "Emails that could not be sent.",
    registry=registry,
)
webhook_deliveries = Counter(
    "voxkeys_webhook_deliveries",
    "Webhook delivery attempts, by outcome.",
    ["outcome"],
    registry=registry,
)
request_duration = Histogram(
    "voxkeys_request_duration_seconds",
    "Time from the first middleware to the response, by area: api (/api/) or page.",
    ["area"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=registry,
)
# Per worker: each has its own cache. `liveall` gives each process's value a pid label and drops
# it when the master marks the worker dead.
auth_cache_entries = Gauge(
    "voxkeys_auth_cache_entries",
    "Keys in this worker's authentication cache.",
    registry=registry,
    multiprocess_mode="liveall",
)
auth_cache_live = Gauge(
    "voxkeys_auth_cache_live",
    "1 while this worker's authentication cache answers (its listener hears the database), else 0.",
    registry=registry,
    multiprocess_mode="liveall",
)


class PendingCounts:
    """The request path's counts, kept in this process's memory and added to their counters
    once a second by a thread of this process (and before each scrape, and at exit).

    In multiprocess mode every inc() is a write into a memory-mapped file under a lock (~2 µs
    here), and an API request makes several: adding to a dict costs a tenth of that. A worker
    killed with SIGKILL loses at most its last second's counts. The request durations are not
    deferred: a histogram has no public way to add many observations at once.
    """

    def __init__(self, interval: float = 1.0) -> None:
        self.interval = interval
        self._reset()
        # A forked worker starts empty: its parent's pending counts are its parent's to add,
        # and the thread that adds them did not survive the fork.
        os.register_at_fork(after_in_child=self._reset)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[Counter, int] = {}
        self._thread: threading.Thread | None = None

    def add(self, counter: Counter) -> None:
        with self._lock:
            self._counts[counter] = self._counts.get(counter, 0) + 1
        if self._thread is None:
            self._start()

    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="metrics-pending-counts", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            self.publish()

    def publish(self) -> None:
        """Add the counts so far to their counters."""
        with self._lock:
            counts, self._counts = self._counts, {}
        for counter, number in counts.items():
            counter.inc(number)


pending = PendingCounts()
atexit.register(pending.publish)

_page_duration = request_duration.labels("page")
_api_duration = request_duration.labels("api")
_authenticated = authentications.labels("authenticated")
_cache_hits = auth_cache_lookups.labels("hit")
_cache_misses = auth_cache_lookups.labels("miss")
_key_rate_limited = rate_limited.labels("key")
_address_rate_limited = rate_limited.labels("auth_failures")
# labels() validates and locks on every call; the series a request needs are kept here.
_api_request_series: dict[tuple[str, int, str], Counter] = {}


def observe_request(request: HttpRequest, response: HttpResponse, seconds: float) -> None:
    """Count one answered request: its duration and, on the API, its route, status and code."""
    path = request.path_info
    if not path.startswith(API_PREFIX):
        if path != METRICS_PATH:
            _page_duration.observe(seconds)
        return
    _api_duration.observe(seconds)
    match = request.resolver_match
    route = match.route if match is not None else ""
    status = response.status_code
    code: str = getattr(response, "api_error_code", "") if status >= 400 else ""
    series = _api_request_series.get((route, status, code))
    if series is None:
        series = api_requests.labels(route or "unresolved", str(status), code)
        _api_request_series[(route, status, code)] = series
    pending.add(series)


def count_authenticated() -> None:
    """Count a key check that authenticated the request (api.middleware, where it is decided)."""
    pending.add(_authenticated)


def count_refusal(code: str) -> None:
    """Count a key check refused with `code` (an api.errors.ErrorCode)."""
    pending.add(authentications.labels(code))
    if code == "rate_limited":
        # The only 429 the key check gives: the address's failed authentications.
        pending.add(_address_rate_limited)


def count_key_rate_limited() -> None:
    """Count a request refused for its key's requests per second."""
    pending.add(_key_rate_limited)


def count_auth_cache_lookup(*, hit: bool) -> None:
    pending.add(_cache_hits if hit else _cache_misses)


def observe_auth_cache(*, live: bool, entries: int) -> None:
    """Record this worker's authentication cache (its listener calls this every heartbeat)."""
    auth_cache_live.set(1 if live else 0)
    auth_cache_entries.set(entries)


def count_usage_flush_failure() -> None:
    usage_flush_failures.inc()


def count_email_failure(messages: int = 1) -> None:
    """Count emails that could not be sent (call it wherever sending gives up on them)."""
    emails_failed.inc(messages)


def count_webhook_delivery(outcome: str) -> None:
    """Count one webhook delivery attempt by its outcome, one of a small fixed set (such as
    delivered, failed, gave_up): never a status text or a URL."""
    webhook_deliveries.labels(outcome).inc()


class TaskQueueCollector(Collector):
    """The task queue's jobs by queue and status (ready, running, failed), counted at scrape
    time from the database, so every machine's workers show, whichever process is scraped."""

    STATUSES = ("READY", "RUNNING", "FAILED")

    def collect(self) -> Iterable[Metric]:
        from django.db import DatabaseError
        from django.db.models import Count
        from django_tasks_db.models import DBTaskResult

        jobs = GaugeMetricFamily(
            "voxkeys_task_queue_jobs",
            "Jobs in the task queue's table, by queue and status (failed: kept after their "
            "last try).",
            labels=["queue", "status"],
        )
        up = GaugeMetricFamily(
            "voxkeys_task_queue_up", "1 if the task queue's jobs could be counted, else 0."
        )
        counts = {(queue, status): 0 for queue in queue_names() for status in self.STATUSES}
        try:
            rows = (
                DBTaskResult.objects.filter(status__in=self.STATUSES)
                .values_list("queue_name", "status")
                .annotate(jobs=Count("id"))
                .order_by()
            )
            for queue, status, number in rows:
                counts[(queue, status)] = number
        except DatabaseError:
            # The rest of the scrape is worth most during a database outage: answer without it.
            up.add_metric([], 0)
            yield up
            return
        for (queue, status), number in sorted(counts.items()):
            jobs.add_metric([queue, status.lower()], number)
        up.add_metric([], 1)
        yield jobs
        yield up


def queue_names() -> list[str]:
    """Return the task queues settings.TASKS declares (reported even when empty)."""
    names: list[str] = []
    for backend in settings.TASKS.values():
        names.extend(name for name in backend.get("QUEUES", []) if name not in names)
    return names


def exposition() -> bytes:
    """Return every metric in the Prometheus text format: this process's, or with
    PROMETHEUS_MULTIPROC_DIR every live and past worker's summed, then the task queue's."""
    pending.publish()
    scrape = CollectorRegistry(auto_describe=False)
    if MULTIPROCESS:
        multiprocess.MultiProcessCollector(scrape)  # type: ignore[no-untyped-call]
        output = generate_latest(scrape)
    else:
        output = generate_latest(registry)
    return output + generate_latest(_queue_registry)


_queue_registry = CollectorRegistry(auto_describe=False)
_queue_registry.register(TaskQueueCollector())


def sent_token(request: HttpRequest) -> str:
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


class MetricsMiddleware:
    """Answer `/metrics` for a scraper that sends METRICS_TOKEN as its Bearer token.

    Near the top of MIDDLEWARE, so the scrape never meets the session, CSRF, sign-in or host
    checks (Prometheus scrapes each server by its address, as a load balancer probes it). Any
    other request to the path, or any when METRICS_TOKEN is empty, goes on to the URL
    resolver and is answered 404 like every unknown path: nothing says the endpoint exists.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info == METRICS_PATH and request.method in {"GET", "HEAD"}:
            token = settings.METRICS_TOKEN
            if token and constant_time_compare(sent_token(request), token):
                response = HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)
                response["Cache-Control"] = "no-store"
                return response
        return self.get_response(request)
