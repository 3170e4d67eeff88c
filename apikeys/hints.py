"""Hints no other key system gives: scopes a key never uses, and the keys that need a look.

The thresholds live here and nowhere else. A scope counts as granted when the key was created:
edit events record scope changes only as text, so the key's `created_at` is the one reliable
date (a scope added later is judged from the key's creation, which may hint a little early).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import ClassVar

from django.utils import timezone

from apikeys.models import ApiKey, KeyScopeUse

# A scope unused this long (and granted at least this long ago) is a candidate for removal.
SCOPE_IDLE = timedelta(days=30)
# The guide's advice: rotate every 90 days.
ROLL_AFTER = timedelta(days=90)
# A key unused this long (counted from creation if it never was) may no longer be needed.
KEY_IDLE = timedelta(days=30)


@dataclass(frozen=True)
class ScopeHint:
    scope: str


@dataclass(frozen=True)
class KeyHint:
    """The one hint a key gets: the whole key unused (revoke it?) or some scopes unused (review)."""

    idle_scopes: list[str]
    granted: int
    key_idle: bool

    @property
    def message(self) -> str:
        if self.key_idle:
            return f"Unused for {KEY_IDLE.days} days"
        return (
            f"{len(self.idle_scopes)} of {self.granted} "
            f"{'scope' if self.granted == 1 else 'scopes'} unused for {SCOPE_IDLE.days} days"
        )

    @property
    def drop(self) -> str:
        """The edit form's `drop` parameter: the scopes it opens unticked."""
        return ",".join(self.idle_scopes)


def key_is_idle(api_key: ApiKey, now: datetime) -> bool:
    """Return whether the key went unused (counted from creation if it never was) for KEY_IDLE."""
    return now - (api_key.last_used_at or api_key.created_at) >= KEY_IDLE


def key_hint(api_key: ApiKey, idle: list[ScopeHint], now: datetime) -> KeyHint | None:
    """Return the key's one hint, given its idle scopes (idle_scopes), or None."""
    if not idle:
        return None
    return KeyHint(
        idle_scopes=[hint.scope for hint in idle],
        granted=len(api_key.scope_list),
        key_idle=key_is_idle(api_key, now),
    )


@dataclass
class Hygiene:
    """The active keys that need attention, by reason; empty when all is well."""

    # For the summary's wording.
    roll_after_days: ClassVar[int] = ROLL_AFTER.days
    key_idle_days: ClassVar[int] = KEY_IDLE.days

    old: list[ApiKey] = field(default_factory=list)
    unused: list[ApiKey] = field(default_factory=list)
    no_expiry: list[ApiKey] = field(default_factory=list)
    unused_scopes: list[ApiKey] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.old or self.unused or self.no_expiry or self.unused_scopes)


def scope_last_used(keys: Iterable[ApiKey]) -> dict[int, dict[str, datetime]]:
    """Return when each key last used each scope, in one query."""
    last_used: dict[int, dict[str, datetime]] = defaultdict(dict)
    uses = KeyScopeUse.objects.filter(api_key__in=[key.pk for key in keys])
    for api_key_id, scope, used_at in uses.values_list("api_key_id", "scope", "last_used_at"):
        last_used[api_key_id][scope] = used_at
    return last_used


def idle_scopes(api_key: ApiKey, last_used: dict[str, datetime], now: datetime) -> list[ScopeHint]:
    """Return the key's scopes granted and unused for SCOPE_IDLE, in the key's order."""
    # A rolled key is on its way out (and can no longer be edited): its successor gets the hint.
    if not api_key.is_active or api_key.replaced_by_id or now - api_key.created_at < SCOPE_IDLE:
        return []
    return [
        ScopeHint(scope)
        for scope in api_key.scope_list
        if scope not in last_used or now - last_used[scope] >= SCOPE_IDLE
    ]


def idle_scopes_for(api_key: ApiKey, now: datetime | None = None) -> list[ScopeHint]:
    """Return one key's idle scopes (for the key's own page)."""
    return idle_scopes(api_key, scope_last_used([api_key])[api_key.pk], now or timezone.now())


def attach_idle_scopes(keys: list[ApiKey], now: datetime) -> None:
    """Set `idle_scopes` on each key, so the list's rows can show their hint."""
    last_used = scope_last_used(keys) if keys else {}
    for key in keys:
        idle = idle_scopes(key, last_used.get(key.pk, {}), now)
        key.idle_scopes = idle  # type: ignore[attr-defined]  # for the list's template only


def hygiene(active_keys: list[ApiKey], now: datetime) -> Hygiene:
    """Sort the keys that need attention by reason; call attach_idle_scopes first."""
    summary = Hygiene()
    # A rolled key is on its way out: its successor carries the advice.
    for key in (key for key in active_keys if key.replaced_by_id is None):
        if now - key.created_at >= ROLL_AFTER:
            summary.old.append(key)
        if key_is_idle(key, now):
            summary.unused.append(key)
        if key.expires_at is None:
            summary.no_expiry.append(key)
        if key.idle_scopes:  # type: ignore[attr-defined]  # set by attach_idle_scopes
            summary.unused_scopes.append(key)
    return summary
