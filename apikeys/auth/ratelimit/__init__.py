"""Rate limits on the API: requests per second per key, and failed authentications per address.

Per key: a token bucket that holds `account.api_rate_limit` tokens (one second's worth, so a key
may spend its whole second at once) and refills at that many tokens a second. A request takes a
token or is answered 429.

Without REDIS_URL every process keeps its own buckets. With it, the buckets live in Redis and
every worker on every server draws from the same one. So that Redis stays off the hot path, a
process reserves tokens a slice at a time (API_RATE_LIMIT_SLICE_PERCENT of the limit, at least
one) with an atomic Lua script, spends them from memory, and asks again only when its slice is
used up; once Redis has said the bucket is empty, the process answers 429 itself until the next
token is due. A process may spend reserved tokens a while after Redis granted them, so in any T
seconds a key is admitted at most limit × (1 + T) + slice × processes requests: one slice per
process over the token bucket's own bound.

Failed authentications per client address: unknown, revoked and expired keys (the answers that
cost a database query) count against a bucket of API_AUTH_FAILURES_PER_MINUTE that refills by as
many a minute. An address whose bucket is empty is answered 429 before its key is looked up,
unless the key authenticated in this process within the last hour (failures.py): a flood from a
shared address does not lock out the valid keys behind it.
Successful requests only read this process's small map of blocked addresses; a failure adds one
Redis round trip to a request that has just made a database query. Every process learns of a
block from its own next failure, so each lets at most one more failed lookup through per block.

Redis failing (down, slow, erroring) never fails a request: the process limits alone for
FALLBACK_SECONDS at a time until Redis answers again, and logs when that starts and ends.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from apikeys.auth.ratelimit.buckets import FALLBACK_SECONDS, REDIS_PREFIX, Clock, SharedBuckets
from apikeys.auth.ratelimit.failures import AuthFailureThrottle
from apikeys.auth.ratelimit.keys import Decision, KeyRateLimiter

__all__ = [
    "FALLBACK_SECONDS",
    "Decision",
    "KeyRateLimiter",
    "RateLimits",
    "SharedBuckets",
    "limits",
]


class RateLimits:
    """The per-key limit and the failed-authentication throttle, as configured in settings."""

    def __init__(
        self,
        *,
        enabled: bool,
        redis_url: str,
        slice_percent: int,
        auth_failures_per_minute: int,
        prefix: str = REDIS_PREFIX,
        clock: Clock = time.monotonic,
    ) -> None:
        self.enabled = enabled
        shared = SharedBuckets(redis_url, prefix, clock) if redis_url else None
        self.keys = KeyRateLimiter(shared, slice_percent=slice_percent, clock=clock)
        self.auth_failures = AuthFailureThrottle(
            shared, per_minute=auth_failures_per_minute, clock=clock
        )

    @classmethod
    def from_settings(cls, **overrides: Any) -> RateLimits:
        options: dict[str, Any] = {
            "enabled": settings.API_RATE_LIMIT_ENABLED,
            "redis_url": settings.REDIS_URL,
            "slice_percent": settings.API_RATE_LIMIT_SLICE_PERCENT,
            "auth_failures_per_minute": settings.API_AUTH_FAILURES_PER_MINUTE,
        }
        return cls(**{**options, **overrides})

    def check_key(self, key_id: int, limit: int) -> Decision | None:
        """Return the decision for one request with the key (None when limits are off)."""
        return self.keys.check(key_id, limit) if self.enabled else None

    def auth_failures_retry_after(self, request: HttpRequest, *, digest: str | None) -> int | None:
        if not self.enabled:
            return None
        return self.auth_failures.retry_after(request, digest=digest)

    def record_auth_failure(self, request: HttpRequest, *, digest: str | None) -> None:
        if self.enabled:
            self.auth_failures.record(request, digest=digest)

    def record_auth_success(self, digest: str) -> None:
        if self.enabled:
            self.auth_failures.record_success(digest)


limits = RateLimits.from_settings()
