"""The second step of signing in: a half-signed-in session grants nothing but the verification
page, expires after 5 minutes, and becomes a session with a code; sudo mode and the admin."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.urls import get_resolver, reverse
from django.utils.functional import SimpleLazyObject
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django.asserts import assertContains, assertNotContains
from pytest_django.fixtures import Settings

from accounts.models import Account, Membership, SecondFactorAttempts, User
from accounts.sudo import SUDO_SESSION_KEY
from accounts.twofactor.factors import issue_recovery_codes, recovery_codes_left
from accounts.twofactor.middleware import TwoFactorMiddleware
from accounts.twofactor.state import (
    METHOD_SESSION_KEY,
    PENDING_SESSION_KEY,
    VERIFIED_SESSION_KEY,
)
from apikeys.models import ApiKey
from apikeys.services import create_key
from tests.factories import PASSWORD, MembershipFactory, UserFactory
from tests.support.admin import logged_in, new_superuser
from tests.support.apikeys import form_data
from tests.support.htmx import HTMX
from tests.support.twofactor import (
    VERIFY,
    give_authenticator_app,
    pending_client,
    require_two_factor,
    totp_code,
)
from tests.support.urls import iter_routes

pytestmark = pytest.mark.django_db

START = datetime(2026, 11, 30, 10, 0, 10, tzinfo=UTC)
EXPIRED = "The sign-in took more than 5 minutes. Enter your email and password again."


@pytest.fixture(autouse=True)
def clock() -> Any:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def no_idle_timeout(settings: Settings) -> None:
    """Sessions here live through the 12 hours of the policy's rule without being used."""
    settings.SESSION_IDLE_TIMEOUT = 24 * 3600


@pytest.fixture
def device(owner: Membership) -> TOTPDevice:
    return give_authenticator_app(owner.user)


@pytest.fixture
def pending(owner: Membership, device: TOTPDevice) -> Client:
    return pending_client(owner.user)


@pytest.fixture
def api_key(owner: Membership) -> ApiKey:
    return create_key(
        account=owner.account, user=owner.user, name="Main App", scopes=["calls:read"]
    ).api_key


def verify_with(client: Client, code: str, method: str = "totp", **extra: str) -> Any:
    prefix = "totp" if method == "totp" else "recovery"
    return client.post(VERIFY, {"method": method, f"{prefix}-code": code, **extra})


def is_pending(client: Client) -> bool:
    return PENDING_SESSION_KEY in client.session and SESSION_KEY in client.session


# Signing in


def test_the_right_password_leads_to_the_verification_page_not_the_dashboard(
    owner: Membership, device: TOTPDevice
) -> None:
    client = Client()
    response = client.post(
        "/login/", {"username": owner.user.email, "password": PASSWORD}, follow=True
    )
    assert response.redirect_chain[-1][0] == f"{VERIFY}?next=%2F"
    assertContains(response, "<h1>Two-factor authentication</h1>", html=True)
    assertContains(response, "Use a recovery code")
    assert is_pending(client)


def test_a_login_without_a_second_factor_is_signed_in_at_once(owner: Membership) -> None:
    client = Client()
    client.post("/login/", {"username": owner.user.email, "password": PASSWORD})
    assert client.get("/").status_code == 200
    assert PENDING_SESSION_KEY not in client.session


def test_the_current_code_signs_in_and_rotates_the_session_key(
    pending: Client, device: TOTPDevice
) -> None:
    half_signed_in_key = pending.session.session_key
    response = verify_with(pending, totp_code(device), next="/settings/api-keys/")
    assert response.status_code == 302
    assert response["Location"] == "/settings/api-keys/"
    session = pending.session
    assert session.session_key != half_signed_in_key
    assert PENDING_SESSION_KEY not in session
    assert session[VERIFIED_SESSION_KEY] == START.timestamp()
    assert session[METHOD_SESSION_KEY] == "totp"
    assert pending.get("/settings/api-keys/").status_code == 200


@pytest.mark.parametrize("next_url", ["https://evil.test/", "//evil.test/x", ""])
def test_a_next_to_another_site_leads_to_the_dashboard(
    pending: Client, device: TOTPDevice, next_url: str
) -> None:
    response = verify_with(pending, totp_code(device), next=next_url)
    assert response["Location"] == "/"


def test_the_page_keeps_next_for_the_form(pending: Client) -> None:
    response = pending.get(f"{VERIFY}?next=/settings/members/")
    assertContains(response, '<input type="hidden" name="next" value="/settings/members/">', 2)


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("12345", "Enter the 6-digit code from your authenticator app."),
        ("abcdef", "Enter the 6-digit code from your authenticator app."),
        ("1234567", "Enter the 6-digit code from your authenticator app."),
        ("", "This field is required."),
    ],
)
def test_a_malformed_code_is_a_form_error_and_not_counted(
    pending: Client, owner: Membership, code: str, error: str
) -> None:
    response = verify_with(pending, code)
    assertContains(response, error, status_code=422)
    assert is_pending(pending)
    assert not SecondFactorAttempts.objects.exists()


