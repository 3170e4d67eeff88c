"""A key's own page: who may see it, what it shows about the key's use, and read-only states."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Membership
from apikeys.insight import daily_usage
from apikeys.models import ApiKey, KeyClient, KeyScopeUse, KeyUsage
from apikeys.services import create_key, revoke_key
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def new_key(membership: Membership, **fields: object) -> ApiKey:
    fields.setdefault("scopes", ["calls:read", "calls:write", "contacts:read"])
    return create_key(
        account=membership.account, user=membership.user, name="CRM sync", **fields
    ).api_key


def page_text(response: HttpResponse) -> str:
    """The page as a reader sees it: tags dropped, spaces (and no-break spaces) collapsed."""
    return " ".join(re.sub(r"<[^>]+>", "", response.content.decode()).split())


def detail_url(api_key: ApiKey) -> str:
    return reverse("apikeys:detail", args=[api_key.pk])


def usage(api_key: ApiKey, hour: datetime, requests: int, status_class: int = 2) -> KeyUsage:
    return KeyUsage.objects.create(
        api_key=api_key,
        hour=hour,
        scope="calls:read",
        status_class=status_class,
        error_code="" if status_class == 2 else f"e{status_class}",
        requests=requests,
    )


@pytest.mark.parametrize("role", ["owner", "admin_member"])
def test_owners_and_admins_see_the_key_and_its_actions(
    role: str, owner: Membership, request: pytest.FixtureRequest
) -> None:
    api_key = new_key(owner, description="Pushes contacts nightly")
    response = client_for(request.getfixturevalue(role)).get(detail_url(api_key))
    assertContains(response, "<h1>CRM sync</h1>", html=True)
    assertContains(response, "Pushes contacts nightly")
    assertContains(response, api_key.masked_key)
    assertContains(response, "Expires in 90 days")
    for action in ("Edit", "Roll", "Revoke"):
        assertContains(
            response,
            f'{action}<span class="visually-hidden"> CRM sync</span>',
        )


def test_members_read_the_page_without_actions(owner: Membership, member: Membership) -> None:
    api_key = new_key(owner)
    response = client_for(member).get(detail_url(api_key))
    assertContains(response, "<h1>CRM sync</h1>", html=True)
    assertNotContains(response, reverse("apikeys:revoke", args=[api_key.pk]))
    assertNotContains(response, reverse("apikeys:roll", args=[api_key.pk]))
    assertNotContains(response, reverse("apikeys:edit", args=[api_key.pk]))


def test_another_accounts_key_and_unknown_ids_are_not_found(
    owner: Membership, other_owner: Membership
) -> None:
    api_key = new_key(other_owner)
    client = client_for(owner)
    assert client.get(detail_url(api_key)).status_code == 404
    assert client.get(reverse("apikeys:detail", args=[999_999])).status_code == 404


def test_a_revoked_key_keeps_a_read_only_page(owner: Membership) -> None:
    api_key = new_key(owner)
    revoke_key(key=api_key, user=owner.user)
    response = client_for(owner).get(detail_url(api_key))
    assertContains(response, "This key was revoked")
    assertNotContains(response, reverse("apikeys:revoke", args=[api_key.pk]))
    assertNotContains(response, reverse("apikeys:edit", args=[api_key.pk]))


def test_an_expired_key_keeps_a_read_only_page(owner: Membership) -> None:
    with time_machine.travel(NOW - timedelta(days=100), tick=False):
        api_key = new_key(owner)
    with time_machine.travel(NOW, tick=False):
        response = client_for(owner).get(detail_url(api_key))
    assertContains(response, "This key expired")
    assertNotContains(response, reverse("apikeys:roll", args=[api_key.pk]))
    assertNotContains(response, reverse("apikeys:revoke", args=[api_key.pk]))


def test_the_chart_summarises_thirty_days_and_has_a_table(owner: Membership) -> None:
    api_key = new_key(owner)
    usage(api_key, NOW.replace(hour=9), 1_000)
    usage(api_key, NOW.replace(hour=10), 200)
    usage(api_key, NOW - timedelta(days=3), 24, status_class=4)
    usage(api_key, NOW - timedelta(days=3), 12, status_class=5)
    # Older than 30 days: not counted.
    usage(api_key, NOW - timedelta(days=30), 5_000)
    with time_machine.travel(NOW, tick=False):
        response = client_for(owner).get(detail_url(api_key))
    assertContains(response, "1,236 requests in the last 30 days, 2.9 % errors")
    assertContains(response, '<figure class="usage-chart"')
    assertContains(
        response,
        '<tr><th scope="row"><time datetime="2026-11-30">30 Nov 2026</time></th>'
        "<td>1,200</td><td>0</td></tr>",
        html=True,
    )
    assertContains(
        response,
        '<tr><th scope="row"><time datetime="2026-11-27">27 Nov 2026</time></th>'
        "<td>36</td><td>36</td></tr>",
        html=True,
    )
    assertContains(response, "Show as a table")


def test_daily_usage_has_one_entry_per_day_oldest_first(owner: Membership) -> None:
    api_key = new_key(owner)
    usage(api_key, NOW - timedelta(days=29), 7, status_class=4)
    days = daily_usage(api_key, now=NOW)
    assert len(days) == 30
    assert days[0].day == (NOW - timedelta(days=29)).date()
    assert days[-1].day == NOW.date()
    assert (days[0].requests, days[0].errors) == (7, 7)
    assert sum(day.requests for day in days) == 7


def test_a_key_never_used_says_so(owner: Membership) -> None:
    response = client_for(owner).get(detail_url(new_key(owner)))
    assertContains(response, "No requests yet")
    assertNotContains(response, '<figure class="usage-chart"')
    assertContains(response, "Never used")


def test_times_read_in_words_for_a_week_then_as_dates(owner: Membership) -> None:
    with time_machine.travel(NOW - timedelta(days=9), tick=False):
        api_key = new_key(owner)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=NOW - timedelta(seconds=20))
    KeyScopeUse.objects.create(
        api_key=api_key, scope="calls:read", last_used_at=NOW - timedelta(days=2)
    )
    with time_machine.travel(NOW, tick=False):
        text = page_text(client_for(owner).get(detail_url(api_key)))
    assert "Created21 Nov 2026 by owner@acme.test" in text
    assert "Last usedJust now" in text
    assert "calls:read: 2 days ago" in text


def test_clients_lists_the_ten_most_recent(owner: Membership) -> None:
    api_key = new_key(owner)
    for number in range(12):
        KeyClient.objects.create(
            api_key=api_key,
            ip_address=f"203.0.113.{number + 1}",
            first_seen=NOW - timedelta(days=5),
            last_seen=NOW - timedelta(hours=12 - number),
            user_agent=f"crm-sync/{number}",
            requests=number * 10,
        )
    api_key.last_used_at = NOW - timedelta(hours=1)
    api_key.save()
    with time_machine.travel(NOW, tick=False):
        response = client_for(owner).get(detail_url(api_key))
    for number in range(2, 12):
        assertContains(response, f"<code>203.0.113.{number + 1}</code>", html=True)
    assertNotContains(response, "<code>203.0.113.1</code>", html=True)
    assertNotContains(response, "<code>203.0.113.2</code>", html=True)
    # The most recent client is named next to "Last used".
    assertContains(response, "from 203.0.113.12 (crm-sync/11)")


def test_permissions_in_use_say_when_each_scope_was_last_used(owner: Membership) -> None:
    api_key = new_key(owner)
    KeyScopeUse.objects.create(
        api_key=api_key, scope="contacts:read", last_used_at=NOW - timedelta(hours=2)
    )
    with time_machine.travel(NOW, tick=False):
        response = client_for(owner).get(detail_url(api_key))
    text = page_text(response)
    assert "calls:write: never used" in text
    assert "contacts:read: 2 hours ago" in text


def test_the_page_lists_the_keys_events_and_links_to_its_activity(owner: Membership) -> None:
    api_key = new_key(owner)
    response = client_for(owner).get(detail_url(api_key))
    assertContains(response, "Created a live key with calls:read, calls:write, contacts:read")
    assertContains(response, f'href="{reverse("activity:index")}?key={api_key.pk}"')


def test_the_list_links_each_name_to_its_page(owner: Membership, owner_client: Client) -> None:
    api_key = new_key(owner)
    revoked = create_key(
        account=owner.account, user=owner.user, name="Old", scopes=["calls:read"]
    ).api_key
    revoke_key(key=revoked, user=owner.user)
    response = owner_client.get(reverse("apikeys:index"), {"inactive": 1})
    # The whole name is the link's text and its tooltip, however the list cuts it short.
    for key in (api_key, revoked):
        assertContains(
            response,
            f'<a href="{detail_url(key)}" class="key-name__link" title="{key.name}">{key.name}</a>',
            html=True,
        )


def test_the_key_page_shows_least_privilege_hints(
    owner_client: Client, owner: Membership, member_client: Client
) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=40)):
        created = create_key(
            account=owner.account,
            user=owner.user,
            name="Old Key",
            scopes=["calls:read", "calls:write"],
            expiration="never",
        )
    KeyScopeUse.objects.create(
        api_key=created.api_key, scope="calls:read", last_used_at=timezone.now()
    )
    ApiKey.objects.filter(pk=created.api_key.pk).update(last_used_at=timezone.now())
    url = reverse("apikeys:detail", args=[created.api_key.pk])
    page = owner_client.get(url)
    assertContains(page, "1 of 2 scopes unused for 30 days")
    assertContains(page, "?drop=calls:write")
    assertNotContains(member_client.get(url), "?drop=")


def test_a_new_keys_mask_ends_with_the_keys_own_last_four_characters(
    owner: Membership, owner_client: Client
) -> None:
    created = create_key(
        account=owner.account, user=owner.user, name="CRM sync", scopes=["calls:read"]
    )
    tail = created.secret[-4:]
    for url in (reverse("apikeys:index"), detail_url(created.api_key)):
        assertContains(owner_client.get(url), f"{created.secret[:13]}…{tail}")


def test_a_key_masked_the_old_way_keeps_its_mask(owner: Membership, owner_client: Client) -> None:
    api_key = new_key(owner)
    # Keys created before the mask ended with the whole key's tail stored the random part's.
    ApiKey.objects.filter(pk=api_key.pk).update(masked_key="vxp_live_AbCd…wxyz")
    assertContains(owner_client.get(detail_url(api_key)), "vxp_live_AbCd…wxyz")


# A key that ended: why, and a way on ------------------------------------------------------------


CREATE = reverse("apikeys:create")


def test_a_revoked_keys_page_says_why_and_offers_a_key_like_it(
    owner: Membership, owner_client: Client, member: Membership
) -> None:
    api_key = new_key(owner)
    revoke_key(key=api_key, user=owner.user)
    text = page_text(owner_client.get(detail_url(api_key)))
    assert "This key was revoked" in text
    assert "It can't be used again: the API refuses every request made with it" in text
    assert "Create a key like this" in text
    assert "Once an application calls the API" not in text
    assertContains(owner_client.get(detail_url(api_key)), f'hx-get="{CREATE}?like={api_key.pk}"')
    assert "Create a key like this" not in page_text(client_for(member).get(detail_url(api_key)))


def test_an_expired_keys_page_says_why_and_offers_a_key_like_it(
    owner: Membership, owner_client: Client
) -> None:
    with time_machine.travel(NOW, tick=False) as clock:
        api_key = new_key(owner, expiration="30")
        clock.move_to(NOW + timedelta(days=31))
        owner_client.force_login(owner.user)
        text = page_text(owner_client.get(detail_url(api_key)))
    assert "This key expired on 30 Dec 2026, 12:00 UTC." in text
    assert "an expired key can't be extended" in text
    assert "Create a key like this" in text


@pytest.mark.parametrize(
    ("fields", "expiration", "expires_on"),
    [
        ({"expiration": "30"}, "30", None),
        ({"expiration": "never"}, "never", None),
        ({"expiration": "custom", "expires_on": (NOW + timedelta(days=10)).date()}, "custom", 10),
    ],
    ids=["preset", "never", "custom"],
)
def test_create_a_key_like_this_fills_in_every_field(
    owner: Membership,
    owner_client: Client,
    fields: dict[str, object],
    expiration: str,
    expires_on: int | None,
) -> None:
    with time_machine.travel(NOW, tick=False):
        api_key = new_key(
            owner,
            description="Pushes contacts nightly",
            scopes=["calls:read", "contacts:write"],
            environment="test",
            allowed_ips="203.0.113.0/24 198.51.100.7",
            **fields,
        )
        revoke_key(key=api_key, user=owner.user)
        response = owner_client.get(CREATE, {"like": api_key.pk})
    content = response.content.decode()
    assert re.search(r'name="name" value="CRM sync"', content)
    assert 'value="Pushes contacts nightly"' in content
    assert re.findall(r'name="scopes" value="([a-z:]+)"[^>]*\bchecked\b', content) == [
        "calls:read",
        "contacts:write",
    ]
    assert re.search(r'value="test"[^>]*checked', content)
    assert f'<option value="{expiration}" data-expires-text' in content
    assert re.search(rf'<option value="{expiration}"[^>]*selected', content)
    if expires_on is not None:
        assert f'value="{(NOW + timedelta(days=expires_on)).date():%Y-%m-%d}"' in content
    assert ">\n203.0.113.0/24\n198.51.100.7</textarea>" in content


@pytest.mark.parametrize("like", ["x", "99999999999999999999999", "-1", "١"])
def test_a_bad_like_opens_a_blank_form(owner_client: Client, like: str) -> None:
    response = owner_client.get(CREATE, {"like": like})
    assert response.status_code == 200
    assertNotContains(response, 'name="name" value=')


def test_a_key_of_another_account_is_not_copied(
    owner_client: Client, other_owner: Membership
) -> None:
    other = create_key(
        account=other_owner.account, user=other_owner.user, name="Secret", scopes=["calls:read"]
    ).api_key
    assertNotContains(owner_client.get(CREATE, {"like": other.pk}), "Secret")


# The revoke dialog: what it would stop ----------------------------------------------------------


def revoke_url(api_key: ApiKey) -> str:
    return reverse("apikeys:revoke", args=[api_key.pk])


def test_revoke_shows_the_last_use_and_clients_and_suggests_rolling_a_key_in_use(
    owner: Membership, owner_client: Client
) -> None:
    api_key = new_key(owner)
    now = timezone.now()
    for address in ("198.51.100.7", "203.0.113.9"):
        KeyClient.objects.create(
            api_key=api_key, ip_address=address, first_seen=now, last_seen=now, requests=3
        )
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now - timedelta(hours=2))
    text = page_text(owner_client.get(revoke_url(api_key)))
    assert "Last used 2 hours ago, from 2 clients." in text
    assert "It was used in the last 24 hours." in text
    assertContains(owner_client.get(revoke_url(api_key)), "Roll instead")

    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now - timedelta(days=2))
    text = page_text(owner_client.get(revoke_url(api_key)))
    assert "Last used 2 days ago, from 2 clients." in text
    assert "Roll instead" not in text


def test_revoke_says_when_a_key_was_never_used(owner: Membership, owner_client: Client) -> None:
    text = page_text(owner_client.get(revoke_url(new_key(owner))))
    assert "Never used: no application has called the API with it." in text
    assert "Roll instead" not in text
