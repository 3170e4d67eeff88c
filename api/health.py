"""Health and readiness: what load balancers and operators ask of each worker.

Readiness fails (503) only for what stops API requests: the database. Redis down degrades the
rate limits to per-process ones (apikeys/auth/ratelimit) and fails no request, so it is
reported as "degraded" with a 200: a Redis outage must not take every server out of rotation.
Probes come every few seconds from each load balancer, so a failing dependency logs one line,
then a count per interval, then one line when it answers again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Annotated, Literal

import redis
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from pydantic import ConfigDict, Field, WithJsonSchema, with_config
from redis.backoff import NoBackoff
from redis.retry import Retry
from typing_extensions import TypedDict

from api.routes import api_route, operation, public
from apikeys import auth
from voxkeys.logs import report_database_outage

logger = logging.getLogger(__name__)
# Seconds; a load balancer's check has its own timeout, typically 2 to 5 s.
READY_REDIS_TIMEOUT = 1


Status = Literal["ok", "unavailable"]
RedisStatus = Literal["ok", "degraded", "not configured"]


class ProbeFailureLog:
    """A dependency failing under the probes: one line when it starts, a count of the failed
    probes every `interval` seconds while it lasts, one line when it answers again.

    Per process and thread-safe; lines are written by the probes themselves.
    """

    def __init__(
        self, name: str, *, interval: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.name = name
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._started: float | None = None
        self._last_line = 0.0
        self._pending = 0
        self._total = 0

    def failed(self, error: Exception) -> None:
        with self._lock:
            now = self._clock()
            first = self._started is None
            if first:
                self._started = self._last_line = now
                self._pending, self._total = 0, 1
            else:
                self._pending += 1
                self._total += 1
            count, elapsed = self._pending, now - self._last_line
            summary = not first and elapsed >= self.interval
            if summary:
                self._pending, self._last_line = 0, now
        if first:
            logger.warning(
                "Readiness: %s is unavailable (%s: %s); reported until it answers again.",
                self.name,
                type(error).__name__,
                error,
            )
        elif summary:
            logger.warning(
                "Readiness: %s still unavailable: %d failed probes in the last %d s.",
                self.name,
                count,
                round(elapsed),
                extra={"json_fields": {"failed_probes": count, "seconds": round(elapsed)}},
            )

    def answered(self) -> None:
        if self._started is None:
            return  # the usual case: no lock
        with self._lock:
            started, self._started = self._started, None
            total = self._total
        if started is not None:
            duration = round(self._clock() - started)
            logger.warning(
                "Readiness: %s available again after %d s (%d failed probes).",
                self.name,
                duration,
                total,
                extra={"json_fields": {"failed_probes": total, "seconds": duration}},
            )


redis_probe_log = ProbeFailureLog("Redis")


@with_config(ConfigDict(extra="forbid"))
class Health(TypedDict):
    status: Literal["ok"]
    service: str
    version: str


@with_config(ConfigDict(extra="forbid"))
class Ready(TypedDict):
    status: Status
    database: Status
    redis: Annotated[
        RedisStatus,
        Field(
            description="degraded: Redis is unavailable, so each process rate-limits on its "
            "own; requests are still answered (not a readiness failure)."
        ),
    ]
    auth_cache: Annotated[
        str,
        WithJsonSchema(
            {
                "type": "string",
                "enum": ["on", "off", "disabled"],
                "description": "This worker's key cache: off while its listener is not in touch "
                "with the database (authentication then queries it); not a readiness condition.",
            }
        ),
    ]


@operation("Is the process up? (Liveness: no database query.)", response=Health, tag="Service")
@public
def get_health(request: HttpRequest) -> HttpResponse:
    # No database query: load balancers ask often, and this is the benchmark's baseline.
    health: Health = {"status": "ok", "service": "VoxPria API", "version": "v1"}
    return JsonResponse(health)


@operation(
    "Can this server answer API requests? It runs the key lookup (503 when the database "
    "fails) and pings Redis (degraded, still 200, when it fails). For load balancers' routing "
    "decisions; answered whatever the Host header.",
    response=Ready,
    also={503: "The database is unavailable; retry."},
    tag="Service",
)
@public
def get_ready(request: HttpRequest) -> HttpResponse:
    # What an API request needs: the key lookup itself (the prepared statement, on this
    # worker's connection) and Redis when it is configured.
    database, cache_server = database_status(request), redis_status()
    ready: Ready = {
        "status": database,
        "database": database,
        "redis": cache_server,
        # Not a readiness condition: with the cache off, authentication queries the database.
        "auth_cache": auth.cache_status(),
    }
    if ready["status"] == "unavailable":
        response = JsonResponse(ready, status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse(ready)


def database_status(request: HttpRequest) -> Status:
    try:
        auth.check_lookup()
    except DatabaseError as exc:
        # Load balancers ask every few seconds: counted with the outage, not logged each time.
        report_database_outage(exc, request)
        return "unavailable"
    return "ok"


def redis_status() -> RedisStatus:
    if not settings.REDIS_URL:
        return "not configured"
    try:
        with redis.Redis.from_url(
            settings.REDIS_URL,
            socket_timeout=READY_REDIS_TIMEOUT,
            socket_connect_timeout=READY_REDIS_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        ) as client:
            client.ping()
    except redis.RedisError as error:
        redis_probe_log.failed(error)
        return "degraded"
    redis_probe_log.answered()
    return "ok"


health = api_route(GET=get_health)
ready = api_route(GET=get_ready)
