"""Helpers shared by the API tests: real keys made through the services, Bearer clients, and
the documented contract of every key-protected endpoint."""

from __future__ import annotations

from typing import Any

from django.test import Client

from accounts.models import Membership
from apikeys.models import ApiKey
from apikeys.scopes import SCOPE_NAMES
from apikeys.services import create_key

_counter = iter(range(1_000_000))

ANY_KEY = "any valid key"

# The documented contract (README and OpenAPI): method, path, body, what opens it.
ENDPOINTS: list[tuple[str, str, Any, str]] = [
    ("GET", "/api/v1/credits", None, ANY_KEY),
    ("GET", "/api/v1/calls", None, "calls:read"),
    ("POST", "/api/v1/calls", {"phone": "+14155550100"}, "calls:write"),
    ("GET", "/api/v1/campaigns", None, "campaigns:read"),
    ("POST", "/api/v1/campaigns", {"name": "Spring"}, "campaigns:write"),
    ("GET", "/api/v1/campaigns/{campaign}", None, "campaigns:read"),
    ("PATCH", "/api/v1/campaigns/{campaign}", {"status": "active"}, "campaigns:write"),
    ("GET", "/api/v1/contacts", None, "contacts:read"),
    ("POST", "/api/v1/contacts", {"name": "Ada", "phone": "+14155550100"}, "contacts:write"),
    ("GET", "/api/v1/contacts/{contact}", None, "contacts:read"),
    ("PATCH", "/api/v1/contacts/{contact}", {"name": "Ada L."}, "contacts:write"),
    ("DELETE", "/api/v1/contacts/{contact}", None, "contacts:write"),
    ("GET", "/api/v1/webhooks", None, "webhooks:manage"),
    (
        "POST",
        "/api/v1/webhooks",
        {"url": "https://example.com/hook", "events": ["call.completed"]},
        "webhooks:manage",
    ),
    ("GET", "/api/v1/webhooks/{webhook}", None, "webhooks:manage"),
    ("PATCH", "/api/v1/webhooks/{webhook}", {"events": ["call.completed"]}, "webhooks:manage"),
    ("POST", "/api/v1/webhooks/{webhook}/rotate-secret", None, "webhooks:manage"),
    ("GET", "/api/v1/webhooks/{webhook}/deliveries", None, "webhooks:manage"),
    ("POST", "/api/v1/webhooks/{webhook}/test", None, "webhooks:manage"),
    ("DELETE", "/api/v1/webhooks/{webhook}", None, "webhooks:manage"),
]


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
