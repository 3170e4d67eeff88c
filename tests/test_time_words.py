"""The `since` filter: words up to a week, then the date; the exact time in the tooltip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from apikeys.templatetags.apikeys_tags import since

NOW = datetime(2026, 11, 30, 5, 50, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("ago", "words"),
    [
        (timedelta(seconds=-30), "Just now"),  # a little ahead of this server's clock
        (timedelta(0), "Just now"),
        (timedelta(seconds=59), "Just now"),
        (timedelta(seconds=60), "1 minute ago"),
        (timedelta(seconds=119), "1 minute ago"),
        (timedelta(minutes=2), "2 minutes ago"),
        (timedelta(minutes=59, seconds=59), "59 minutes ago"),
        (timedelta(hours=1), "1 hour ago"),
        (timedelta(hours=23, minutes=59, seconds=59), "23 hours ago"),
        (timedelta(days=1), "1 day ago"),
        (timedelta(days=2), "2 days ago"),
        (timedelta(days=7, seconds=-1), "6 days ago"),
        (timedelta(days=7), "23 Nov 2026"),
        (timedelta(days=400), "26 Oct 2025"),
        (timedelta(minutes=-5), "30 Nov 2026"),  # the future is not "Just now"
    ],
)
def test_words_at_the_boundaries(ago: timedelta, words: str) -> None:
    moment = NOW - ago
    with time_machine.travel(NOW, tick=False):
        html = since(moment)
    exact = f"{moment:%-d %b %Y, %H:%M:%S} UTC"
    assert html == f'<time datetime="{moment.isoformat()}" title="{exact}">{words}</time>'


def test_nothing_for_no_moment() -> None:
    assert since(None) == ""
