"""An account grown through the services, for tests that a page's query count does not grow."""

from __future__ import annotations

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, Membership
from apikeys.expiry import DEFAULT_EXPIRATION
from apikeys.models import ApiKey
from apikeys.services import create_key, edit_key, revoke_key


def grow(
    owner: Membership,
    *,
    keys: int,
    revoked: int = 0,
    edits: int = 0,
    prefix: str = "Key",
    expiration: str = DEFAULT_EXPIRATION,
) -> list[ApiKey]:
    """Give the owner's account `keys` more active keys (named "Key 000", ...), `revoked`
    revoked ones and `edits` renames of the first new key; return the new active keys."""
    limit = owner.account.api_keys.count() + keys + revoked + 10
    Account.objects.filter(pk=owner.account_id).update(api_key_limit=limit)
    owner.account.refresh_from_db()
    made = [
        create_key(
            account=owner.account,
            user=owner.user,
            name=f"{prefix} {number:03}",
            scopes=["calls:read"],
            expiration=expiration,
        ).api_key
        for number in range(keys + revoked)
    ]
    for api_key in made[keys:]:
        revoke_key(key=api_key, user=owner.user)
    for number in range(edits):
        edit_key(
            key=made[0],
            user=owner.user,
            name=f"{prefix} 000 v{number}",
            description="",
            scopes=["calls:read"],
        )
    return made[:keys]


def queries_for(client: Client, url: str, data: dict[str, object] | None = None) -> int:
    """How many queries one GET of the page makes (it must answer 200)."""
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, data)
    assert response.status_code == 200
    return len(queries)


def sql_of(client: Client, url: str, data: dict[str, object] | None = None) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url, data)
    assert response.status_code == 200
    return [query["sql"] for query in queries]
