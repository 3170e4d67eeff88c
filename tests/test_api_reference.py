"""The API reference page: public, a page under the site's CSP, its files ours, linked."""

from __future__ import annotations

import re
import uuid

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains

from accounts.models import Membership
from voxkeys.middleware import CONTENT_SECURITY_POLICY

pytestmark = pytest.mark.django_db

DOCS = "/api/v1/docs"


def test_the_reference_needs_no_key_and_no_login() -> None:
    response = Client().get(DOCS)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert not response.cookies
    assertContains(response, 'data-openapi-url="/api/v1/openapi.json"')


def test_the_reference_is_a_page_under_the_sites_policy() -> None:
    response = Client().get(DOCS)
    assert response["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    # JSON answers under /api/ stay as they were: no page, so no policy.
    assert "Content-Security-Policy" not in Client().get("/api/v1/health")


def test_every_file_the_reference_loads_is_ours() -> None:
    content = Client().get(DOCS).content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', content)
    assets = [source for source in sources if source.startswith("/static/")]
    assert len(assets) == 5  # favicon, two stylesheets, two scripts
    for asset in assets:
        assert finders.find(asset.removeprefix("/static/")), asset
    assert not [source for source in sources if "//" in source]


def test_the_reveals_verify_section_links_the_reference(
    owner_client: Client, owner: Membership
) -> None:
    response = owner_client.post(
        reverse("apikeys:create"),
        {
            "name": "Main App",
            "scopes": ["calls:read"],
            "creation_token": str(uuid.uuid4()),
            "account": owner.account_id,
        },
    )
    assertContains(response, f'<a href="{DOCS}">API reference</a>', html=True)


def test_the_json_404_points_at_the_reference() -> None:
    response = Client().get("/api/v1/nope")
    assert response.status_code == 404
    assert DOCS in response.json()["error"]["message"]