def test_a_wrong_code_is_a_form_error_and_changes_nothing(
    pending: Client, device: TOTPDevice
) -> None:
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    response = verify_with(pending, wrong)
    assertContains(response, "That code is not right, or was already used.", status_code=422)
    assertContains(response, 'aria-invalid="true"', status_code=422)
    assert is_pending(pending)
    assert pending.get("/").status_code == 302


def test_a_code_two_steps_old_is_refused(pending: Client, device: TOTPDevice) -> None:
    assert verify_with(pending, totp_code(device, steps=-2)).status_code == 422
    assert is_pending(pending)


def test_a_code_already_used_is_refused_in_another_sign_in(
    owner: Membership, device: TOTPDevice
) -> None:
    code = totp_code(device)
    assert verify_with(pending_client(owner.user), code).status_code == 302
    second = pending_client(owner.user)
    assertContains(verify_with(second, code), "already used", status_code=422)
    assert is_pending(second)


def test_a_recovery_code_signs_in_once_and_says_how_many_are_left(
    pending: Client, owner: Membership
) -> None:
    codes = issue_recovery_codes(owner.user)
    response = verify_with(pending, codes[3].upper(), method="recovery_code")
    assert response.status_code == 302
    assert pending.session[METHOD_SESSION_KEY] == "recovery_code"
    assertContains(pending.get("/"), "You signed in with a recovery code. You have 9 left")
    assert recovery_codes_left(owner.user) == 9

    again = pending_client(owner.user)
    response = verify_with(again, codes[3], method="recovery_code")
    assertContains(response, "not one of yours, or was already used", status_code=422)
    assert is_pending(again)


def test_another_users_recovery_code_is_refused(pending: Client, member: Membership) -> None:
    codes = issue_recovery_codes(member.user)
    response = verify_with(pending, codes[0], method="recovery_code")
    assertContains(response, "not one of yours", status_code=422)
    assert is_pending(pending)
    assert recovery_codes_left(member.user) == 10


def test_a_malformed_recovery_code_shows_the_expected_form(pending: Client) -> None:
    response = verify_with(pending, "not-a-code!", method="recovery_code")
    assertContains(response, "ten letters and digits, like abcde-23456", status_code=422)
    assertContains(response, '<details class="two-factor-recovery" open>', status_code=422)


def test_cancel_signs_out(pending: Client) -> None:
    response = pending.post("/logout/")
    assert response.status_code == 302
    assert SESSION_KEY not in pending.session


def test_the_page_sends_a_session_that_is_not_pending_on(owner_client: Client) -> None:
    response = owner_client.get(f"{VERIFY}?next=/settings/profile/")
    assert response["Location"] == "/settings/profile/"


def test_signed_out_the_page_asks_for_the_password(client: Client) -> None:
    assert client.get(VERIFY)["Location"].startswith("/login/")


# A pending session grants nothing


def _sample_path(route: str, sample_pk: int) -> str:
    return "/" + re.sub(r"<[^>]+>", str(sample_pk), route)


def test_a_pending_session_reaches_no_route_of_the_urlconf(
    pending: Client, api_key: ApiKey
) -> None:
    checked = []
    for route, _ in iter_routes(get_resolver().url_patterns):
        path = _sample_path(route, api_key.pk)
        if path.startswith((VERIFY, "/logout/", "/api/")):
            continue
        response = pending.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith(f"{VERIFY}?next="), path
        assert pending.get(path, headers=HTMX)["HX-Redirect"].startswith(VERIFY), path
        response = pending.post(path, {"name": "x", "password": PASSWORD})
        assert response.status_code == 403, path
        assertContains(response, "Finish signing in", status_code=403)
        assert is_pending(pending), path
        checked.append(path)
    assert {"/", "/admin/", "/settings/api-keys/new/", "/account/confirm-password/"} <= set(checked)
    assert "/admin/accounts/user/" in checked
    api_key.refresh_from_db()
    assert api_key.name == "Main App" and ApiKey.objects.count() == 1


def test_the_api_ignores_a_pending_sessions_cookie(pending: Client) -> None:
    for path in ["/api/v1/calls", "/api/v1/credits", "/api/v1/contacts"]:
        response = pending.get(path)
        assert response.status_code == 401, path
        assert response["Content-Type"].startswith("application/json")
    assert pending.get("/api/v1/health").status_code == 200


