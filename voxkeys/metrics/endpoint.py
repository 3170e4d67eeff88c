"""`/metrics`: every metric in the Prometheus text format, for a scraper that sends the token."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import constant_time_compare
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from voxkeys.metrics import METRICS_PATH, MULTIPROCESS, pending, registry


class TaskQueueCollector(Collector):
    """The task queue's jobs by queue and status (ready, running, failed), counted at scrape
    time from the database, so every machine's workers show, whichever process is scraped."""

    STATUSES = ("READY", "RUNNING", "FAILED")

    def collect(self) -> Iterable[Metric]:
        # Here, not at the top: MIDDLEWARE is imported before the apps are ready.
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
