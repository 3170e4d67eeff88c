"""One request's authentication: what its `Authorization: Bearer <key>` header proves.

`check_key` answers with what it found, never with a response: the key and its account, or a
refusal naming its ErrorCode. The API middleware turns a refusal into the HTTP answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Account
from api.errors import MISSING_API_KEY_MESSAGE, ErrorCode, expired_message
from apikeys.allowlist import is_allowed
from apikeys.auth import ratelimit
from apikeys.auth.lookup import lookup_key, remember_key_use
from apikeys.keys import is_well_formed, key_digest
from apikeys.models import ApiKey
from apikeys.services import record_expiry
from voxkeys.clientip import client_ip

AUTHORIZATION = "HTTP_AUTHORIZATION"


@dataclass(frozen=True, slots=True)
class AuthenticatedKey:
    """The key a request authenticated with: what views and decorators need, nothing more."""

    id: int
    scopes: frozenset[str]
    # Test keys (vxp_test_) see only test objects, and their calls are simulated.
    livemode: bool = True

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


@dataclass(frozen=True, slots=True)
class Authenticated:
    key: AuthenticatedKey
    account: Account


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why the request is not authenticated: its code, a message a developer can act on, and
    the error's extra fields. `retry_after` (seconds) is set for the codes a client may retry."""

    code: ErrorCode
    message: str
    retry_after: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


NOT_BEARER = Refusal(
    ErrorCode.MALFORMED_API_KEY,
    "Send the key with the Bearer scheme: `Authorization: Bearer <key>`.",
)
NOT_A_KEY = Refusal(
    ErrorCode.MALFORMED_API_KEY,
    "This is not a VoxPria API key: keys start with vxp_live_ or vxp_test_ and are "
    "47 characters long. Copy the whole key, without quotes or spaces.",
)
UNKNOWN_KEY = Refusal(
    ErrorCode.INVALID_API_KEY,
    "This API key does not exist. Check that you copied it from the right account.",
)
REVOKED_KEY = Refusal(
    ErrorCode.REVOKED_API_KEY,
    "This API key has been revoked. Create a new key in Settings → API Keys.",
)
NO_KEY = Refusal(ErrorCode.MISSING_API_KEY, MISSING_API_KEY_MESSAGE)


def check_key(request: HttpRequest) -> Authenticated | Refusal:
    """Return the key and account the request's Authorization header authenticates, or why
    it does not."""
    header = request.META.get(AUTHORIZATION, "").strip()
    if not header:
        return NO_KEY
    # RFC 6750: `Bearer` 1*SP token; the scheme is case-insensitive.
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return NOT_BEARER
    # Format and checksum first: typos and junk never reach the database.
    if not is_well_formed(token):
        return NOT_A_KEY
    digest = key_digest(token)
    # Before the database: an address that keeps sending unknown, revoked or expired keys
    # (except with a key this process has seen authenticate).
    wait = ratelimit.limits.auth_failures_retry_after(request, digest=digest)
    if wait is not None:
        return too_many_failures(wait)
    row = lookup_key(digest)
    if row is None:
        ratelimit.limits.record_auth_failure(request, digest=digest)
        return UNKNOWN_KEY
    if row.revoked_at is not None:
        ratelimit.limits.record_auth_failure(request, digest=digest)
        return REVOKED_KEY
    # Checked against the clock on every request: nothing has to run for a key to expire.
    now = timezone.now()
    if row.expires_at is not None and row.expires_at <= now:
        if row.expiry_recorded_at is None:
            record_expiry(key=ApiKey.objects.get(pk=row.key_id), now=now)
        ratelimit.limits.record_auth_failure(request, digest=digest)
        rolled = row.replaced_by_id is not None
        return Refusal(ErrorCode.EXPIRED_API_KEY, expired_message(row.expires_at, rolled=rolled))
    account = row.account()
    if not account.in_good_standing:
        return Refusal(
            ErrorCode.ACCOUNT_SUSPENDED,
            f"The account {account.name} is suspended, so its API keys do not work. "
            "Please contact support to restore it.",
        )
    if row.allowed_ips:
        ip = client_ip(request)
        if not is_allowed(row.allowed_ips, ip):
            return ip_not_allowed(ip)
    remember_key_use(digest, row, now)
    ratelimit.limits.record_auth_success(digest)
    key = AuthenticatedKey(
        id=row.key_id,
        scopes=frozenset(row.scopes.split()),
        livemode=row.environment == ApiKey.Environment.LIVE,
    )
    return Authenticated(key, account)


def ip_not_allowed(ip: str | None) -> Refusal:
    return Refusal(
        ErrorCode.IP_NOT_ALLOWED,
        f"This API key may not be used from {ip or 'an unknown address'}: it is limited to a "
        "list of IP addresses. Add this address to the key's allowlist in Settings → API Keys.",
        details={"client_ip": ip},
    )


def too_many_failures(retry_after: int) -> Refusal:
    return Refusal(
        ErrorCode.RATE_LIMITED,
        "Too many requests from this address with unknown, revoked or expired API keys. "
        f"Retry in {retry_after} s, with a valid key from Settings → API Keys.",
        retry_after=retry_after,
    )


def over_rate_limit(decision: ratelimit.Decision) -> Refusal:
    return Refusal(
        ErrorCode.RATE_LIMITED,
        f"This API key is over its rate limit of {decision.limit} requests per second. "
        f"Retry in {decision.retry_after} s; the RateLimit-Remaining header of each response "
        "says how many requests are left.",
        retry_after=decision.retry_after,
    )