def test_a_session_that_is_not_pending_costs_no_query(
    django_assert_num_queries: Any,
) -> None:
    def untouchable() -> None:
        raise AssertionError("the middleware looked the user up")

    request = RequestFactory().get("/settings/api-keys/")
    request.session = SessionStore()
    request.user = SimpleLazyObject(untouchable)
    with django_assert_num_queries(0):
        response = TwoFactorMiddleware(lambda request: HttpResponse("the view"))(request)
    assert response.content == b"the view"


def test_after_5_minutes_the_pending_session_is_signed_out_saying_why(
    pending: Client, device: TOTPDevice, clock: Any
) -> None:
    clock.move_to(START + timedelta(seconds=300))
    assert pending.get(VERIFY).status_code == 200

    clock.move_to(START + timedelta(seconds=301))
    response = pending.post(VERIFY, {"method": "totp", "totp-code": totp_code(device)})
    assert response["Location"].startswith("/login/")
    assert SESSION_KEY not in pending.session
    assertContains(pending.get(response["Location"]), EXPIRED)


def test_an_expired_pending_session_is_signed_out_on_any_page(pending: Client, clock: Any) -> None:
    clock.move_to(START + timedelta(minutes=6))
    response = pending.get("/settings/api-keys/", follow=True)
    assert response.redirect_chain[0][0] == "/login/?next=/settings/api-keys/"
    assertContains(response, EXPIRED)


# Sudo mode with a second factor

CREATE = reverse("apikeys:create")
CONFIRM = reverse("confirm_password")


def verified_client(user: User, device: TOTPDevice) -> Client:
    client = pending_client(user)
    assert verify_with(client, totp_code(device)).status_code == 302
    return client


def test_sudo_offers_the_authenticator_beside_the_password(
    owner: Membership, device: TOTPDevice, clock: Any
) -> None:
    client = verified_client(owner.user, device)
    clock.move_to(START + timedelta(minutes=20))
    for headers in ({}, HTMX):
        response = client.get(CREATE, headers=headers)
        assertContains(response, "Confirm your password")
        assertContains(response, 'type="password"')
        assertContains(response, "Use your authenticator app instead")
        assertContains(response, 'autocomplete="one-time-code"')


def test_sudo_is_confirmed_with_an_authenticator_code(
    owner: Membership, device: TOTPDevice, clock: Any
) -> None:
    client = verified_client(owner.user, device)
    clock.move_to(START + timedelta(minutes=20))
    response = client.post(
        CONFIRM, {"method": "totp", "totp-code": totp_code(device), "next": CREATE}
    )
    assert response["Location"] == CREATE
    assert client.session[VERIFIED_SESSION_KEY] == (START + timedelta(minutes=20)).timestamp()
    assert client.post(CREATE, form_data()).status_code in (200, 302)
    assert ApiKey.objects.filter(name="Production Server – Main App").exists()


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_a_wrong_sudo_code_asks_again_and_confirms_nothing(
    owner: Membership, device: TOTPDevice, clock: Any, headers: dict[str, str]
) -> None:
    client = verified_client(owner.user, device)
    clock.move_to(START + timedelta(minutes=20))
    response = client.post(
        CONFIRM, {"method": "totp", "totp-code": "000000", "next": CREATE}, headers=headers
    )
    assertContains(response, "That code is not right", status_code=422)
    assertContains(response, "<details open>", status_code=422)
    assertContains(client.get(CREATE), "Confirm your password")


def test_a_user_without_an_authenticator_is_asked_only_for_the_password(
    owner_client: Client,
) -> None:
    assertNotContains(owner_client.get(CONFIRM), "authenticator app")


def test_in_an_account_requiring_two_factor_creating_a_key_needs_a_second_factor_in_12_hours(
    owner: Membership, device: TOTPDevice, clock: Any
) -> None:
    require_two_factor(owner)
    client = verified_client(owner.user, device)
    clock.move_to(START + timedelta(hours=11, minutes=50))
    client.post(CONFIRM, {"password": PASSWORD, "next": CREATE})
    assertNotContains(client.get(CREATE), "Confirm with two-factor authentication")

    clock.move_to(START + timedelta(hours=12, minutes=1))
    for headers in ({}, HTMX):
        response = client.get(CREATE, headers=headers)
        assertContains(response, "Confirm with two-factor authentication")
        assertContains(response, "Acme Voice requires two-factor authentication")
        assertNotContains(response, 'type="password"')
        response = client.post(CREATE, form_data(), headers=headers)
        assertContains(response, "Confirm with two-factor authentication", status_code=403)
    assert not ApiKey.objects.exists()

    # The password, fresh as it is, does not do.
    response = client.post(CONFIRM, {"password": PASSWORD, "next": CREATE}, follow=True)
    assertContains(response, "Confirm with two-factor authentication")

    response = client.post(
        CONFIRM, {"method": "totp", "totp-code": totp_code(device), "next": CREATE}
    )
    assert response["Location"] == CREATE
    assert client.post(CREATE, form_data()).status_code in (200, 302)
    assert ApiKey.objects.count() == 1


