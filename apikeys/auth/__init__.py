"""One request's authentication: the check, the key lookup and its cache, usage, rate limits.

What the rest of the project may ask of it is re-exported here; the modules inside are its own.
"""

from __future__ import annotations

from apikeys.auth.cache import status as cache_status
from apikeys.auth.check import Authenticated, AuthenticatedKey, Refusal, check_key
from apikeys.auth.lookup import check_lookup

__all__ = [
    "Authenticated",
    "AuthenticatedKey",
    "Refusal",
    "cache_status",
    "check_key",
    "check_lookup",
]
