from __future__ import annotations

import re

import pytest
from django.db import IntegrityError
from django.test import Client
from django.urls import get_resolver, reverse
from pytest_django.asserts import assertContains, assertNotContains

from accounts.middleware import SESSION_ACCOUNT_KEY
from accounts.models import Membership, User
from tests.conftest import client_for
from tests.factories import PASSWORD, AccountFactory, MembershipFactory, UserFactory
from tests.support.urls import iter_routes

pytestmark = pytest.mark.django_db

SIGNED_IN_PAGES = ["/", "/settings/api-keys/"]


def test_login_with_email_in_any_case_lands_on_dashboard(client: Client, owner: Membership) -> None:
    response = client.post("/login/", {"username": "Owner@ACME.test", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    for text in ("Acme Voice", "Owner", "5,000 credits"):
        assert text in dashboard.text


def test_wrong_password_shows_error_and_does_not_log_in(client: Client, owner: Membership) -> None:
    response = client.post("/login/", {"username": "owner@acme.test", "password": "nope"})
    assert response.status_code == 200
    assert "match an account" in response.text
    assert "_auth_user_id" not in client.session


def test_empty_login_form_shows_field_errors(client: Client) -> None:
    response = client.post("/login/", {"username": "", "password": ""})
    assert response.status_code == 200
    assert response.text.count("This field is required.") == 2


def test_logout_requires_post_and_ends_session(owner_client: Client) -> None:
    response = owner_client.post("/logout/")
    assert response.status_code == 302
    assert owner_client.get("/").status_code == 302


@pytest.mark.parametrize("path", SIGNED_IN_PAGES)
def test_anonymous_users_are_sent_to_login(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next={path}"


# Signing in, getting back in without a password, and an invitation's link (opened signed out
# by the person it invites).
PUBLIC_PAGES = {
    "login",
    "logout",
    "invitation",
    "password_reset",
    "password_reset_done",
    "password_reset_confirm",
    "password_reset_complete",
}


def test_every_page_outside_admin_and_api_requires_login(client: Client) -> None:
    checked = []
    for route, pattern in iter_routes(get_resolver().url_patterns):
        if route.startswith(("admin/", "api/")) or pattern.name in PUBLIC_PAGES:
            continue
        path = "/" + re.sub(r"<[^>]+>", "1", route)
        response = client.get(path)
        assert response.status_code in (302, 405), path
        if response.status_code == 302:
            assert response["Location"].startswith("/login/"), path
        checked.append(path)
    assert "/" in checked and "/settings/api-keys/" in checked


def test_email_is_unique_whatever_its_case() -> None:
    User.objects.create_user("someone@example.test", "pw")
    with pytest.raises(IntegrityError):
        User.objects.create(email="SOMEONE@example.test")


def test_create_user_lowercases_email() -> None:
    assert User.objects.create_user("MiXeD@Example.Test", "pw").email == "mixed@example.test"


def test_switcher_offers_only_own_accounts(owner: Membership, other_owner: Membership) -> None:
    second = MembershipFactory(user=owner.user, account=AccountFactory(name="Second Co"))
    client = Client()
    client.force_login(owner.user)
    page = client.get("/").text
    assert "Acme Voice" in page and "Second Co" in page
    assert "Globex" not in page

    response = client.post("/account/switch/", {"account": second.account_id, "next": "/"})
    assert response.status_code == 302
    assert client.session[SESSION_ACCOUNT_KEY] == second.account_id
    assert "Second Co" in client.get("/").context["current_account"].name


def test_switch_to_foreign_account_is_refused(owner: Membership, other_owner: Membership) -> None:
    client = Client()
    client.force_login(owner.user)
    client.get("/")
    response = client.post("/account/switch/", {"account": other_owner.account_id})
    assert response.status_code == 404
    assert client.session[SESSION_ACCOUNT_KEY] == owner.account_id


@pytest.mark.parametrize("bad", ["", "abc", "-1", "0", "99999999999999999999", "1e3"])
def test_switch_with_junk_changes_nothing(
    owner_client: Client, owner: Membership, bad: str
) -> None:
    owner_client.get("/")
    response = owner_client.post("/account/switch/", {"account": bad})
    assert response.status_code == 302
    assert owner_client.session[SESSION_ACCOUNT_KEY] == owner.account_id


def test_switch_ignores_offsite_next(owner_client: Client, owner: Membership) -> None:
    response = owner_client.post(
        "/account/switch/", {"account": owner.account_id, "next": "https://evil.test/"}
    )
    assert response["Location"] == "/"


def test_forged_account_in_session_is_not_trusted(
    owner: Membership, other_owner: Membership
) -> None:
    client = Client()
    client.force_login(owner.user)
    session = client.session
    session[SESSION_ACCOUNT_KEY] = other_owner.account_id
    session.save()
    response = client.get("/")
    assert response.context["current_account"] == owner.account
    assert "Globex" not in response.text
    assert client.session[SESSION_ACCOUNT_KEY] == owner.account_id


def test_user_without_account_sees_explanation(client: Client) -> None:
    client.force_login(UserFactory())
    response = client.get("/")
    assert response.status_code == 200
    assert "No account yet" in response.text


def test_unknown_page_is_a_friendly_404(owner_client: Client) -> None:
    response = owner_client.get("/no-such-page/")
    assert response.status_code == 404
    assert "Page not found" in response.text


def test_pages_send_a_strict_content_security_policy(owner_client: Client) -> None:
    policy = owner_client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "style-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "Content-Security-Policy" in Client().get("/login/").headers


def test_one_account_is_named_not_offered_as_a_choice(owner_client: Client) -> None:
    response = owner_client.get("/")
    assertContains(response, '<p class="account-name">Acme Voice</p>', html=True)
    assertNotContains(response, 'name="account"')
    assertNotContains(response, "Switch")


def test_several_accounts_get_the_switcher(owner: Membership, other_owner: Membership) -> None:
    MembershipFactory(user=owner.user, account=other_owner.account)
    response = client_for(owner).get("/")
    assertContains(response, "<option", count=2)
    assertContains(response, "Switch</button>")
    assertNotContains(response, 'class="account-name"')
