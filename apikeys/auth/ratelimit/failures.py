"""Failed authentications per client address, checked before a key is looked up."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from django.http import HttpRequest

from apikeys.auth.ratelimit.buckets import (
    MAX_ENTRIES,
    Clock,
    SharedBuckets,
    TokenBucket,
    whole_seconds,
)
from voxkeys.clientip import client_ip


class AuthFailureThrottle:
    """Failed authentications per client address, checked before the key is looked up."""

    def __init__(
        self,
        shared: SharedBuckets | None,
        *,
        per_minute: int,
        clock: Clock,
        max_addresses: int = MAX_ENTRIES,
    ) -> None:
        self._shared = shared
        self._capacity = per_minute
        self._rate = per_minute / 60
        self._clock = clock
        self._max_addresses = max_addresses
        self._lock = threading.Lock()
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()  # without Redis
        self._blocked: OrderedDict[str, float] = OrderedDict()  # address -> end of its block

    def retry_after(self, request: HttpRequest) -> int | None:
        """Return the seconds the request's client must wait, or None if it is not blocked."""
        if not self._blocked:
            return None  # the usual case costs no client-IP parsing
        address = client_ip(request) or ""
        now = self._clock()
        with self._lock:
            until = self._blocked.get(address)
            if until is None:
                return None
            if until <= now:
                del self._blocked[address]
                return None
        return whole_seconds(until - now)

    def record(self, request: HttpRequest) -> None:
        """Count a failed authentication against the request's client address."""
        address = client_ip(request) or ""
        now = self._clock()
        wait = None
        if self._shared is not None and self._shared.usable(now):
            wait = self._shared.take_one(f"auth-failures:{address}", self._rate, self._capacity)
        with self._lock:
            if wait is None:
                bucket = self._buckets.get(address) or TokenBucket(self._capacity, now)
                self._keep(self._buckets, address, bucket)
                bucket.refill(now, self._rate, self._capacity)
                bucket.tokens = max(-self._capacity, bucket.tokens - 1)
                wait = max(0.0, 1 - bucket.tokens) / self._rate
            if wait > 0:
                self._keep(self._blocked, address, now + wait)

    def _keep(self, entries: OrderedDict[str, Any], address: str, value: Any) -> None:
        """Store the entry as the most recent one, forgetting the oldest beyond the bound."""
        entries[address] = value
        entries.move_to_end(address)
        if len(entries) > self._max_addresses:
            entries.popitem(last=False)
