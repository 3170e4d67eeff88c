"""Per-key IP allowlists: parsing, the middleware's check, the forms; and https_required."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client, override_settings
from django.urls import reverse
from pytest_django.asserts import assertContains

from accounts.models import Membership
from activity.models import ActivityEvent
from apikeys.allowlist import MAX_ENTRIES, is_allowed, normalize_allowlist
from apikeys.models import ApiKey
from apikeys.services import CreatedKey, InvalidKeyInput, create_key, edit_key, roll_key
from tests.support.api import bearer
from tests.support.apikeys import form_data, revealed_secret
from tests.support.htmx import HTMX

pytestmark = pytest.mark.django_db

CREDITS = "/api/v1/credits"


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("", ""),
        ("203.0.113.7", "203.0.113.7"),
        ("203.0.113.7/32", "203.0.113.7"),
        (" 203.0.113.0/24 ,\n198.51.100.0/24; ", "203.0.113.0/24 198.51.100.0/24"),
        ("203.0.113.5/24", "203.0.113.0/24"),  # host bits dropped
        ("2001:DB8::7", "2001:db8::7"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("203.0.113.7 203.0.113.7/32", "203.0.113.7"),  # duplicates once
    ],
)
def test_allowlists_are_normalized(typed: str, stored: str) -> None:
    assert normalize_allowlist(typed) == stored


@pytest.mark.parametrize(
    "typed", ["300.1.1.1", "203.0.113.0/33", "example.com", "2001:db8::/129", "10.0.0.1-10.0.0.9"]
)
def test_bad_entries_are_refused_by_name(typed: str) -> None:
    with pytest.raises(ValueError, match="Not an IP address or range") as error:
        normalize_allowlist(f"203.0.113.7 {typed}")
    assert typed in str(error.value)


def test_at_most_fifty_entries() -> None:
    fifty = " ".join(f"203.0.113.{n}" for n in range(MAX_ENTRIES))
    assert len(normalize_allowlist(fifty).split()) == MAX_ENTRIES
    with pytest.raises(ValueError, match="at most 50"):
        normalize_allowlist(fifty + " 198.51.100.1")


@pytest.mark.parametrize(
    ("allowed", "ip", "expected"),
    [
        ("", "198.51.100.1", True),
        ("203.0.113.7", "203.0.113.7", True),
        ("203.0.113.7", "203.0.113.8", False),
        ("203.0.113.0/24", "203.0.113.200", True),
        ("2001:db8::/32", "2001:db8:1::5", True),
        ("2001:db8::/32", "2001:db9::5", False),
        ("203.0.113.7", "::ffff:203.0.113.7", True),
        ("203.0.113.7", None, False),
        ("203.0.113.7", "junk", False),
    ],
)
def test_is_allowed(allowed: str, ip: str | None, expected: bool) -> None:
    assert is_allowed(allowed, ip) is expected


def restricted_key(membership: Membership, allowed_ips: str) -> CreatedKey:
    return create_key(
        account=membership.account,
        user=membership.user,
        name="Office only",
        scopes=["calls:read"],
        allowed_ips=allowed_ips,
    )


def credits_from(secret: str, remote_addr: str, **headers: str):  # noqa: ANN201
    return Client(REMOTE_ADDR=remote_addr).get(CREDITS, headers={**bearer(secret), **headers})


def test_a_request_from_elsewhere_is_refused_naming_its_ip(owner: Membership) -> None:
    created = restricted_key(owner, "203.0.113.0/24 2001:db8::/32")
    assert credits_from(created.secret, "203.0.113.9").status_code == 200
    assert credits_from(created.secret, "2001:db8::9").status_code == 200
    response = credits_from(created.secret, "198.51.100.4")
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "ip_not_allowed"
    assert error["client_ip"] == "198.51.100.4" and "198.51.100.4" in error["message"]


def test_x_forwarded_for_is_ignored_without_trusted_proxies(owner: Membership) -> None:
    created = restricted_key(owner, "203.0.113.9")
    forged = credits_from(created.secret, "198.51.100.4", **{"X-Forwarded-For": "203.0.113.9"})
    assert forged.json()["error"]["code"] == "ip_not_allowed"


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_a_trusted_proxy_the_forwarded_address_counts(owner: Membership) -> None:
    created = restricted_key(owner, "203.0.113.9")
    via_proxy = credits_from(created.secret, "10.0.0.2", **{"X-Forwarded-For": "203.0.113.9"})
    assert via_proxy.status_code == 200
    spoofed = credits_from(
        created.secret, "10.0.0.2", **{"X-Forwarded-For": "203.0.113.9, 198.51.100.4"}
    )
    assert spoofed.json()["error"]["code"] == "ip_not_allowed"


def test_editing_the_allowlist_takes_effect_on_the_next_request(owner: Membership) -> None:
    created = restricted_key(owner, "")
    assert credits_from(created.secret, "198.51.100.4").status_code == 200
    edit_key(
        key=created.api_key,
        user=owner.user,
        name="Office only",
        description="",
        scopes=["calls:read"],
        allowed_ips="203.0.113.0/24",
    )
    assert credits_from(created.secret, "198.51.100.4").status_code == 403
    edited = ActivityEvent.objects.get(event_type="edited")
    assert edited.details["allowed_ips"] == {"old": [], "new": ["203.0.113.0/24"]}
    # Leaving it out of an edit keeps it.
    edit_key(
        key=created.api_key, user=owner.user, name="Renamed", description="", scopes=["calls:read"]
    )
    assert ApiKey.objects.get().allowed_ips == "203.0.113.0/24"


def test_a_rolled_key_keeps_its_allowlist(owner: Membership) -> None:
    created = restricted_key(owner, "203.0.113.0/24")
    new = roll_key(key=created.api_key, user=owner.user, grace=timedelta(hours=1))
    assert new.api_key.allowed_ips == "203.0.113.0/24"


def test_the_service_refuses_a_bad_allowlist(owner: Membership) -> None:
    with pytest.raises(InvalidKeyInput) as invalid:
        restricted_key(owner, "203.0.113.0/24 nonsense")
    assert "nonsense" in invalid.value.errors["allowed_ips"][0]
    assert not ApiKey.objects.exists()


def test_the_create_form_takes_an_allowlist(owner_client: Client) -> None:
    response = owner_client.post(
        reverse("apikeys:create"), form_data(allowed_ips="203.0.113.7\n2001:db8::/32")
    )
    assert revealed_secret(response)
    assert ApiKey.objects.get().allowed_ips == "203.0.113.7 2001:db8::/32"
    assertContains(
        owner_client.get("/settings/api-keys/"), "Allowed from 203.0.113.7, 2001:db8::/32"
    )


def test_a_bad_allowlist_is_shown_next_to_its_field(owner_client: Client) -> None:
    response = owner_client.post(
        reverse("apikeys:create"), form_data(allowed_ips="203.0.113.300"), headers=HTMX
    )
    assertContains(
        response, 'id="id_allowed_ips_error">Not an IP address or range', status_code=422
    )
    assert not ApiKey.objects.exists()


def test_the_edit_form_shows_and_saves_the_allowlist(
    owner_client: Client, owner: Membership
) -> None:
    created = restricted_key(owner, "203.0.113.7 198.51.100.0/24")
    url = reverse("apikeys:edit", args=[created.api_key.pk])
    assertContains(owner_client.get(url), "203.0.113.7\n198.51.100.0/24</textarea>")
    owner_client.post(
        url, {"name": "Office only", "scopes": ["calls:read"], "allowed_ips": ""}, headers=HTMX
    )
    assert ApiKey.objects.get().allowed_ips == ""


# https_required ---------------------------------------------------------------------------


@override_settings(SECURE_SSL_REDIRECT=True)
def test_plain_http_to_the_api_is_refused_not_redirected(owner: Membership) -> None:
    created = restricted_key(owner, "")
    response = Client().get(CREDITS, headers=bearer(created.secret))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "https_required"
    assert Client().get(CREDITS, headers=bearer(created.secret), secure=True).status_code == 200
    # Public routes (load balancers' health checks) still answer; pages still redirect.
    assert Client().get("/api/v1/health").status_code == 200
    assert Client().get("/login/").status_code == 301
