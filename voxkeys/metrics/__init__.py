"""What the app counts for Prometheus: the metrics, and the calls that count (endpoint.py serves
them at /metrics; processes.py keeps gunicorn's shared directory).

Counting is always on and costs a few microseconds per request (bench/metrics_cost.py); only
serving depends on METRICS_TOKEN. Labels are few and bounded: a route is the URL pattern that
answered (`api/v1/contacts/<id:pk>`), never the path, so no client can mint series.

Under gunicorn each worker is its own process, and a scrape reaches one of them. With
PROMETHEUS_MULTIPROC_DIR set (before the process starts: prometheus_client reads it once, at
import) every process writes its values to files in that directory and a scrape sums them.
Without it, as under runserver and in tests, the values live in this process's memory.

This module is loaded while logging is configured, before the apps are: it imports no models.
"""

from __future__ import annotations

import atexit
import os
import threading
import time

from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

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


class AuthCacheGauges:
    """This worker's authentication cache: whether it answers, and its size.

    Created by the first report of a listener, so a process that never runs one (the cache
    disabled, the task worker, gunicorn's master) shows no series: in multiprocess mode
    `liveall` gives each process's value a pid label, until the master marks the worker dead.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._gauges: tuple[Gauge, Gauge] | None = None

    def set(self, *, live: bool, entries: int) -> None:
        with self._lock:
            if self._gauges is None:
                self._gauges = (
                    Gauge(
                        "voxkeys_auth_cache_live",
                        "1 while this worker's authentication cache answers (its listener "
                        "hears the database), else 0.",
                        registry=registry,
                        multiprocess_mode="liveall",
                    ),
                    Gauge(
                        "voxkeys_auth_cache_entries",
                        "Keys in this worker's authentication cache.",
                        registry=registry,
                        multiprocess_mode="liveall",
                    ),
                )
            live_gauge, entries_gauge = self._gauges
        live_gauge.set(1 if live else 0)
        entries_gauge.set(entries)


auth_cache = AuthCacheGauges()


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
# labels() validates and locks on every call; the series requests need are kept here.
_api_request_series: dict[tuple[str, int, str], Counter] = {}
_refusal_series: dict[str, Counter] = {}


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
    series = _refusal_series.get(code)
    if series is None:
        series = _refusal_series[code] = authentications.labels(code)
    pending.add(series)
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
    auth_cache.set(live=live, entries=entries)


def count_usage_flush_failure() -> None:
    usage_flush_failures.inc()


def count_email_failure(messages: int = 1) -> None:
    """Count emails that could not be sent (call it wherever sending gives up on them)."""
    emails_failed.inc(messages)


def count_webhook_delivery(outcome: str) -> None:
    """Count one webhook delivery attempt by its outcome, one of a small fixed set (such as
    delivered, failed, gave_up): never a status text or a URL."""
    webhook_deliveries.labels(outcome).inc()
