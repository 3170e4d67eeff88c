"""Token buckets: in this process's memory, and in Redis shared by every process."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

logger = logging.getLogger("apikeys.auth.ratelimit")

Clock = Callable[[], float]
T = TypeVar("T")

REDIS_PREFIX = "voxkeys:ratelimit:"
# Loopback or same-zone Redis answers in well under a millisecond; a Redis that takes longer than
# this is treated as down rather than made every API request's latency.
REDIS_TIMEOUT = 0.25
FALLBACK_SECONDS = 10.0
# Per-process memory: the most recently used keys and addresses, each a few hundred bytes.
MAX_ENTRIES = 10_000

# Refill by the time elapsed on Redis's own clock, so servers' clocks need not agree. A missing
# bucket is a full one, and each bucket expires once it would be full again.
_REFILL = """
local rate, capacity = tonumber(ARGV[1]), tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local elapsed = math.max(0, now - (tonumber(state[2]) or now))
tokens = math.min(capacity, tokens + elapsed * rate)
"""
_SAVE = """
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens),
  'at', string.format('%.6f', now))
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1000)
local wait_ms = math.ceil(math.max(0, 1 - tokens) / rate * 1000)
"""
# ARGV: rate, capacity, tokens wanted. Returns {granted, whole tokens left, ms to the next token}.
RESERVE_SCRIPT = (
    _REFILL
    + """
local granted = math.min(tonumber(ARGV[3]), math.floor(tokens))
tokens = tokens - granted
"""
    + _SAVE
    + "return {granted, math.floor(tokens), wait_ms}"
)
# ARGV: rate, capacity. Takes a token even from an empty bucket (down to -capacity): the failure
# happened anyway, and the debt keeps processes that had not heard of the block from adding up.
# Returns the milliseconds until the bucket holds a token again.
TAKE_ONE_SCRIPT = _REFILL + "tokens = math.max(-capacity, tokens - 1)\n" + _SAVE + "return wait_ms"


@dataclass(slots=True)
class TokenBucket:
    """A token bucket in this process's memory: the same arithmetic as the Lua above."""

    tokens: float
    updated: float

    def refill(self, now: float, rate: float, capacity: float) -> None:
        self.tokens = min(capacity, self.tokens + max(0.0, now - self.updated) * rate)
        self.updated = now


def whole_seconds(seconds: float) -> int:
    """Return a wait rounded up to whole seconds, at least 1 (Retry-After has no fractions)."""
    return max(1, math.ceil(seconds))


class SharedBuckets:
    """Token buckets in Redis, shared by every process; None answers while Redis is failing."""

    def __init__(self, url: str, prefix: str, clock: Clock) -> None:
        # One attempt, short timeouts: redis-py's default retries with backoff would hold the
        # request for seconds when Redis is down; the local limit is the fallback instead.
        client = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT,
            socket_connect_timeout=REDIS_TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        self._reserve = client.register_script(RESERVE_SCRIPT)
        self._take_one = client.register_script(TAKE_ONE_SCRIPT)
        self._prefix = prefix
        self._clock = clock
        self._lock = threading.Lock()
        # None while Redis answers; otherwise when to try it again.
        self._retry_at: float | None = None

    def usable(self, now: float) -> bool:
        return self._retry_at is None or now >= self._retry_at

    def reserve(self, name: str, rate: int, wanted: int) -> tuple[int, int, float] | None:
        """Take up to `wanted` tokens; return (granted, tokens left, seconds to the next token)."""

        def parse(reply: list[int]) -> tuple[int, int, float]:
            granted, left, wait_ms = reply
            return int(granted), int(left), int(wait_ms) / 1000

        # A key's bucket holds one second's worth: its capacity is its rate.
        return self._run(self._reserve, parse, name, rate, rate, wanted)

    def take_one(self, name: str, rate: float, capacity: int) -> float | None:
        """Take a token, into debt if need be; return the seconds until the bucket has one."""
        return self._run(self._take_one, lambda wait_ms: int(wait_ms) / 1000, name, rate, capacity)

    def _run(self, script: Any, parse: Callable[[Any], T], name: str, *args: float) -> T | None:
        try:
            result = parse(script(keys=[self._prefix + name], args=args))
        except Exception:
            # Whatever went wrong (refused, timed out, an error or odd reply), this request is
            # limited locally: a rate limiter must never be the reason an API request fails.
            self._failed()
            return None
        if self._retry_at is not None:
            self._recovered()
        return result

    def _failed(self) -> None:
        with self._lock:
            first = self._retry_at is None
            self._retry_at = self._clock() + FALLBACK_SECONDS
        if first:
            logger.warning(
                "Redis is unavailable for rate limits: each process limits on its own and "
                "retries Redis every %.0f s.",
                FALLBACK_SECONDS,
                exc_info=True,
            )

    def _recovered(self) -> None:
        with self._lock:
            was_down, self._retry_at = self._retry_at is not None, None
        if was_down:
            logger.warning("Redis answers again: rate limits are shared between processes.")
