"""The key list's words: a label on every value (for the card layout), statuses, dates, scopes."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from accounts.models import Membership
from apikeys.models import ApiKey
from apikeys.scopes import SCOPE_NAMES
from apikeys.services import create_key, revoke_key

pytestmark = pytest.mark.django_db

INDEX = reverse("apikeys:index")
NOW = datetime(2026, 11, 30, 5, 50, tzinfo=UTC)


def row_text(response, name: str) -> str:  # noqa: ANN001
    """The visible text of the key's row (or card), tags removed and spaces collapsed."""
    rows = re.findall(r'<tr class="key-row[^"]*"[^>]*>.*?</tr>', response.content.decode(), re.S)
    [row] = [row for row in rows if f'title="{name}"' in row]
    return " ".join(re.sub(r"<[^>]+>", " ", row).split())


def create_at(membership: Membership, when: datetime, name: str, **kwargs: object) -> ApiKey:
    kwargs.setdefault("scopes", ["calls:read"])
    with time_machine.travel(when, tick=False):
        return create_key(
            account=membership.account, user=membership.user, name=name, **kwargs
        ).api_key


def get_list(client: Client, membership: Membership) -> object:
    with time_machine.travel(NOW, tick=False):
        client.force_login(membership.user)
        # The expired and revoked keys open (as without JavaScript), so their rows are there too.
        return client.get(INDEX, {"inactive": 1})


def test_every_value_of_an_active_key_is_labelled(owner_client: Client, owner: Membership) -> None:
    key = create_at(owner, NOW - timedelta(days=2), "CRM Connector")
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=NOW - timedelta(hours=3))
    response = get_list(owner_client, owner)
    assert row_text(response, "CRM Connector") == (
        f"CRM Connector {key.masked_key} Created 2 days ago by owner@acme.test Scopes calls:read "
        "Last used 3 hours ago Expiry Expires in 88 days "
        "Edit CRM Connector Roll CRM Connector Revoke CRM Connector "
        "⋯ Actions for CRM Connector Edit Roll Revoke"
    )


def test_a_key_never_used_says_so_under_its_label(owner_client: Client, owner: Membership) -> None:
    create_at(owner, NOW - timedelta(seconds=30), "Fresh")
    response = get_list(owner_client, owner)
    assert "Created Just now by owner@acme.test" in row_text(response, "Fresh")
    assert "Last used Never" in row_text(response, "Fresh")


def test_revoked_key_has_a_status_labelled_dates_and_keeps_last_used(
    owner_client: Client, owner: Membership
) -> None:
    key = create_at(owner, NOW - timedelta(days=30), "Old Key", scopes=["contacts:read"])
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=NOW - timedelta(days=4))
    with time_machine.travel(NOW - timedelta(hours=5), tick=False):
        revoke_key(key=key, user=owner.user)
    response = get_list(owner_client, owner)
    assert row_text(response, "Old Key") == (
        f"Old Key Revoked {key.masked_key} "
        "Created 31 Oct 2026 by owner@acme.test Scopes contacts:read Last used 4 days ago "
        "Revoked 5 hours ago by owner@acme.test"
    )
    assertContains(response, '<tr class="key-row key-row--inactive"', count=1)


def test_expired_key_has_a_status_and_says_when_it_expired(
    owner_client: Client, owner: Membership
) -> None:
    key = create_at(owner, NOW - timedelta(days=31), "Lapsed", expiration="30")
    response = get_list(owner_client, owner)
    assert row_text(response, "Lapsed") == (
        f"Lapsed Expired {key.masked_key} "
        "Created 30 Oct 2026 by owner@acme.test Scopes calls:read Last used Never Expired 1 day ago"
    )


def test_dates_carry_the_exact_time_in_a_tooltip(owner_client: Client, owner: Membership) -> None:
    create_at(owner, NOW - timedelta(days=10), "Older")
    response = get_list(owner_client, owner)
    assertContains(
        response,
        '<time datetime="2026-11-20T05:50:00+00:00" title="20 Nov 2026, 05:50:00 UTC">'
        "20 Nov 2026</time>",
        html=True,
    )


def test_many_scopes_show_three_and_fold_the_rest(owner_client: Client, owner: Membership) -> None:
    create_at(owner, NOW - timedelta(days=1), "Everything", scopes=list(SCOPE_NAMES))
    response = get_list(owner_client, owner)
    text = row_text(response, "Everything")
    first, rest = list(SCOPE_NAMES[:3]), list(SCOPE_NAMES[3:])
    assert f"Scopes {' '.join(first)} +{len(rest)} more scopes {' '.join(rest)} Last used" in text


def test_long_names_are_whole_in_the_link_and_its_tooltip(
    owner_client: Client, owner: Membership
) -> None:
    name = "CRM Connector – Salesforce production, EU region, owned by the sales engineering team"
    create_at(owner, NOW - timedelta(days=1), name)
    response = get_list(owner_client, owner)
    assertContains(response, f'title="{name}">{name}</a>')