@pytest.mark.parametrize("view", ["apikeys:roll", "apikeys:edit"])
def test_rolling_and_editing_keys_need_the_recent_second_factor_too(
    owner: Membership, device: TOTPDevice, api_key: ApiKey, clock: Any, view: str
) -> None:
    require_two_factor(owner)
    client = verified_client(owner.user, device)
    clock.move_to(START + timedelta(hours=13))
    client.post(CONFIRM, {"password": PASSWORD, "next": "/"})
    response = client.post(reverse(view, args=[api_key.pk]), {"name": "Renamed", "grace": "1h"})
    assertContains(response, "Confirm with two-factor authentication", status_code=403)
    api_key.refresh_from_db()
    assert api_key.name == "Main App" and api_key.replaced_by_id is None


def test_a_member_without_a_factor_enrols_with_the_password_and_reaches_no_key(
    owner: Membership,
) -> None:
    # Turned on by staff, say: the service asks the owner to have a factor first.
    Account.objects.filter(pk=owner.account.pk).update(require_two_factor=True)
    client = Client()
    client.force_login(owner.user)
    session = client.session
    session[SUDO_SESSION_KEY] = 0  # long ago
    session.save()
    setup = reverse("authenticator_setup")
    # Sudo asks for the password, the only thing they have: asking for a factor would leave
    # them no way to enrol one.
    response = client.get(setup)
    assertContains(response, 'name="password"')
    assertNotContains(response, "Enter the 6-digit code")
    confirmed = client.post(reverse("confirm_password"), {"password": PASSWORD, "next": setup})
    assert confirmed["Location"] == setup
    assertContains(client.get(setup), "Enter the 6-digit code")
    # The policy holds them on Settings -> Security meanwhile.
    assert client.get(CREATE)["Location"] == reverse("security")
    assert client.post(CREATE, form_data()).status_code == 403
    assert not ApiKey.objects.exists()


# The Django admin


def test_the_admin_refuses_a_pending_session(settings: Settings) -> None:
    settings.ADMIN_REQUIRE_2FA = True
    root = new_superuser()
    give_authenticator_app(root)
    client = pending_client(root)
    assert client.get("/admin/")["Location"] == f"{VERIFY}?next=%2Fadmin%2F"
    assert client.post("/admin/accounts/user/add/", {"email": "x@y.test"}).status_code == 403
    assert not User.objects.filter(email="x@y.test").exists()


def test_the_admin_login_page_leaves_the_session_pending(settings: Settings) -> None:
    root = new_superuser()
    give_authenticator_app(root)
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": root.email, "password": PASSWORD}
    )
    assert response["Location"] == "/admin/"
    assert client.get("/admin/")["Location"].startswith(VERIFY)
    assert is_pending(client)


@pytest.mark.parametrize("path", ["/admin/", "/admin/accounts/user/", "/admin/login/"])
def test_with_admin_require_2fa_a_superuser_without_a_factor_is_refused_the_admin(
    settings: Settings, path: str
) -> None:
    settings.ADMIN_REQUIRE_2FA = True
    client = logged_in(new_superuser())
    response = client.get(path)
    assertContains(response, "Two-factor authentication required", status_code=403)
    assertContains(response, "Settings → Security first", status_code=403)
    assert client.post(path, {}).status_code == 403


def test_with_admin_require_2fa_a_verified_superuser_with_a_factor_uses_the_admin(
    settings: Settings,
) -> None:
    settings.ADMIN_REQUIRE_2FA = True
    root = new_superuser()
    client = verified_client(root, give_authenticator_app(root))
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/accounts/user/").status_code == 200


def test_without_admin_require_2fa_a_superuser_without_a_factor_uses_the_admin(
    settings: Settings,
) -> None:
    settings.ADMIN_REQUIRE_2FA = False
    assert logged_in(new_superuser()).get("/admin/").status_code == 200


def test_admin_require_2fa_asks_it_of_superusers_only(settings: Settings) -> None:
    settings.ADMIN_REQUIRE_2FA = True
    staff = UserFactory(email="helpdesk@voxkeys.test", is_staff=True)
    assert logged_in(staff).get("/admin/").status_code == 200


def test_the_admin_requirement_leaves_the_rest_of_the_site_alone(settings: Settings) -> None:
    settings.ADMIN_REQUIRE_2FA = True
    root = new_superuser()
    MembershipFactory(user=root, role=Membership.Role.OWNER)
    assert logged_in(root).get("/").status_code == 200
