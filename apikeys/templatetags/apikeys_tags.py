"""Words for a key's expiry in the list ("Expires in 12 days", "No expiration")."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

from apikeys.expiry import EXPIRY_WARNING
from apikeys.models import ApiKey

register = template.Library()


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _until(moment: datetime) -> str:
    # Days, not weeks ("12 days", as people plan rotations), months only far ahead. Whole days
    # round to the nearest, so a 90-day key reads "90 days", not "89 days" a second later.
    seconds = max(int((moment - timezone.now()).total_seconds()), 0)
    days = round(seconds / 86400)
    if days >= 100:
        return _plural(days // 30, "month")
    if seconds >= 86400:
        return _plural(days, "day")
    if seconds >= 3600:
        return _plural(seconds // 3600, "hour")
    return _plural(max(seconds // 60, 1), "minute")


@register.filter
def expiry_words(key: ApiKey) -> str:
    if key.expires_at is None:
        return "No expiration"
    if key.replaced_by_id is not None:
        return f"Rolled: stops working in {_until(key.expires_at)}"
    return f"Expires in {_until(key.expires_at)}"


@register.filter
def expires_soon(key: ApiKey) -> bool:
    return key.expires_at is not None and key.expires_at - timezone.now() <= EXPIRY_WARNING
