"""Helpers shared by the API tests: real keys made through the services, Bearer clients."""

from __future__ import annotations

from django.test import Client

from accounts.models import Membership
from apikeys.models import ApiKey
from apikeys.scopes import SCOPE_NAMES
from apikeys.services import create_key

_counter = iter(range(1_000_000))


def make_key(
    membership: Membership,
    scopes: list[str] | tuple[str, ...] = SCOPE_NAMES,
    environment: str = ApiKey.Environment.LIVE,
) -> str:
    """Create a key through apikeys.services (as the page does) and return its secret."""
    created = create_key(
        account=membership.account,
        user=membership.user,
        name=f"test key {next(_counter)}",
        scopes=list(scopes),
        environment=environment,
    )
    return created.secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def api_client(secret: str | None = None, **kwargs: object) -> Client:
    """A client that sends the key on every request, and no cookies."""
    headers = bearer(secret) if secret else {}
    return Client(headers=headers, **kwargs)
