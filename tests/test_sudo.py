"""Sudo mode: creating, rolling and editing keys need the password confirmed in 15 minutes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Membership
from accounts.sudo import SUDO_SESSION_KEY
from apikeys.models import ApiKey
from apikeys.services import create_key
from tests.factories import PASSWORD
from tests.support.apikeys import form_data
from tests.support.htmx import HTMX

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
CREATE = reverse("apikeys:create")
CONFIRM = reverse("confirm_password")
ASKS = "Confirm your password"


@pytest.fixture
def clock() -> Any:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def client(owner: Membership, clock: Any) -> Client:
    """The owner, signed in at START (signing in confirms the password)."""
    signed_in = Client()
    signed_in.force_login(owner.user)
    return signed_in


@pytest.fixture
def api_key(owner: Membership, clock: Any) -> ApiKey:
    return create_key(
        account=owner.account, user=owner.user, name="Main App", scopes=["calls:read"]
    ).api_key


def requests_for(api_key: ApiKey) -> dict[str, tuple[str, dict[str, Any]]]:
    """The sudo-guarded URLs with a POST that would change something."""
    return {
        "create": (CREATE, form_data()),
        "roll": (reverse("apikeys:roll", args=[api_key.pk]), {"grace": "1h"}),
        "edit": (
            reverse("apikeys:edit", args=[api_key.pk]),
            {"name": "Renamed", "scopes": ["calls:read"]},
        ),
    }


def unchanged(api_key: ApiKey) -> bool:
    api_key.refresh_from_db()
    return (
        ApiKey.objects.count() == 1
        and api_key.name == "Main App"
        and api_key.is_active
        and api_key.replaced_by_id is None
    )


VIEWS = ["create", "roll", "edit"]
MODES = pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])


@pytest.mark.parametrize("view", VIEWS)
@MODES
def test_within_15_minutes_nothing_is_asked(
    client: Client, api_key: ApiKey, clock: Any, view: str, headers: dict[str, str]
) -> None:
    url, data = requests_for(api_key)[view]
    clock.move_to(START + timedelta(minutes=14, seconds=59))
    response = client.get(url, headers=headers)
    assert response.status_code == 200
    assertNotContains(response, ASKS)
    response = client.post(url, data, headers=headers)
    assert response.status_code in (200, 204, 302)
    assert not unchanged(api_key)


@pytest.mark.parametrize("view", VIEWS)
@MODES
def test_after_15_minutes_the_password_is_asked_and_nothing_is_done(
    client: Client, api_key: ApiKey, clock: Any, view: str, headers: dict[str, str]
) -> None:
    url, data = requests_for(api_key)[view]
    clock.move_to(START + timedelta(minutes=15, seconds=1))

    response = client.get(url, headers=headers)
    assertContains(response, f"<h{'2' if headers else '1'} ", html=False)
    assertContains(response, ASKS)
    assertContains(response, f'<input type="hidden" name="next" value="{url}">', html=True)
    assertContains(response, 'type="password"')
    assert ("<html" in response.text) is not bool(headers)  # the dialog's content, or a page
    assert "no-store" in response["Cache-Control"]

    response = client.post(url, data, headers=headers)
    assert response.status_code == 403
    assertContains(response, ASKS, status_code=403)
    assert unchanged(api_key)


@pytest.mark.parametrize(
    ("view", "action"),
    [("create", "create an API key"), ("roll", "roll an API key"), ("edit", "edit an API key")],
)
def test_the_prompt_names_the_action_it_protects(
    client: Client, api_key: ApiKey, clock: Any, view: str, action: str
) -> None:
    url, _ = requests_for(api_key)[view]
    clock.move_to(START + timedelta(minutes=20))
    sentence = f"To {action}, confirm your password."
    assertContains(client.get(url, headers=HTMX), sentence)
    # Still named after a wrong password, from the URL the prompt sends the member on to.
    response = client.post(CONFIRM, {"password": "not it", "next": url}, headers=HTMX)
    assertContains(response, sentence, status_code=422)


def test_a_prompt_for_an_unknown_page_stays_general(client: Client, clock: Any) -> None:
    clock.move_to(START + timedelta(minutes=20))
    response = client.post(CONFIRM, {"password": "not it", "next": "/nowhere/?x=1"})
    assertContains(response, "This is a sensitive action. Confirm your password", status_code=422)


@MODES
def test_a_wrong_password_asks_again_with_an_error_and_changes_nothing(
    client: Client, api_key: ApiKey, clock: Any, headers: dict[str, str]
) -> None:
    clock.move_to(START + timedelta(minutes=20))
    response = client.post(CONFIRM, {"password": "not it", "next": CREATE}, headers=headers)
    assert response.status_code == 422
    assertContains(response, "Wrong password. Try again.", status_code=422)
    assertContains(response, 'aria-invalid="true"', status_code=422)
    assertContains(
        response, f'<input type="hidden" name="next" value="{CREATE}">', html=True, status_code=422
    )
    assert client.session[SUDO_SESSION_KEY] == START.timestamp()
    assertContains(client.get(CREATE), ASKS)
    assert unchanged(api_key)


def test_the_right_password_continues_to_the_create_form_in_the_dialog(
    client: Client, clock: Any
) -> None:
    clock.move_to(START + timedelta(minutes=20))
    asked = client.get(CREATE, headers=HTMX)
    assertContains(asked, f'hx-post="{CONFIRM}"')

    response = client.post(
        CONFIRM, {"password": PASSWORD, "next": CREATE}, headers=HTMX, follow=True
    )
    assert response.redirect_chain == [(CREATE, 302)]
    assert response.status_code == 200
    assertContains(response, "Create New API Key")
    assertContains(response, "Create API Key</button>")
    assert "<html" not in response.text  # still the dialog's content
    assert client.session[SUDO_SESSION_KEY] == (START + timedelta(minutes=20)).timestamp()


def test_without_javascript_the_right_password_returns_to_the_page_asked_for(
    client: Client, api_key: ApiKey, clock: Any
) -> None:
    roll = reverse("apikeys:roll", args=[api_key.pk])
    clock.move_to(START + timedelta(minutes=20))
    response = client.post(CONFIRM, {"password": PASSWORD, "next": roll})
    assert response.status_code == 302
    assert response["Location"] == roll
    page = client.get(roll)
    assertContains(page, "Roll")
    assertNotContains(page, ASKS)
    # And another 15 minutes from now on.
    clock.move_to(START + timedelta(minutes=34, seconds=59))
    assertNotContains(client.get(CREATE), ASKS)


@pytest.mark.parametrize("next_url", ["https://evil.example/", "//evil.example/", ""])
def test_next_leaving_the_site_goes_to_the_dashboard(
    client: Client, clock: Any, next_url: str
) -> None:
    clock.move_to(START + timedelta(minutes=20))
    response = client.post(CONFIRM, {"password": PASSWORD, "next": next_url})
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_signing_in_through_the_form_counts_as_confirming(owner: Membership, clock: Any) -> None:
    browser = Client()
    browser.post("/login/", {"username": "owner@acme.test", "password": PASSWORD})
    clock.move_to(START + timedelta(minutes=14, seconds=59))
    assertNotContains(browser.get(CREATE), ASKS)
    clock.move_to(START + timedelta(minutes=15))
    assertContains(browser.get(CREATE), ASKS)


def test_revoking_needs_no_confirmation(client: Client, api_key: ApiKey, clock: Any) -> None:
    clock.move_to(START + timedelta(hours=1))
    response = client.post(reverse("apikeys:revoke", args=[api_key.pk]))
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert not api_key.is_active


@MODES
def test_the_confirmation_is_locked_out_like_the_login(
    client: Client, clock: Any, headers: dict[str, str]
) -> None:
    clock.move_to(START + timedelta(minutes=20))
    statuses = [
        client.post(CONFIRM, {"password": "guess", "next": CREATE}, headers=headers).status_code
        for _ in range(5)
    ]
    assert statuses == [422, 422, 422, 422, 429]
    response = client.post(CONFIRM, {"password": PASSWORD, "next": CREATE}, headers=headers)
    assert response.status_code == 429
    assertContains(response, "Too many attempts", status_code=429)
    assert ("<html" in response.text) is not bool(headers)
    assert client.session[SUDO_SESSION_KEY] == START.timestamp()
    assertContains(client.get(CREATE), ASKS)
    # Locked from signing in again too: it is the same email from the same address.
    assert (
        Client().post("/login/", {"username": "owner@acme.test", "password": PASSWORD}).status_code
        == 429
    )
