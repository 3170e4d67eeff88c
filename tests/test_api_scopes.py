"""Scopes: every API view declares who may call it, and exactly the documented scopes open it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, JsonResponse
from django.urls import get_resolver, path

from accounts.models import Membership
from api.routes import Access, api_route, public, requires_key, requires_scope
from apikeys.scopes import SCOPE_NAMES
from tests.support.api import ANY_KEY, ENDPOINTS, api_client, make_key
from tests.support.urls import api_routes
from voice.models import Campaign, Contact, Webhook

PUBLIC_ENDPOINTS = [
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/health/ready"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/docs"),
    ("POST", "/api/v1/secret-scanning/reports"),  # signed by the scanner instead (README)
]


def undeclared(route: str, view: Callable[..., Any]) -> list[str]:
    """Return what is wrong with an API view's scope decision (nothing, if it declares one)."""
    if getattr(view, "api_public", None) is True and not hasattr(view, "api_handlers"):
        return []  # the JSON 404 for unknown paths
    handlers = getattr(view, "api_handlers", None)
    if not handlers:
        return [f"{route}: not built with api_route(), so it declares no scope decision"]
    return [
        f"{route} {method}: {handler.__name__} declares no scope decision"
        for method, handler in handlers.items()
        if not isinstance(getattr(handler, "api_access", None), Access)
    ]


def test_every_api_view_declares_a_scope_decision() -> None:
    routes = api_routes(get_resolver().url_patterns)
    assert len(routes) >= 11
    problems = [problem for route, view in routes for problem in undeclared(route, view)]
    assert problems == []


def test_the_check_catches_an_undeclared_view() -> None:
    def sneaky(request: HttpRequest) -> JsonResponse:
        return JsonResponse({})

    patterns = [path("api/v1/sneaky", sneaky)]
    assert undeclared(*api_routes(patterns)[0]) == [
        "api/v1/sneaky: not built with api_route(), so it declares no scope decision"
    ]
    with pytest.raises(ImproperlyConfigured, match="declares no scope decision"):
        api_route(GET=sneaky)
    with pytest.raises(ImproperlyConfigured, match="Unknown scope"):
        requires_scope("calls:delete")
    with pytest.raises(ImproperlyConfigured, match="cannot mix"):
        api_route(GET=public(sneaky), POST=requires_key(sneaky))


def test_the_matrix_covers_every_route_and_method() -> None:
    documented = {(method, path.split("{")[0]) for method, path, _, _ in ENDPOINTS}
    documented |= set(PUBLIC_ENDPOINTS)
    routed = set()
    for route, view in api_routes(get_resolver().url_patterns):
        for method in getattr(view, "api_handlers", {}):
            routed.add((method, "/" + route.split("<")[0]))
    assert routed == documented


@pytest.fixture
def resources(owner: Membership) -> dict[str, int]:
    account = owner.account
    return {
        "campaign": Campaign.objects.create(account=account, name="Launch").pk,
        "contact": Contact.objects.create(account=account, name="Ada", phone="+14155550100").pk,
        "webhook": Webhook.objects.create(
            account=account, url="https://example.com/h", events=["call.queued"]
        ).pk,
    }


def call(client: Any, method: str, path: str, body: Any) -> Any:
    if body is None:
        return client.generic(method, path)
    return client.generic(method, path, data=json.dumps(body), content_type="application/json")


@pytest.mark.django_db
@pytest.mark.parametrize("scope", SCOPE_NAMES)
@pytest.mark.parametrize(
    ("method", "path", "body", "required"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS]
)
def test_scope_matrix(
    owner: Membership,
    resources: dict[str, int],
    scope: str,
    method: str,
    path: str,
    body: Any,
    required: str,
) -> None:
    client = api_client(make_key(owner, [scope]))
    response = call(client, method, path.format(**resources), body)
    if required in (ANY_KEY, scope):
        assert 200 <= response.status_code < 300, response.content
    else:
        assert response.status_code == 403, response.content
        assert response.json()["error"] == {
            "code": "insufficient_scope",
            "message": response.json()["error"]["message"],
            "required_scope": required,
        }


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "path", "body", "required"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _, _ in ENDPOINTS]
)
def test_every_endpoint_refuses_a_missing_key_and_accepts_all_scopes(
    owner: Membership, resources: dict[str, int], method: str, path: str, body: Any, required: str
) -> None:
    path = path.format(**resources)
    response = call(api_client(), method, path, body)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "missing_api_key"
    response = call(api_client(make_key(owner)), method, path, body)
    assert 200 <= response.status_code < 300, response.content
