"""Health and readiness: what load balancers and operators ask of each worker."""

from __future__ import annotations

import logging

import redis
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from redis.backoff import NoBackoff
from redis.retry import Retry

from api.routes import api_route, public
from apikeys import auth
from voxkeys.logs import report_database_outage

logger = logging.getLogger(__name__)
# Seconds; a load balancer's check has its own timeout, typically 2 to 5 s.
READY_REDIS_TIMEOUT = 1


@public
def get_health(request: HttpRequest) -> HttpResponse:
    # No database query: load balancers ask often, and this is the benchmark's baseline.
    return JsonResponse({"status": "ok", "service": "VoxPria API", "version": "v1"})


@public
def get_ready(request: HttpRequest) -> HttpResponse:
    # What an API request needs: the key lookup itself (the prepared statement, on this
    # worker's connection) and Redis when it is configured.
    checks = {"database": database_status(request), "redis": redis_status()}
    # Not a readiness condition: with the cache off, authentication queries the database.
    cache = {"auth_cache": auth.cache_status()}
    if "unavailable" in checks.values():
        response = JsonResponse({"status": "unavailable", **checks, **cache}, status=503)
        response["Retry-After"] = "5"
        return response
    return JsonResponse({"status": "ok", **checks, **cache})


def database_status(request: HttpRequest) -> str:
    try:
        auth.check_lookup()
    except DatabaseError as exc:
        # Load balancers ask every few seconds: counted with the outage, not logged each time.
        report_database_outage(exc, request)
        return "unavailable"
    return "ok"


def redis_status() -> str:
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
