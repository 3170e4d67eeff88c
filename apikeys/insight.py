"""What a key's page shows about its use: requests per day, drawn as a server-rendered SVG chart
with dated ticks and its scale, the errors it met most, and when each granted scope was last
exercised.

The numbers come from the usage tables apikeys.auth.usage fills in batches; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.db.models import Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from api.errors import ErrorCode
from apikeys.models import ApiKey

CHART_DAYS = 30
# The SVG's own coordinate system; CSS scales it to the card's width.
CHART_WIDTH = 600
CHART_HEIGHT = 120
BAR_GAP = 4
# A tick every this many days, counted back from today.
TICK_DAYS = 7
TOP_ERRORS = 4
# What the key's owner can change about an error: the scopes, the allowlist, or nothing here.
ERROR_FIXES: dict[str, str] = {
    ErrorCode.INSUFFICIENT_SCOPE: "scopes",
    ErrorCode.IP_NOT_ALLOWED: "allowlist",
    ErrorCode.RATE_LIMITED: "limit",
}


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
    # The axis label under this day ("Today", "27 Nov"), or "" between ticks.
    tick: str


@dataclass(frozen=True)
class UsageChart:
    days: list[DayUsage]
    bars: list[Bar]
    width: int
    height: int
    # The value at the top of the scale: the busiest day rounded up to 1, 2 or 5 × 10ⁿ.
    scale_top: int

    @property
    def requests(self) -> int:
        return sum(day.requests for day in self.days)

    @property
    def errors(self) -> int:
        return sum(day.errors for day in self.days)

    @property
    def error_percent(self) -> str:
        """The error rate in words: one decimal under 10 % (0.4 % is not 0 %), whole above."""
        if not self.errors:
            return "0"
        percent = 100 * self.errors / self.requests
        return f"{percent:.1f}" if percent < 10 else f"{percent:.0f}"

    @property
    def summary(self) -> str:
        noun = "request" if self.requests == 1 else "requests"
        return (
            f"{self.requests:,} {noun} in the last {len(self.days)} days, "
            f"{self.error_percent} % errors"
        )


@dataclass(frozen=True)
class ErrorCount:
    """How often the key met one error code (and, for insufficient_scope, which scope)."""

    code: str
    scope: str
    requests: int

    @property
    def fix(self) -> str:
        """What the page offers: "scopes", "allowlist", "limit" or "" (nothing to change here)."""
        # ErrorCode members are strings: the stored code looks its member up directly.
        return ERROR_FIXES.get(self.code, "")


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


def scale_top(busiest: int) -> int:
    """Return the smallest 1, 2 or 5 × 10ⁿ at or above `busiest`: a top value people can read."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if busiest <= step * magnitude:
                return step * magnitude
        magnitude *= 10


def tick_label(day: date, today: date) -> str:
    """Return the axis label of `day`: "Today", a weekly date counted back from today, or ""."""
    back = (today - day).days
    if back == 0:
        return "Today"
    return f"{day.day} {day:%b}" if back % TICK_DAYS == 0 else ""


def usage_chart(days: list[DayUsage]) -> UsageChart:
    """Lay out one bar per day, scaled so the scale's top value fills the chart's height."""
    slot = CHART_WIDTH // len(days)
    top = scale_top(max((day.requests for day in days), default=0))
    today = days[-1].day
    bars = []
    for index, day in enumerate(days):
        error_height = CHART_HEIGHT * day.errors / top
        ok_height = CHART_HEIGHT * (day.requests - day.errors) / top
        bars.append(
            Bar(
                usage=day,
                x=index * slot + BAR_GAP // 2,
                width=slot - BAR_GAP,
                ok_y=CHART_HEIGHT - ok_height,
                ok_height=ok_height,
                error_y=CHART_HEIGHT - ok_height - error_height,
                error_height=error_height,
                tick=tick_label(day.day, today),
            )
        )
    return UsageChart(days=days, bars=bars, width=CHART_WIDTH, height=CHART_HEIGHT, scale_top=top)


def top_errors(
    key: ApiKey, days: int = CHART_DAYS, now: datetime | None = None, limit: int = TOP_ERRORS
) -> list[ErrorCount]:
    """Return the error codes the key met most in the chart's days, most frequent first.

    insufficient_scope counts per scope the endpoint needed, so the page can say which to add.
    """
    today = (now or timezone.now()).astimezone(UTC).date()
    start = datetime.combine(today - timedelta(days=days - 1), datetime.min.time(), tzinfo=UTC)
    rows = (
        key.usage.filter(hour__gte=start, status_class__gte=4)
        .values("error_code", "scope")
        .annotate(total=Sum("requests"))
    )
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        code = row["error_code"] or "other"
        scope = row["scope"] if code == ErrorCode.INSUFFICIENT_SCOPE else ""
        counts[(code, scope)] = counts.get((code, scope), 0) + row["total"]
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [ErrorCount(code, scope, total) for (code, scope), total in ranked[:limit]]


def scopes_in_use(key: ApiKey) -> list[ScopeUse]:
    """Return each granted scope with when the key last used it (None: never)."""
    last_used = dict(key.scope_uses.values_list("scope", "last_used_at"))
    return [ScopeUse(scope=scope, last_used_at=last_used.get(scope)) for scope in key.scope_list]
