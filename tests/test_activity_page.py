"""The activity page's readability: short user agents (whole on demand), key names that link to
their page, masked keys kept in one piece, and dates for events older than a day."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from accounts.models import Membership
from activity.events import RequestContext
from activity.summaries import short_user_agent
from apikeys.services import create_key

pytestmark = pytest.mark.django_db

ACTIVITY = reverse("activity:index")
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/156.0.0.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("user_agent", "short"),
    [
        (CHROME_LINUX, "Chrome 156 · Linux"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/120.0 Safari/537.36 Edg/120.0.2210.91",
            "Edge 120 · Windows",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
            "Safari 17 · macOS",
        ),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
            "Safari 17 · iOS",
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
            "Firefox 126 · Linux",
        ),
        ("curl/8.5.0", "curl 8.5"),
        ("python-requests/2.32.3", "python-requests 2.32"),
        ("something else", "something else"),
    ],
)
def test_user_agents_read_as_browser_and_system(user_agent: str, short: str) -> None:
    assert short_user_agent(user_agent) == short


def made_at(owner: Membership, when: datetime, name: str) -> int:
    with time_machine.travel(when, tick=False):
        return create_key(
            account=owner.account,
            user=owner.user,
            name=name,
            scopes=["calls:read"],
            context=RequestContext(ip_address="198.51.100.4", user_agent=CHROME_LINUX),
        ).api_key.pk


def rows(client: Client) -> list[str]:
    with time_machine.travel(NOW, tick=False):
        content = client.get(ACTIVITY).content.decode()
    body = content[content.index("<tbody>") : content.index("</tbody>")]
    return re.findall(r"<tr>.*?</tr>", body, re.S)


def test_the_agent_is_short_with_the_whole_string_on_demand(
    member_client: Client, owner: Membership
) -> None:
    made_at(owner, NOW - timedelta(hours=2), "CRM sync")
    [row] = rows(member_client)
    assert (
        '<details class="activity-table__agent muted small"><summary>'
        '<span class="visually-hidden">User agent: </span>Chrome 156 · Linux</summary>'
        f"{CHROME_LINUX}</details>"
    ) in row


def test_key_names_link_to_the_key_and_masked_keys_do_not_wrap(
    member_client: Client, owner: Membership
) -> None:
    pk = made_at(owner, NOW - timedelta(hours=2), "CRM sync")
    [row] = rows(member_client)
    assert f'<a href="{reverse("apikeys:detail", args=[pk])}">CRM sync</a>' in row
    assert '<code class="small activity-table__masked">vxp_live_' in row


def test_events_older_than_a_day_show_their_date_and_time(
    member_client: Client, owner: Membership
) -> None:
    made_at(owner, NOW - timedelta(hours=23, minutes=59), "Recent")
    made_at(owner, NOW - timedelta(days=1), "Yesterday")
    made_at(owner, NOW - timedelta(days=3, hours=2, minutes=15), "Older")
    when = [
        re.search(r'activity-table__when">.*?<time [^>]*>([^<]+)</time>', row).group(1)
        for row in rows(member_client)
    ]
    assert when == ["23 hours ago", "29 Nov 2026, 12:00", "27 Nov 2026, 09:45"]


def test_every_member_sees_the_same_page(member_client: Client, owner: Membership) -> None:
    made_at(owner, NOW - timedelta(hours=1), "CRM sync")
    with time_machine.travel(NOW, tick=False):
        assertContains(member_client.get(ACTIVITY), "Chrome 156 · Linux")
