"""Least-privilege hints in the key list, the hygiene summary, and the Edit they lead to."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Membership
from apikeys.hints import attach_idle_scopes, hygiene, idle_scopes_for
from apikeys.models import ApiKey, KeyScopeUse
from apikeys.services import create_key
from tests.support.apikeys import INDEX
from tests.support.htmx import HTMX

pytestmark = pytest.mark.django_db

START = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
HINT = "1 of 2 scopes unused for 30 days"
SUMMARY = "Keys that need attention"


def key_made(
    membership: Membership,
    *,
    days_ago: float,
    name: str = "Dialer",
    scopes: tuple[str, ...] = ("calls:read", "calls:write"),
    expiration: str = "365",
) -> ApiKey:
    """A key created `days_ago` before START; it is used now (so only its scopes are idle)."""
    with time_machine.travel(START - timedelta(days=days_ago), tick=False):
        api_key = create_key(
            account=membership.account,
            user=membership.user,
            name=name,
            scopes=list(scopes),
            expiration=expiration,
        ).api_key
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=START)
    api_key.refresh_from_db()
    return api_key


def used(api_key: ApiKey, scope: str, days_ago: float) -> None:
    KeyScopeUse.objects.create(
        api_key=api_key, scope=scope, last_used_at=START - timedelta(days=days_ago)
    )


def ticked_scopes(content: str) -> set[str]:
    checkboxes = re.findall(r'name="scopes" value="([^"]+)"([^>]*)>', content)
    assert checkboxes  # the form is there
    return {scope for scope, attributes in checkboxes if "checked" in attributes.split()}


def edit_url(api_key: ApiKey, drop: str) -> str:
    return f"{reverse('apikeys:edit', args=[api_key.pk])}?drop={drop}"


def hints_in(content: str) -> list[str]:
    """The hint lines of a page, tags removed and spaces collapsed."""
    found = re.findall(r'<p class="scope-hint">(.*?)</p>', content, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", hint).split()) for hint in found]


@pytest.mark.parametrize(
    ("age", "hinted"),
    [(timedelta(days=29, hours=23), False), (timedelta(days=30), True)],
    ids=["29d23h", "30d"],
)
def test_an_unused_scope_is_hinted_from_exactly_30_days(
    owner_client: Client, owner: Membership, age: timedelta, hinted: bool
) -> None:
    api_key = key_made(owner, days_ago=0)
    KeyScopeUse.objects.create(api_key=api_key, scope="calls:read", last_used_at=START + age)
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=START + age)
    with time_machine.travel(START + age, tick=False):
        response = owner_client.get(INDEX)
    assert hints_in(response.content.decode()) == (
        [f"{HINT} · Review the unused scopes of Dialer"] if hinted else []
    )


@pytest.mark.parametrize(
    ("key_age", "last_used", "hinted"),
    [(40, 10, False), (40, 31, True), (31, None, True), (5, None, False)],
    ids=["used-10-days-ago", "used-31-days-ago", "never-used-old-key", "never-used-new-key"],
)
def test_when_a_scope_counts_as_unused(
    owner: Membership, key_age: int, last_used: int | None, hinted: bool
) -> None:
    api_key = key_made(owner, days_ago=key_age)
    if last_used is not None:
        used(api_key, "calls:write", last_used)
    used(api_key, "calls:read", 1)
    with time_machine.travel(START, tick=False):
        assert [hint.scope for hint in idle_scopes_for(api_key)] == (
            ["calls:write"] if hinted else []
        )


def test_the_list_shows_one_review_that_opens_edit_without_the_idle_scopes(
    owner_client: Client, owner: Membership
) -> None:
    api_key = key_made(owner, days_ago=40, scopes=("calls:read", "calls:write", "contacts:read"))
    used(api_key, "calls:read", 1)
    with time_machine.travel(START, tick=False):
        response = owner_client.get(INDEX)
    content = response.content.decode()
    assert hints_in(content) == [
        "2 of 3 scopes unused for 30 days · Review the unused scopes of Dialer"
    ]
    review = f"{reverse('apikeys:edit', args=[api_key.pk])}?drop=calls:write,contacts:read"
    assertContains(response, f'href="{review}"')
    assertContains(response, f'hx-get="{review}"')
    assert "Remove it?" not in content


def test_a_key_unused_as_a_whole_gets_only_revoke(owner_client: Client, owner: Membership) -> None:
    api_key = key_made(owner, days_ago=40, scopes=("calls:read", "calls:write", "contacts:read"))
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=None)
    with time_machine.travel(START, tick=False):
        response = owner_client.get(INDEX)
    content = response.content.decode()
    assert hints_in(content) == ["Unused for 30 days · Revoke? Dialer"]
    assertContains(response, f'href="{reverse("apikeys:revoke", args=[api_key.pk])}"', count=1)
    assert "drop=" not in content


def test_members_are_told_whom_to_ask_never_to_remove_roll_or_revoke(
    member_client: Client, owner: Membership
) -> None:
    api_key = key_made(owner, days_ago=100, scopes=("calls:read", "calls:write"))
    used(api_key, "calls:read", 1)
    idle = key_made(owner, days_ago=40, name="Idle", scopes=("contacts:read",))
    ApiKey.objects.filter(pk=idle.pk).update(last_used_at=None)
    with time_machine.travel(START, tick=False):
        response = member_client.get(INDEX)
    content = response.content.decode()
    assert hints_in(content) == [
        "Unused for 30 days · Ask an owner or admin to revoke the key ( who to ask ).",
        f"{HINT} · Ask an owner or admin to remove them ( who to ask ).",
    ]
    assertContains(response, "Ask an owner or admin to roll, edit or revoke them.")
    for advice in ("Remove it?", "roll them", "revoke them?", "Review", "Revoke?"):
        assert advice not in content
    assert reverse("apikeys:edit", args=[api_key.pk]) not in content


@pytest.mark.parametrize("state", ["revoked", "rolled"])
def test_revoked_and_rolled_keys_get_no_hint(
    owner_client: Client, owner: Membership, state: str
) -> None:
    api_key = key_made(owner, days_ago=40)
    if state == "revoked":
        ApiKey.objects.filter(pk=api_key.pk).update(revoked_at=START)
    else:
        ApiKey.objects.filter(pk=api_key.pk).update(
            replaced_by=key_made(owner, days_ago=1, name="Successor", scopes=("calls:read",))
        )
    with time_machine.travel(START, tick=False):
        response = owner_client.get(INDEX)
    assert hints_in(response.content.decode()) == []
    assertNotContains(response, SUMMARY)


def test_review_opens_edit_with_the_idle_scopes_unticked_and_marked(
    owner_client: Client, owner: Membership
) -> None:
    api_key = key_made(owner, days_ago=40)
    response = owner_client.get(edit_url(api_key, "calls:write"), headers=HTMX)
    content = response.content.decode()
    assert ticked_scopes(content) == {"calls:read"}
    assert content.count("will be removed: unused for 30 days") == 1


def test_review_unticks_every_scope_it_names(owner_client: Client, owner: Membership) -> None:
    api_key = key_made(owner, days_ago=40)
    response = owner_client.get(edit_url(api_key, "calls:write,calls:read"), headers=HTMX)
    assert ticked_scopes(response.content.decode()) == set()


@pytest.mark.parametrize("drop", ["contacts:write", "nonsense", "", ",,"])
def test_a_scope_the_key_does_not_have_is_ignored(
    owner_client: Client, owner: Membership, drop: str
) -> None:
    api_key = key_made(owner, days_ago=40)
    response = owner_client.get(edit_url(api_key, drop), headers=HTMX)
    assert ticked_scopes(response.content.decode()) == {"calls:read", "calls:write"}
    assertNotContains(response, "will be removed")


def test_no_summary_when_all_is_well(owner_client: Client, owner: Membership) -> None:
    api_key = key_made(owner, days_ago=10)
    used(api_key, "calls:read", 1)
    used(api_key, "calls:write", 1)
    with time_machine.travel(START, tick=False):
        response = owner_client.get(INDEX)
    assertNotContains(response, SUMMARY)


def test_the_summary_names_and_links_each_kind(owner_client: Client, owner: Membership) -> None:
    old = key_made(owner, days_ago=100, name="Old CRM", scopes=("contacts:read",))
    used(old, "contacts:read", 1)
    idle = key_made(owner, days_ago=50, name="Idle Bot", scopes=("contacts:read",))
    ApiKey.objects.filter(pk=idle.pk).update(last_used_at=START - timedelta(days=30))
    used(idle, "contacts:read", 30)
    forever = key_made(owner, days_ago=1, name="Forever", expiration="never")
    wide = key_made(owner, days_ago=40, name="Wide Scopes")
    used(wide, "calls:read", 1)
    with time_machine.travel(START, tick=False):
        response = owner_client.get(INDEX)
        keys = list(ApiKey.objects.order_by("pk"))
        attach_idle_scopes(keys, START)
        summary = hygiene(keys, START)
    assert summary.old == [old]
    assert summary.unused == [idle]
    assert summary.no_expiry == [forever]
    content = response.content.decode()
    section = content[content.index(SUMMARY) : content.index("</section>", content.index(SUMMARY))]

    def link(api_key: ApiKey) -> str:
        return f'<a href="{reverse("apikeys:detail", args=[api_key.pk])}">{api_key.name}</a>'

    assert f"Older than 90 days, roll them: {link(old)}</li>" in section
    # "Idle Bot" is idle as a key, and so are its scopes.
    assert f"Not used for 30 days, revoke them? {link(idle)}</li>" in section
    assert f"Never expire: {link(forever)}</li>" in section
    # In the list's order: newest first.
    assert f"Have scopes they do not use: {link(wide)}, {link(idle)}</li>" in section


def test_the_summary_also_comes_with_the_htmx_reload(
    owner_client: Client, owner: Membership
) -> None:
    key_made(owner, days_ago=1, expiration="never")
    with time_machine.travel(START, tick=False):
        response = owner_client.get(INDEX, headers=HTMX)
    assertContains(response, SUMMARY)


def test_the_list_costs_the_same_queries_for_3_or_10_keys(
    owner_client: Client, owner: Membership, django_assert_num_queries
) -> None:  # noqa: ANN001
    def add_keys(count: int) -> None:
        for number in range(ApiKey.objects.count(), count):
            api_key = key_made(owner, days_ago=40 + number, name=f"Key {number}")
            used(api_key, "calls:read", 1)

    add_keys(3)
    with time_machine.travel(START, tick=False):
        owner_client.get(INDEX)  # anything done once per session happens here
        with CaptureQueriesContext(connection) as three:
            assertContains(owner_client.get(INDEX), HINT, count=3)
    add_keys(10)
    with time_machine.travel(START, tick=False), django_assert_num_queries(len(three)):
        assertContains(owner_client.get(INDEX), HINT, count=10)
