"""Headers every response carries: no-store for anything personal, Permissions-Policy, CSP."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import get_resolver

from accounts.models import Membership
from apikeys.services import create_key
from tests.support.api import api_client, make_key
from tests.support.urls import iter_routes
from voxkeys.middleware import CONTENT_SECURITY_POLICY, PERMISSIONS_POLICY

pytestmark = pytest.mark.django_db


def signed_in_paths(key_id: int) -> list[str]:
    paths = []
    for route, _ in iter_routes(get_resolver().url_patterns):
        if route.startswith(("admin/", "api/")):
            continue
        paths.append("/" + re.sub(r"<[^>]+>", str(key_id), route))
    return paths


def test_every_signed_in_page_is_never_stored(owner_client: Client, owner: Membership) -> None:
    key = create_key(
        account=owner.account, user=owner.user, name="Main App", scopes=["calls:read"]
    ).api_key
    paths = signed_in_paths(key.pk)
    assert {"/", "/settings/api-keys/", "/settings/api-keys/activity/"} <= set(paths)
    for path in paths:
        response = owner_client.get(path)
        cache_control = response.get("Cache-Control", "")
        assert "no-store" in cache_control and "private" in cache_control, (path, cache_control)
        assert response["Permissions-Policy"] == PERMISSIONS_POLICY, path
        assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY, path


@pytest.mark.parametrize("path", ["/api/v1/credits", "/api/v1/health", "/api/v1/nope"])
def test_every_api_response_is_never_stored(owner: Membership, path: str) -> None:
    response = api_client(make_key(owner)).get(path)
    assert response["Cache-Control"] == "no-store"
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY
    assert Client().get(path)["Cache-Control"] == "no-store"


def test_anonymous_pages_carry_the_permissions_policy(client: Client) -> None:
    response = client.get("/login/")
    assert response["Permissions-Policy"] == PERMISSIONS_POLICY
    assert "camera=()" in PERMISSIONS_POLICY and "microphone=()" in PERMISSIONS_POLICY


def test_the_admin_gets_the_apps_content_security_policy(client: Client) -> None:
    response = client.get("/admin/login/")
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
