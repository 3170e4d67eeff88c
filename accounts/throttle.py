"""Password reset requests per email and per IP address, counted in the cache.

A reset request sends an email, so an unthrottled form would let anyone flood an inbox, or make
VoxPria's mail look like spam. Each request takes one from a fixed hourly allowance for its
email (known or not: the answer must not tell them apart) and one for its client address. The
counts live in Django's cache: Redis with REDIS_URL, shared by every process; without it each
process counts for itself, so the limits hold per process only.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from accounts.emails import canonical_email
from voxkeys.clientip import client_ip

WINDOW_SECONDS = 3600
PREFIX = "voxkeys:password-reset:"


def _take(name: str, limit: int) -> bool:
    key = PREFIX + name
    cache.add(key, 0, timeout=WINDOW_SECONDS)
    try:
        count = cache.incr(key)
    except ValueError:  # the window ended between the two calls
        cache.add(key, 1, timeout=WINDOW_SECONDS)
        count = 1
    return count <= limit


def take_reset_allowance(request: HttpRequest, email: str) -> bool:
    """Count one reset request for `email` from this client; say whether it may be sent."""
    # Hashed: the cache holds no addresses, and a key has a bounded length.
    digest = hashlib.sha256(canonical_email(email).encode()).hexdigest()
    per_email = _take(f"email:{digest}", settings.PASSWORD_RESET_EMAIL_LIMIT)
    per_address = _take(f"ip:{client_ip(request) or ''}", settings.PASSWORD_RESET_IP_LIMIT)
    return per_email and per_address
