"""Messages after a change: in the live region, dismissible, and naming the row of their key."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import Membership
from apikeys.models import ApiKey
from apikeys.services import create_key
from tests.support.apikeys import CREATE, INDEX, form_data
from tests.support.htmx import HTMX

pytestmark = pytest.mark.django_db


def new_key(owner: Membership, name: str = "Main App") -> ApiKey:
    return create_key(
        account=owner.account, user=owner.user, name=name, scopes=["calls:read"]
    ).api_key


def messages_of(client: Client) -> list[tuple[str, str]]:
    """The messages the key list's reload brings: (attributes, text)."""
    content = client.get(INDEX, headers=HTMX).content.decode()
    found = re.findall(
        r'<div class="alert alert--(\w+) message" data-message([^>]*)>\s*'
        r'<p class="message__text" role="status">([^<]*)</p>',
        content,
    )
    return [(f"{level}{attributes}", text) for level, attributes, text in found]


def test_an_edit_names_the_row_of_its_key(owner_client: Client, owner: Membership) -> None:
    api_key = new_key(owner)
    owner_client.post(
        reverse("apikeys:edit", args=[api_key.pk]),
        {"name": "Renamed", "scopes": ["calls:read"]},
        headers=HTMX,
    )
    assert messages_of(owner_client) == [
        (f'success data-autohide data-highlight="key-{api_key.pk}"', "API key “Renamed” updated.")
    ]
    # The row it names is the key's row in the list.
    assert f'id="key-{api_key.pk}"' in owner_client.get(INDEX).content.decode()


def test_nothing_changed_is_a_note_about_the_key(owner_client: Client, owner: Membership) -> None:
    api_key = new_key(owner)
    owner_client.post(
        reverse("apikeys:edit", args=[api_key.pk]), {"name": "Main App", "scopes": ["calls:read"]}
    )
    assert messages_of(owner_client) == [
        (f'info data-autohide data-highlight="key-{api_key.pk}"', "Nothing changed on “Main App”.")
    ]


def test_create_roll_and_revoke_name_their_key(owner_client: Client, owner: Membership) -> None:
    owner_client.post(CREATE, form_data(name="Fresh"), headers=HTMX)
    created = ApiKey.objects.get(name="Fresh")
    [(attributes, _)] = messages_of(owner_client)
    assert f'data-highlight="key-{created.pk}"' in attributes

    owner_client.post(reverse("apikeys:roll", args=[created.pk]), {"grace": "24h"}, headers=HTMX)
    successor = ApiKey.objects.get(name="Fresh", replaced_by__isnull=True)
    [(attributes, text)] = messages_of(owner_client)
    assert text.startswith("API key “Fresh” rolled.")
    assert f'data-highlight="key-{successor.pk}"' in attributes

    owner_client.post(reverse("apikeys:revoke", args=[successor.pk]), headers=HTMX)
    [(attributes, _)] = messages_of(owner_client)
    assert f'data-highlight="key-{successor.pk}"' in attributes


def test_messages_land_in_the_live_region_of_a_whole_page(
    owner_client: Client, owner: Membership
) -> None:
    api_key = new_key(owner)
    owner_client.post(reverse("apikeys:revoke", args=[api_key.pk]))
    content = owner_client.get(INDEX).content.decode()
    region = content[content.index('<div id="messages"') : content.index("</main>")]
    assert region.startswith('<div id="messages" class="messages" aria-live="polite">')
    assert "API key “Main App” revoked." in region
    assert "data-dismiss-message hidden" in region  # shown by JavaScript, which can dismiss it
