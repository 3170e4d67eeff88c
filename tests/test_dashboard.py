"""The dashboard: a greeting, the account's figures and latest key activity, and its standing."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from pytest_django.asserts import assertContains

from accounts.dashboard import RECENT_EVENTS, dashboard_for
from accounts.models import Account, Membership, User
from apikeys.services import create_key, edit_key, revoke_key
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

CONNECT = "Create an API key under"


def text_of(response) -> str:  # noqa: ANN001
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def new_key(membership: Membership, name: str):  # noqa: ANN201
    return create_key(
        account=membership.account, user=membership.user, name=name, scopes=["calls:read"]
    ).api_key


def test_greets_by_first_name_or_else_email(owner: Membership, owner_client: Client) -> None:
    assertContains(owner_client.get("/"), "Welcome back, owner@acme.test.")
    User.objects.filter(pk=owner.user_id).update(full_name="Ada Lovelace")
    assertContains(owner_client.get("/"), "Welcome back, Ada.")


def test_shows_key_count_credits_and_the_way_to_create(
    owner: Membership, owner_client: Client
) -> None:
    new_key(owner, "One")
    revoke_key(key=new_key(owner, "Two"), user=owner.user)
    Account.objects.filter(pk=owner.account_id).update(credit_balance=12_500)
    text = text_of(owner_client.get("/"))
    assert "API keys 1 of 10" in text
    assert "Credit balance 12,500 credits" in text
    assert CONNECT in text


def test_lists_the_most_recent_key_activity(owner: Membership, owner_client: Client) -> None:
    start = timezone.now() - timedelta(days=1)
    with time_machine.travel(start, tick=False):
        keys = [new_key(owner, f"Key {n}") for n in range(3)]
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        edit_key(
            key=keys[0], user=owner.user, name="Renamed", description="", scopes=["calls:read"]
        )
    with time_machine.travel(start + timedelta(hours=2), tick=False):
        revoke_key(key=keys[1], user=owner.user)
    response = owner_client.get("/")
    text = text_of(response)
    assert "Revoked Key 1 : Revoked 22 hours ago by owner@acme.test" in text
    assert "Edited Renamed : Edited name: “Key 0” → “Renamed” 23 hours ago" in text
    assert text.index("Revoked Key 1") < text.index("Edited Renamed")
    assert text.count(" ago by owner@acme.test") == RECENT_EVENTS
    assertContains(response, "All activity")


def test_no_activity_yet_says_what_will_appear(owner_client: Client) -> None:
    response = owner_client.get("/")
    assertContains(response, "No key activity yet.")
    assertContains(response, "API keys</h2>")


def test_suspended_account_says_what_is_wrong_and_what_to_do(suspended_owner: Membership) -> None:
    response = client_for(suspended_owner).get("/")
    text = text_of(response)
    assert "Initech is suspended" in text
    assert "the VoxPria API refuses the account's API keys and no new keys can be created" in text
    assert "Contact VoxPria support to restore the account." in text
    assert CONNECT not in text
    assert 'href="mailto:support@voxpria.com?subject=Restore%20the%20account%20Initech"' in (
        response.content.decode()
    )


def test_an_account_in_good_standing_offers_no_support_link(owner_client: Client) -> None:
    assert "mailto:" not in owner_client.get("/").content.decode()


def test_a_member_learns_why_they_cannot_create_keys(member_client: Client) -> None:
    text = text_of(member_client.get("/"))
    assert "Your role can't manage API keys." in text
    assert "ask an owner or admin" in text
    assert CONNECT not in text


def test_a_full_account_says_so(owner: Membership, owner_client: Client) -> None:
    Account.objects.filter(pk=owner.account_id).update(api_key_limit=1)
    new_key(owner, "Only")
    text = text_of(owner_client.get("/"))
    assert "Key limit reached. This account uses 1 of 1 keys." in text


def test_the_figures_cost_two_queries_however_many_events(
    owner: Membership,
    django_assert_num_queries,  # noqa: ANN001
) -> None:
    for n in range(8):
        new_key(owner, f"Key {n}")
    with django_assert_num_queries(2):
        dashboard = dashboard_for(owner)
    assert dashboard.key_count == 8
    assert [event.api_key.name for event, _ in dashboard.recent_events] == [
        f"Key {n}" for n in range(7, 7 - RECENT_EVENTS, -1)
    ]
