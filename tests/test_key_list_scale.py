"""The key list as an account grows: a page of active keys at a time, a search by name or masked
key, the expired and revoked keys fetched when their section opens, what needs attention told
with a few names and how many more, and the same queries for one key as for a hundred."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Membership
from apikeys.expiry import NEVER
from apikeys.views import INACTIVE_SHOWN, KEYS_PER_PAGE
from tests.support.scale import grow, queries_for

pytestmark = pytest.mark.django_db

INDEX = reverse("apikeys:index")
HTMX = {"HX-Request": "true"}


def names(response) -> list[str]:  # noqa: ANN001
    return re.findall(r'class="key-name__link" title="([^"]+)"', response.content.decode())


def test_the_list_shows_a_page_of_keys_with_links_to_the_others(
    owner_client: Client, owner: Membership
) -> None:
    grow(owner, keys=KEYS_PER_PAGE + 3)
    first = owner_client.get(INDEX)
    assert len(names(first)) == KEYS_PER_PAGE
    assertContains(first, f"Keys 1–{KEYS_PER_PAGE} of {KEYS_PER_PAGE + 3}")
    assertContains(first, f"{KEYS_PER_PAGE + 3} of {KEYS_PER_PAGE + 13} keys")
    assertContains(first, 'href="?page=2" rel="next">Next</a>')
    second = owner_client.get(INDEX, {"page": 2})
    assert len(names(second)) == 3
    assert not set(names(first)) & set(names(second))
    assertContains(second, 'href="?page=1" rel="prev">Previous</a>')
    # A page that is not there is the last one, not an error.
    assert names(owner_client.get(INDEX, {"page": "x"})) == names(first)


def test_the_search_finds_keys_by_name_or_masked_key_and_keeps_its_pages(
    owner_client: Client, owner: Membership
) -> None:
    keys = grow(owner, keys=KEYS_PER_PAGE + 5)
    by_name = owner_client.get(INDEX, {"q": "key 01"})
    assert names(by_name) == [f"Key {number:03}" for number in range(19, 9, -1)]
    assertContains(by_name, 'value="key 01"')
    by_mask = owner_client.get(INDEX, {"q": keys[7].masked_key[:14]})
    assert "Key 007" in names(by_mask)
    none = owner_client.get(INDEX, {"q": "nothing like it"})
    assertContains(none, "No active key matches “nothing like it”")
    assertNotContains(none, "No API keys yet")
    every = owner_client.get(INDEX, {"q": "Key"})
    assertContains(every, 'href="?q=Key&amp;page=2" rel="next">Next</a>')


def test_the_search_box_shows_only_when_there_is_more_than_a_page(
    owner_client: Client, owner: Membership
) -> None:
    grow(owner, keys=3)
    assertNotContains(owner_client.get(INDEX), 'role="search"')
    grow(owner, keys=KEYS_PER_PAGE, prefix="More")
    assertContains(owner_client.get(INDEX), 'aria-label="Search active keys"')


def test_inactive_keys_are_counted_and_fetched_when_their_section_opens(
    owner_client: Client, owner: Membership
) -> None:
    grow(owner, keys=1, revoked=INACTIVE_SHOWN + 2)
    page = owner_client.get(INDEX)
    assertContains(page, f"Expired and revoked keys ({INACTIVE_SHOWN + 2})")
    assertContains(page, 'hx-trigger="toggle once"')
    assertNotContains(page, "key-row--inactive")
    opened = owner_client.get(INDEX, {"inactive": 1}, headers=HTMX)
    assert "<html" not in opened.content.decode()
    assertContains(opened, '<tr class="key-row key-row--inactive"', count=INACTIVE_SHOWN)
    assertContains(opened, f"The {INACTIVE_SHOWN} that ended most recently.")
    # Newest ended first.
    assert names(opened)[0] == f"Key {INACTIVE_SHOWN + 2:03}"
    # Without JavaScript the link opens the section in the whole page.
    assertContains(page, 'href="?inactive=1#inactive-keys"')
    whole = owner_client.get(INDEX, {"inactive": 1})
    assertContains(whole, '<details class="card revoked-keys" id="inactive-keys" open>')


def test_what_needs_attention_names_three_keys_and_counts_the_rest(
    owner_client: Client, owner: Membership
) -> None:
    grow(owner, keys=7, expiration=NEVER)
    response = owner_client.get(INDEX)
    section = response.content.decode().split('id="hygiene-title"')[1].split("</section>")[0]
    [never] = [line for line in section.split("<li>") if line.startswith("Never expire:")]
    assert never.count("<a href=") == 3
    assert never.split("</li>")[0].endswith(" and 4 more")


def test_the_list_makes_the_same_queries_for_one_key_as_for_a_hundred(
    owner_client: Client, owner: Membership
) -> None:
    grow(owner, keys=1, revoked=1)
    owner_client.get(INDEX)  # the session's first request does more
    few = {
        "list": queries_for(owner_client, INDEX),
        "search": queries_for(owner_client, INDEX, {"q": "Key"}),
        "inactive": queries_for(owner_client, INDEX, {"inactive": 1}),
    }
    grow(owner, keys=KEYS_PER_PAGE * 3, revoked=INACTIVE_SHOWN + 5, prefix="More")
    many = {
        "list": queries_for(owner_client, INDEX),
        "search": queries_for(owner_client, INDEX, {"q": "Key"}),
        "inactive": queries_for(owner_client, INDEX, {"inactive": 1}),
    }
    assert many == few
