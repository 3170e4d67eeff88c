"""What the proxy or load balancer in front sends: probes' Host headers, and X-Forwarded-For.

Load balancers probe each instance by its IP address, so their Host header is whatever
address they used, which no ALLOWED_HOSTS can list. The two probes are therefore answered
whatever the Host; every other path stays strict, and a request it refuses logs one line
rather than Django's traceback (a scanner sends thousands).

Behind a proxy with TRUSTED_PROXY_COUNT=0, every client has the proxy's address: one client's
failed keys throttle everyone. The deploy check (voxkeys/checks.py) catches the usual case
(SECURE_PROXY_SSL_HEADER set); ForwardedForWatchMiddleware catches the rest at run time.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse

from voxkeys.clientip import FORWARDED_FOR

logger = logging.getLogger(__name__)

PROBE_PATHS = frozenset({"/api/v1/health", "/api/v1/health/ready"})


class ProbeHostMiddleware:
    """Answer the health and readiness probes whatever their Host header says.

    Before CommonMiddleware, which validates the Host against ALLOWED_HOSTS on every request
    (by calling request.get_host()). For the probe paths only, get_host() returns the header
    unchecked: the probes build no URL from it, so it cannot poison anything.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info in PROBE_PATHS:
            request.get_host = partial(unchecked_host, request)  # type: ignore[method-assign]
        return self.get_response(request)


def unchecked_host(request: HttpRequest) -> str:
    return str(request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", ""))


class WithoutTraceback(logging.Filter):
    """Drop a record's traceback: for refusals whose message says it all (DisallowedHost)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


class ForwardedForWatchMiddleware:
    """Warn, once per `interval`, while most requests carry X-Forwarded-For though
    TRUSTED_PROXY_COUNT is 0: the app is behind a proxy it does not know about.

    Not used at all once TRUSTED_PROXY_COUNT is set. Otherwise two counters, updated without a
    lock: a lost increment between threads changes nothing that matters to the warning.
    """

    interval = 60.0
    # Fewer requests in an interval than this say nothing about "most".
    minimum_requests = 10

    def __init__(
        self,
        get_response: Callable[[HttpRequest], HttpResponse],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if settings.TRUSTED_PROXY_COUNT > 0:
            raise MiddlewareNotUsed
        self.get_response = get_response
        self.clock = clock
        self.requests = 0
        self.forwarded = 0
        self.since = clock()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests += 1
        if FORWARDED_FOR in request.META:
            self.forwarded += 1
        now = self.clock()
        if now - self.since >= self.interval:
            self.summarize(now)
        return self.get_response(request)

    def summarize(self, now: float) -> None:
        requests, forwarded = self.requests, self.forwarded
        self.requests, self.forwarded, self.since = 0, 0, now
        if requests >= self.minimum_requests and forwarded * 2 > requests:
            logger.warning(
                "%d of the last %d requests carried X-Forwarded-For, but TRUSTED_PROXY_COUNT "
                "is 0: every client has the proxy's address (one client's failed keys throttle "
                "all of them, allowlists see the proxy). Set TRUSTED_PROXY_COUNT to the number "
                "of proxies in front of the app.",
                forwarded,
                requests,
                extra={"json_fields": {"requests": requests, "forwarded_for": forwarded}},
            )
