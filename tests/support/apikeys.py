"""The Settings -> API Keys pages over HTTP: their URLs, a valid create form, the key revealed."""

from __future__ import annotations

import re
import uuid

from django.http import HttpResponse
from django.urls import reverse

from accounts.models import Account

INDEX = reverse("apikeys:index")
CREATE = reverse("apikeys:create")
SECRET_PATTERN = re.compile(r"vxp_(?:live|test)_[0-9A-Za-z]{38}")


def form_data(**overrides: object) -> dict[str, object]:
    """The create form as a browser posts it, for the `account` fixture's account."""
    data: dict[str, object] = {
        "name": "Production Server – Main App",
        "scopes": ["calls:read", "calls:write"],
        "creation_token": str(uuid.uuid4()),
    }
    if "account" not in overrides:
        # The `account` fixture's account, which the owner and member clients work in.
        data["account"] = Account.objects.get(name="Acme Voice").pk
    data.update(overrides)
    return data


def revealed_secret(response: HttpResponse) -> str:
    """Return the key the response shows (once, in the reveal)."""
    match = SECRET_PATTERN.search(response.content.decode())
    assert match, "the response shows no key"
    return match.group()
