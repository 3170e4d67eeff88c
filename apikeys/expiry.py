"""Expiry policies: the choices a key can be created with, and the dates they lead to.

A key's `lifetime` is its policy (a roll gives the successor the same lifetime, counted from the
roll); `expires_at` is the moment it stops working. An account's maximum key lifetime, when
set, caps both and removes "No expiration".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import Account

CUSTOM = "custom"
NEVER = "never"
DEFAULT_EXPIRATION = "90"  # the guide's advice: rotate every 90 days
PRESET_DAYS: dict[str, int] = {"30": 30, "60": 60, "90": 90, "180": 180, "365": 365}
PRESET_LABELS: dict[str, str] = {
    "30": "30 days",
    "60": "60 days",
    "90": "90 days",
    "180": "180 days",
    "365": "1 year",
}
CUSTOM_MAX_DAYS = 365
# Warn in the list (and by email) from this long before a key expires.
EXPIRY_WARNING = timedelta(days=7)


@dataclass(frozen=True)
class ExpiryChoice:
    value: str
    label: str
    expires_at: datetime | None  # for the review ("Expires on 28 February 2027"); None: never


@dataclass(frozen=True)
class Expiry:
    expires_at: datetime | None
    lifetime: timedelta | None


def expires_in_words(expires_at: datetime | None) -> str:
    if expires_at is None:
        return "Never expires"
    local = timezone.localtime(expires_at)
    return f"Expires on {date_format(local, 'j F Y')}"


def max_lifetime(account: Account) -> timedelta | None:
    days = account.max_key_lifetime_days
    return timedelta(days=days) if days else None


def custom_date_range(account: Account, now: datetime | None = None) -> tuple[date, date]:
    """Return the first and last dates a custom expiry may fall on."""
    today = timezone.localdate(now or timezone.now())
    last = today + timedelta(days=CUSTOM_MAX_DAYS)
    cap = max_lifetime(account)
    if cap is not None:
        last = min(last, timezone.localdate((now or timezone.now()) + cap))
    return today + timedelta(days=1), last


def expiration_choices(account: Account, now: datetime | None = None) -> list[ExpiryChoice]:
    """Return the expiration options the account's policy allows, in display order."""
    now = now or timezone.now()
    cap = max_lifetime(account)
    choices = [
        ExpiryChoice(value, PRESET_LABELS[value], now + timedelta(days=days))
        for value, days in PRESET_DAYS.items()
        if cap is None or timedelta(days=days) <= cap
    ]
    first, last = custom_date_range(account, now)
    if first <= last:
        choices.append(ExpiryChoice(CUSTOM, "Custom date", None))
    if cap is None:
        choices.append(ExpiryChoice(NEVER, "No expiration", None))
    return choices


def default_expiration(account: Account) -> str:
    """90 days, or the longest preset the account's maximum lifetime allows."""
    presets = [c.value for c in expiration_choices(account) if c.value in PRESET_DAYS]
    if DEFAULT_EXPIRATION in presets:
        return DEFAULT_EXPIRATION
    return presets[-1] if presets else CUSTOM


def resolve_expiry(
    account: Account, expiration: str, expires_on: date | None, now: datetime
) -> Expiry:
    """Return the expiry for a choice, or raise ValueError with the message for the form."""
    cap = max_lifetime(account)
    if expiration == NEVER:
        if cap is not None:
            raise ValueError(
                f"{account.name} requires keys to expire within {account.max_key_lifetime_days} "
                "days. Choose an expiration."
            )
        return Expiry(expires_at=None, lifetime=None)
    if expiration in PRESET_DAYS:
        lifetime = timedelta(days=PRESET_DAYS[expiration])
        if cap is not None and lifetime > cap:
            raise ValueError(
                f"{account.name} requires keys to expire within {account.max_key_lifetime_days} "
                "days. Choose a shorter expiration."
            )
        return Expiry(expires_at=now + lifetime, lifetime=lifetime)
    if expiration != CUSTOM:
        raise ValueError("Choose one of the expiration options.")
    if expires_on is None:
        raise ValueError("Pick the date the key should expire on.")
    first, last = custom_date_range(account, now)
    if expires_on < first:
        raise ValueError("Pick a date from tomorrow on.")
    if expires_on > last:
        raise ValueError(f"Pick a date no later than {date_format(last, 'j F Y')}.")
    expires_at = datetime.combine(expires_on, time.min, tzinfo=timezone.get_current_timezone())
    return Expiry(expires_at=expires_at, lifetime=expires_at - now)


def successor_expiry(account: Account, lifetime: timedelta | None, now: datetime) -> Expiry:
    """The expiry a rolled key's successor gets: the same policy, from now, within the cap."""
    cap = max_lifetime(account)
    if cap is not None and (lifetime is None or lifetime > cap):
        lifetime = cap
    if lifetime is None:
        return Expiry(expires_at=None, lifetime=None)
    return Expiry(expires_at=now + lifetime, lifetime=lifetime)
