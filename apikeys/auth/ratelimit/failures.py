"""Failed authentications per client address, checked before a key is looked up.

Only failures count, and a blocked address is refused only the keys this process does not
know to be valid: a key that authenticated here within VALID_KEY_MEMORY seconds is looked up
as usual. So a flood of unknown keys from an address customers share (a corporate NAT, an
integration platform) costs the flood its lookups, not the customers behind it their requests.
A key revoked since is still refused by its lookup (and forgotten); a key this process has not
seen yet waits out the block like any other, since nothing tells it apart without the database.
"""

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

# Seconds a successful authentication vouches for its key's digest in this process.
VALID_KEY_MEMORY = 3600.0
# How often a key in constant use moves up the memory's eviction order.
VALID_KEY_REFRESH = 60.0


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
        # Digests of keys that authenticated in this process -> when they last did.
        self._valid: OrderedDict[str, float] = OrderedDict()

    def retry_after(self, request: HttpRequest, *, digest: str | None) -> int | None:
        """Return the seconds the request's client must wait, or None if it is not blocked
        (or its key, `digest`, is one this process knows to be valid; None: no key)."""
        if not self._blocked:
            return None  # the usual case costs no client-IP parsing
        if digest is not None and self.known_valid(digest):
            return None
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

    def known_valid(self, digest: str) -> bool:
        now = self._clock()
        with self._lock:
            seen = self._valid.get(digest)
            if seen is not None and now - seen > VALID_KEY_MEMORY:
                del self._valid[digest]
                seen = None
        return seen is not None

    def record_success(self, digest: str) -> None:
        """Remember that the key with `digest` authenticated (a block does not refuse it)."""
        now = self._clock()
        seen = self._valid.get(digest)
        if seen is not None and now - seen < VALID_KEY_REFRESH:
            return  # the usual case: no lock on every successful request
        with self._lock:
            self._keep(self._valid, digest, now)

    def record(self, request: HttpRequest, *, digest: str | None) -> None:
        """Count a failed authentication with the key `digest` (None: a failure without a
        key, such as a mis-signed leaked-key report) against the client's address."""
        address = client_ip(request) or ""
        now = self._clock()
        wait = None
        if self._shared is not None and self._shared.usable(now):
            wait = self._shared.take_one(f"auth-failures:{address}", self._rate, self._capacity)
        with self._lock:
            if digest is not None:
                self._valid.pop(digest, None)
            if wait is None:
                bucket = self._buckets.get(address) or TokenBucket(self._capacity, now)
                self._keep(self._buckets, address, bucket)
                bucket.refill(now, self._rate, self._capacity)
                bucket.tokens = max(-self._capacity, bucket.tokens - 1)
                wait = max(0.0, 1 - bucket.tokens) / self._rate
            if wait > 0:
                self._keep(self._blocked, address, now + wait)

    def _keep(self, entries: OrderedDict[str, Any], name: str, value: Any) -> None:
        """Store the entry as the most recent one, forgetting the oldest beyond the bound."""
        entries[name] = value
        entries.move_to_end(name)
        if len(entries) > self._max_addresses:
            entries.popitem(last=False)
