"""What a key's page shows about its use: requests per day, drawn as a server-rendered SVG chart,
and when each granted scope was last exercised.

The numbers come from the usage tables apikeys.auth.usage fills in batches; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from apikeys.models import ApiKey

CHART_DAYS = 30
# The SVG's own coordinate system; CSS scales it to the card's width.
CHART_WIDTH = 600
CHART_HEIGHT = 120
BAR_GAP = 4


@dataclass(frozen=True)
class DayUsage:
    day: date
    requests: int
    errors: int


@dataclass(frozen=True)
class Bar:
    """One day's bar: successes below, errors (4xx and 5xx) stacked on top."""

    usage: DayUsage
    x: int
    width: int
    ok_y: float
    ok_height: float
    error_y: float
    error_height: float


@dataclass(frozen=True)
class UsageChart:
    days: list[DayUsage]
    bars: list[Bar]
    width: int
    height: int

    @property
    def requests(self) -> int:
        return sum(day.requests for day in self.days)

    @property
    def errors(self) -> int:
        return sum(day.errors for day in self.days)

    @property
    def error_percent(self) -> int:
        return round(100 * self.errors / self.requests) if self.requests else 0

    @property
    def summary(self) -> str:
        noun = "request" if self.requests == 1 else "requests"
        return (
            f"{self.requests:,} {noun} in the last {len(self.days)} days, "
            f"{self.error_percent} % errors"
        )


@dataclass(frozen=True)
class ScopeUse:
    scope: str
    last_used_at: datetime | None


def daily_usage(key: ApiKey, days: int = CHART_DAYS, now: datetime | None = None) -> list[DayUsage]:
    """Return the key's requests and errors per UTC day, oldest first, today included."""
    today = (now or timezone.now()).astimezone(UTC).date()
    first_day = today - timedelta(days=days - 1)
    start = datetime.combine(first_day, datetime.min.time(), tzinfo=UTC)
    rows = (
        key.usage.filter(hour__gte=start)
        .annotate(day=TruncDate("hour", tzinfo=UTC))
        .values("day", "status_class")
        .annotate(total=Sum("requests"))
    )
    requests: dict[date, int] = {}
    errors: dict[date, int] = {}
    for row in rows:
        requests[row["day"]] = requests.get(row["day"], 0) + row["total"]
        if row["status_class"] >= 4:
            errors[row["day"]] = errors.get(row["day"], 0) + row["total"]
    return [
        DayUsage(day=day, requests=requests.get(day, 0), errors=errors.get(day, 0))
        for day in (first_day + timedelta(days=offset) for offset in range(days))
    ]


def usage_chart(days: list[DayUsage]) -> UsageChart:
    """Lay out one bar per day, scaled so the busiest day fills the chart's height."""
    slot = CHART_WIDTH // len(days)
    busiest = max((day.requests for day in days), default=0) or 1
    bars = []
    for index, day in enumerate(days):
        error_height = CHART_HEIGHT * day.errors / busiest
        ok_height = CHART_HEIGHT * (day.requests - day.errors) / busiest
        bars.append(
            Bar(
                usage=day,
                x=index * slot + BAR_GAP // 2,
                width=slot - BAR_GAP,
                ok_y=CHART_HEIGHT - ok_height,
                ok_height=ok_height,
                error_y=CHART_HEIGHT - ok_height - error_height,
                error_height=error_height,
            )
        )
    return UsageChart(days=days, bars=bars, width=CHART_WIDTH, height=CHART_HEIGHT)


def scopes_in_use(key: ApiKey) -> list[ScopeUse]:
    """Return each granted scope with when the key last used it (None: never)."""
    last_used = dict(key.scope_uses.values_list("scope", "last_used_at"))
    return [ScopeUse(scope=scope, last_used_at=last_used.get(scope)) for scope in key.scope_list]
