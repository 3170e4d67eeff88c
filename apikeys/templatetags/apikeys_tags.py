"""Words for times in the key pages: expiry ("Expires in 12 days") and past moments ("Just now")."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import template
from django.utils import timezone
from django.utils.dateformat import format as format_date
from django.utils.html import format_html
from django.utils.safestring import SafeString

from activity.summaries import short_user_agent
from apikeys.expiry import EXPIRY_WARNING
from apikeys.hints import KeyHint, ScopeHint, key_hint
from apikeys.insight import ErrorCount, top_errors
from apikeys.models import ApiKey

register = template.Library()

# Past this, "12 days ago" makes the reader count back: the date says it at once.
RELATIVE_UNTIL = timedelta(days=7)
# A log is read for when things happened: past a day, the date and the minute.
EVENT_RELATIVE_UNTIL = timedelta(days=1)
EXACT_FORMAT = "j M Y, H:i:s T"
DATE_FORMAT = "j M Y"
EVENT_FORMAT = "j M Y, H:i"


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


def _since_words(moment: datetime, now: datetime) -> str:
    # Whole units, rounded down, so the words never claim more time has passed than has.
    seconds = int((now - moment).total_seconds())
    if seconds < 60:
        # Within a minute, including a moment a little ahead of this server's clock.
        return "Just now"
    if seconds < 3600:
        return f"{_plural(seconds // 60, 'minute')} ago"
    if seconds < 86400:
        return f"{_plural(seconds // 3600, 'hour')} ago"
    return f"{_plural(seconds // 86400, 'day')} ago"


def _past_moment(
    moment: datetime | None, relative_until: timedelta, date_format: str
) -> SafeString | str:
    if moment is None:
        return ""
    now = timezone.now()
    local = timezone.localtime(moment)
    if -60 < (now - moment).total_seconds() < relative_until.total_seconds():
        words = _since_words(moment, now)
    else:
        words = format_date(local, date_format)
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        format_date(local, EXACT_FORMAT),
        words,
    )


@register.filter
def since(moment: datetime | None) -> SafeString | str:
    """Render a past moment as a <time>: "Just now", "3 hours ago", then its date after a week.

    The exact time is always in the tooltip and the machine-readable datetime.
    """
    return _past_moment(moment, RELATIVE_UNTIL, DATE_FORMAT)


@register.filter
def event_time(moment: datetime | None) -> SafeString | str:
    """Render an event's time: words within a day ("3 hours ago"), then "2 Dec 2026, 14:05"."""
    return _past_moment(moment, EVENT_RELATIVE_UNTIL, EVENT_FORMAT)


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


@register.filter(name="key_hint")
def key_hint_filter(key: ApiKey, idle_scopes: list[ScopeHint]) -> KeyHint | None:
    """Return the key's one least-privilege hint (apikeys.hints.key_hint) as of now."""
    return key_hint(key, idle_scopes or [], timezone.now())


@register.simple_tag
def key_top_errors(key: ApiKey) -> list[ErrorCount]:
    """Return the errors the key met most in the chart's days (apikeys.insight.top_errors)."""
    return top_errors(key)


@register.filter
def short_agent(user_agent: str) -> str:
    """Return a user agent in a few words (activity.summaries.short_user_agent)."""
    return short_user_agent(user_agent)


@register.filter
def environment_counts(keys: list[ApiKey]) -> dict[str, int]:
    """Count the list's keys by environment, for its Live and Test filter."""
    live = sum(1 for key in keys if key.livemode)
    return {"all": len(keys), "live": live, "test": len(keys) - live}
