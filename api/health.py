"""Health and readiness: what load balancers and operators ask of each worker."""

from __future__ import annotations

import logging
from typing import Annotated, Literal

import redis
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from pydantic import ConfigDict, WithJsonSchema, with_config
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


@with_config(ConfigDict(extra="forbid"))
class Health(TypedDict):
    status: Literal["ok"]
    service: str
    version: str


@with_config(ConfigDict(extra="forbid"))
class Ready(TypedDict):
    status: Status
    database: Status
    redis: Status | Literal["not configured"]
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
    "Can this server answer API requests? It runs the key lookup and pings Redis; 503 names "
    "what failed. For load balancers' routing decisions.",
    response=Ready,
    also={503: "The database or Redis is unavailable; retry."},
    tag="Service",
)
@public
def get_ready(request: HttpRequest) -> HttpResponse:
    # What an API request needs: the key lookup itself (the prepared statement, on this
    # worker's connection) and Redis when it is configured.
    database, cache_server = database_status(request), redis_status()
    ready: Ready = {
        "status": "unavailable" if "unavailable" in (database, cache_server) else "ok",
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


def redis_status() -> Status | Literal["not configured"]:
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
    except redis.RedisError:
        logger.warning("Readiness check: Redis is unavailable", exc_info=True)
        return "unavailable"
    return "ok"


health = api_route(GET=get_health)
ready = api_route(GET=get_ready)
