"""The key page's usage chart (apikeys.insight and templates/apikeys/_usage_chart.html): dated
ticks, the scale's top value, a focusable day per bar, the top errors and what to do about them."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.template.loader import render_to_string

from accounts.models import Membership
from apikeys.insight import (
    DayUsage,
    daily_usage,
    scale_top,
    tick_label,
    top_errors,
    usage_chart,
)
from apikeys.models import ApiKey, KeyUsage
from apikeys.services import create_key

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def new_key(membership: Membership) -> ApiKey:
    return create_key(
        account=membership.account,
        user=membership.user,
        name="CRM sync",
        scopes=["calls:read", "contacts:read"],
    ).api_key


def count(api_key: ApiKey, hour: datetime, requests: int, code: str = "", scope: str = "") -> None:
    status_class = 2 if not code else (5 if code == "internal_error" else 4)
    KeyUsage.objects.create(
        api_key=api_key,
        hour=hour,
        scope=scope,
        status_class=status_class,
        error_code=code,
        requests=requests,
    )


def rendered(api_key: ApiKey, *, can_manage: bool = True) -> str:
    with time_machine.travel(NOW, tick=False):
        chart = usage_chart(daily_usage(api_key))
        html = render_to_string(
            "apikeys/_usage_chart.html", {"key": api_key, "chart": chart, "can_manage": can_manage}
        )
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.mark.parametrize(
    ("busiest", "top"),
    [(0, 1), (1, 1), (3, 5), (10, 10), (11, 20), (150, 200), (1_001, 2_000)],
)
def test_the_scale_tops_at_one_two_or_five_times_a_power_of_ten(busiest: int, top: int) -> None:
    assert scale_top(busiest) == top


def test_ticks_are_weekly_back_from_today() -> None:
    today = date(2026, 11, 30)
    labels = [tick_label(today - timedelta(days=back), today) for back in range(29, -1, -1)]
    assert [label for label in labels if label] == ["2 Nov", "9 Nov", "16 Nov", "23 Nov", "Today"]


@pytest.mark.parametrize(
    ("errors", "words"), [(0, "0 %"), (4, "0.4 %"), (99, "9.9 %"), (100, "10 %"), (126, "13 %")]
)
def test_error_rates_under_ten_percent_keep_one_decimal(errors: int, words: str) -> None:
    chart = usage_chart([DayUsage(day=date(2026, 11, 30), requests=1_000, errors=errors)])
    assert chart.summary == f"1,000 requests in the last 1 days, {words} errors"


def test_the_chart_has_its_top_value_ticks_and_a_day_per_bar(owner: Membership) -> None:
    api_key = new_key(owner)
    count(api_key, NOW.replace(hour=9), 1_180)
    count(api_key, NOW - timedelta(days=3), 20, "rate_limited", "calls:read")
    text = rendered(api_key)
    assert text.startswith("2,000 ")  # the scale's top value, over the bars
    assert "Today, 30 Nov : 1,180 requests, 0 errors" in text
    assert "27 Nov : 20 requests, 20 errors" in text
    assert "1 Nov : 0 requests, 0 errors" in text
    assert " 2 Nov 9 Nov 16 Nov 23 Nov Today " in text
    assert "scale 0 to 2,000 requests a day" in text


def test_one_tab_stop_for_the_days_on_today(owner: Membership) -> None:
    api_key = new_key(owner)
    count(api_key, NOW.replace(hour=9), 5)
    with time_machine.travel(NOW, tick=False):
        html = render_to_string(
            "apikeys/_usage_chart.html",
            {"key": api_key, "chart": usage_chart(daily_usage(api_key)), "can_manage": True},
        )
    days = re.findall(r'<li class="usage-chart__day" tabindex="(-?\d)">', html)
    assert days == ["-1"] * 29 + ["0"]


def test_top_errors_say_what_each_needs_and_where_to_fix_it(owner: Membership) -> None:
    owner.account.api_rate_limit = 25
    owner.account.save()
    api_key = new_key(owner)
    hour = NOW - timedelta(days=2)
    count(api_key, hour, 12, "insufficient_scope", "campaigns:read")
    count(api_key, hour, 3, "insufficient_scope", "webhooks:manage")
    count(api_key, hour, 7, "ip_not_allowed", "calls:read")
    count(api_key, hour, 5, "rate_limited", "calls:read")
    count(api_key, hour, 2, "internal_error", "calls:read")
    count(api_key, NOW - timedelta(days=40), 99, "ip_not_allowed")  # before the chart's days
    with time_machine.travel(NOW, tick=False):
        errors = top_errors(api_key)
    assert [(error.code, error.scope, error.requests, error.fix) for error in errors] == [
        ("insufficient_scope", "campaigns:read", 12, "scopes"),
        ("ip_not_allowed", "", 7, "allowlist"),
        ("rate_limited", "", 5, "limit"),
        ("insufficient_scope", "webhooks:manage", 3, "scopes"),
    ]
    text = rendered(api_key)
    assert "Top errors insufficient_scope × 12 (needs campaigns:read ) → Edit scopes" in text
    assert "ip_not_allowed × 7 → Edit allowlist" in text
    assert "rate_limited × 5 → the limit is 25 requests per second for each key" in text


def test_members_see_the_errors_without_edit_links(owner: Membership) -> None:
    api_key = new_key(owner)
    count(api_key, NOW - timedelta(days=1), 4, "insufficient_scope", "campaigns:read")
    text = rendered(api_key, can_manage=False)
    assert "insufficient_scope × 4 (needs campaigns:read )" in text
    assert "Edit" not in text


def test_no_requests_no_chart(owner: Membership) -> None:
    text = rendered(new_key(owner))
    assert "No requests yet" in text
    assert "Top errors" not in text
