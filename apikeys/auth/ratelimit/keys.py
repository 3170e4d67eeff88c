"""Requests per second per key: a token bucket per key, shared through Redis a slice at a time."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass

from apikeys.auth.ratelimit.buckets import (
    MAX_ENTRIES,
    Clock,
    SharedBuckets,
    TokenBucket,
    whole_seconds,
)


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a key's request may go ahead, and what its RateLimit headers say."""

    allowed: bool
    limit: int
    remaining: int
    # Seconds until the whole limit is available again (the bucket refills within a second).
    reset: int
    # Seconds until a request may succeed; 0 when this one did.
    retry_after: int = 0

    def headers(self) -> dict[str, str]:
        """Return the IETF draft's RateLimit-Limit, -Remaining and -Reset fields."""
        return {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }


def allowed(limit: int, remaining: float) -> Decision:
    remaining = min(limit, int(remaining))
    return Decision(True, limit, remaining, reset=0 if remaining >= limit else 1)


def denied(limit: int, wait: float) -> Decision:
    return Decision(False, limit, 0, reset=1, retry_after=whole_seconds(wait))


class _KeyState:
    """One key's state in this process."""

    __slots__ = ("denied_until", "local", "lock", "reserved", "shared_left")

    def __init__(self, limit: int, now: float) -> None:
        # Held while asking Redis, so a process's threads reserve one slice at a time per key.
        self.lock = threading.Lock()
        self.reserved = 0  # tokens granted by Redis and not spent yet
        self.shared_left = 0  # what the shared bucket held after the last reservation
        self.denied_until = 0.0  # Redis said the bucket was empty: no need to ask before this
        self.local = TokenBucket(limit, now)  # the limit without Redis, or while it fails


class KeyRateLimiter:
    """Requests per second per key: a token bucket of `limit` tokens refilled `limit` a second."""

    def __init__(
        self,
        shared: SharedBuckets | None,
        *,
        slice_percent: int,
        clock: Clock,
        max_keys: int = MAX_ENTRIES,
    ) -> None:
        self._shared = shared
        self._slice_percent = slice_percent
        self._clock = clock
        self._max_keys = max_keys
        self._states: OrderedDict[int, _KeyState] = OrderedDict()
        self._lock = threading.Lock()

    def slice(self, limit: int) -> int:
        """Return how many tokens a process reserves from Redis at a time."""
        return max(1, math.ceil(limit * self._slice_percent / 100))

    def check(self, key_id: int, limit: int) -> Decision:
        """Take a token for one request with the key, if there is one."""
        now = self._clock()
        state = self._state(key_id, limit, now)
        with state.lock:
            if self._shared is not None and self._shared.usable(now):
                decision = self._check_shared(self._shared, state, key_id, limit, now)
                if decision is not None:
                    return decision
            return self._check_local(state, limit, now)

    def _state(self, key_id: int, limit: int, now: float) -> _KeyState:
        with self._lock:
            state = self._states.get(key_id)
            if state is None:
                state = self._states[key_id] = _KeyState(limit, now)
                if len(self._states) > self._max_keys:
                    # A key evicted here starts again with a full bucket (or, with Redis, loses
                    # what it had reserved): bounded memory beats exactness for idle keys.
                    self._states.popitem(last=False)
            else:
                self._states.move_to_end(key_id)
            return state

    def _check_shared(
        self, shared: SharedBuckets, state: _KeyState, key_id: int, limit: int, now: float
    ) -> Decision | None:
        if state.reserved < 1 and now >= state.denied_until:
            reply = shared.reserve(f"key:{key_id}", limit, self.slice(limit))
            if reply is None:
                return None
            granted, state.shared_left, wait = reply
            state.reserved += granted
            state.denied_until = 0.0 if granted else now + wait
        if state.reserved < 1:
            return denied(limit, state.denied_until - now)
        state.reserved -= 1
        return allowed(limit, state.reserved + state.shared_left)

    @staticmethod
    def _check_local(state: _KeyState, limit: int, now: float) -> Decision:
        bucket = state.local
        bucket.refill(now, limit, limit)
        if bucket.tokens < 1:
            return denied(limit, (1 - bucket.tokens) / limit)
        bucket.tokens -= 1
        return allowed(limit, bucket.tokens)
