"""Settings -> Security's authenticator app and recovery codes: the pages, sudo, bad input."""

from __future__ import annotations

import re
from base64 import b32encode
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from pytest_django.asserts import assertContains, assertNotContains

from accounts.models import Membership, Passkey, RecoveryCode
from accounts.twofactor.codes import use_recovery_code
from accounts.twofactor.enrolment import start_authenticator
from accounts.twofactor.factors import has_two_factor, recovery_codes_left
from accounts.twofactor.state import METHOD_SESSION_KEY, VERIFIED_SESSION_KEY
from tests.support.twofactor import enrol_authenticator, past_second_factor, totp_code

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 7, 9, 0, 5, tzinfo=UTC)
SECURITY = reverse("security")
SET_UP = reverse("authenticator_setup")
REMOVE = reverse("authenticator_remove")
REGENERATE = reverse("recovery_codes_regenerate")
ASKS_PASSWORD = "Confirm your password"


@pytest.fixture(autouse=True)
def clock() -> Iterator[time_machine.Coordinates]:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def stale_client(owner: Membership, clock: time_machine.Coordinates) -> Client:
    """The owner, signed in an hour ago: sudo mode has lapsed."""
    client = Client()
    client.force_login(owner.user)
    clock.shift(timedelta(hours=1))
    return client


def _pending(owner: Membership) -> TOTPDevice:
    return TOTPDevice.objects.get(user=owner.user, confirmed=False)


def _shown_codes(html: str) -> list[str]:
    return re.findall(r"<code>([a-z2-9]{5}-[a-z2-9]{5})</code>", html)


class TestSecurityPage:
    def test_without_a_factor_it_offers_to_set_up_an_app(self, owner_client: Client) -> None:
        response = owner_client.get(SECURITY)

        assertContains(
            response,
            f'<a class="button button--primary" href="{SET_UP}">Set up authenticator app</a>',
            html=True,
        )
        assertNotContains(response, "recovery codes left")
        assert "no-cache" in response["Cache-Control"]

    def test_with_an_app_it_offers_replace_remove_and_counts_the_codes(
        self, owner: Membership, owner_client: Client
    ) -> None:
        _, codes = enrol_authenticator(owner.user)
        RecoveryCode.objects.filter(user=owner.user).order_by("pk")[:1].get().delete()

        response = owner_client.get(SECURITY)

        assertContains(response, "Replace app")
        assertContains(response, f'href="{REMOVE}"')
        assertContains(response, "9 of 10 recovery codes left.")
        assertContains(response, f'href="{REGENERATE}"')
        assert _shown_codes(response.content.decode()) == []

    def test_with_few_codes_left_it_advises_new_ones(
        self, owner: Membership, owner_client: Client
    ) -> None:
        _, codes = enrol_authenticator(owner.user)
        for code in codes[:7]:
            use_recovery_code(user=owner.user, code=code, context=None)

        response = owner_client.get(SECURITY)

        assertContains(response, "3 of 10 recovery codes left.")
        assertContains(response, "You are running out of recovery codes.")


class TestSetUp:
    def test_it_needs_sudo_mode_and_a_refused_post_changes_nothing(
        self, owner: Membership, stale_client: Client
    ) -> None:
        response = stale_client.get(SET_UP)
        assertContains(response, ASKS_PASSWORD)
        assertContains(response, "To set up an authenticator app, confirm your password")
        assert not TOTPDevice.objects.filter(user=owner.user).exists()

        response = stale_client.post(SET_UP, {"code": "123456"})
        assert response.status_code == 403
        assert not TOTPDevice.objects.filter(user=owner.user).exists()

    def test_it_shows_the_qr_code_the_secret_and_the_settings(
        self, owner: Membership, owner_client: Client
    ) -> None:
        response = owner_client.get(SET_UP)

        device = _pending(owner)
        html = response.content.decode()
        secret = b32encode(device.bin_key).decode()
        grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
        assertContains(response, grouped)
        assert re.search(r'<svg [^>]*class="qr-code"', html)
        assert not re.search(r"<svg[^>]*\sstyle=", html)
        assertContains(response, "<dt>Digits</dt><dd>6</dd>", html=True)
        assertContains(response, "<dt>Period</dt><dd>30 seconds</dd>", html=True)
        assertContains(response, "<dt>Algorithm</dt><dd>SHA-1</dd>", html=True)
        assertContains(response, "VoxPria: owner@acme.test")
        assertContains(response, '<label for="id_code">Enter the 6-digit code</label>', html=True)
        assert "no-cache" in response["Cache-Control"]

    def test_a_reload_shows_the_same_secret(self, owner: Membership, owner_client: Client) -> None:
        owner_client.get(SET_UP)
        first = _pending(owner)

        owner_client.get(SET_UP)

        assert _pending(owner) == first

    @pytest.mark.parametrize(
        ("code", "error"),
        [
            ("", "Enter the 6-digit code your app shows now."),
            ("12345", "Enter the 6-digit code your app shows now (digits only)."),
            ("abcdef", "Enter the 6-digit code your app shows now (digits only)."),
            ("9" * 21, "Ensure this value has at most 20 characters"),
            ("wrong", None),
        ],
    )
    def test_a_bad_code_gets_an_error_next_to_the_field_and_changes_nothing(
        self, owner: Membership, owner_client: Client, code: str, error: str | None
    ) -> None:
        owner_client.get(SET_UP)
        device = _pending(owner)
        if code == "wrong":
            code, error = totp_code(device, 3), "That code is not right, or was already used."

        response = owner_client.post(SET_UP, {"code": code})

        assert response.status_code == 422
        assertContains(response, 'class="field__error" id="id_code-error"', status_code=422)
        assertContains(response, error, status_code=422)
        assert _pending(owner) == device
        assert has_two_factor(owner.user) is False
        assert not RecoveryCode.objects.filter(user=owner.user).exists()

    def test_the_right_code_turns_it_on_and_the_security_page_shows_the_codes_once(
        self, owner: Membership, owner_client: Client
    ) -> None:
        owner_client.get(SET_UP)
        device = _pending(owner)

        response = owner_client.post(SET_UP, {"code": totp_code(device)}, follow=True)

        assert response.redirect_chain == [(SECURITY, 302)]
        assertContains(response, "Your authenticator app is set up")
        assertContains(response, "they won't be shown again")
        shown = _shown_codes(response.content.decode())
        assert len(shown) == 10
        assertContains(response, "10 of 10 recovery codes left.")
        assert has_two_factor(owner.user) is True
        session = owner_client.session
        assert session[METHOD_SESSION_KEY] == "totp" and VERIFIED_SESSION_KEY in session

        again = owner_client.get(SECURITY)
        assert _shown_codes(again.content.decode()) == []
        assertContains(again, "10 of 10 recovery codes left.")

    def test_replacing_says_so_and_shows_no_new_codes(
        self, owner: Membership, owner_client: Client, clock: time_machine.Coordinates
    ) -> None:
        old, _ = enrol_authenticator(owner.user)

        response = owner_client.get(SET_UP)
        assertContains(response, "Replace authenticator app")
        assertContains(response, "Your current app keeps working until you confirm the new one")
        new = _pending(owner)
        assert TOTPDevice.objects.filter(pk=old.pk, confirmed=True).exists()

        response = owner_client.post(SET_UP, {"code": totp_code(new)}, follow=True)

        assertContains(response, "Your new authenticator app replaced the previous one.")
        assert _shown_codes(response.content.decode()) == []
        assert list(TOTPDevice.objects.filter(user=owner.user)) == [new]

    def test_a_post_without_a_set_up_started_is_sent_back_to_start(
        self, owner: Membership, owner_client: Client
    ) -> None:
        response = owner_client.post(SET_UP, {"code": "123456"})

        assert response.status_code == 302 and response["Location"] == SET_UP
        assert not TOTPDevice.objects.filter(user=owner.user).exists()

    def test_a_post_without_the_csrf_token_is_refused(self, owner: Membership) -> None:
        client = Client(enforce_csrf_checks=True)
        client.force_login(owner.user)
        device = start_authenticator(user=owner.user)

        response = client.post(SET_UP, {"code": totp_code(device)})

        assert response.status_code == 403
        assert has_two_factor(owner.user) is False


class TestRemove:
    def test_it_needs_sudo_mode(self, owner: Membership, stale_client: Client) -> None:
        enrol_authenticator(owner.user)

        assertContains(stale_client.get(REMOVE), ASKS_PASSWORD)
        assert stale_client.post(REMOVE).status_code == 403
        assert has_two_factor(owner.user) is True

    def test_it_asks_first_and_warns_that_the_last_factor_turns_two_factor_off(
        self, owner: Membership, owner_client: Client
    ) -> None:
        enrol_authenticator(owner.user)

        response = owner_client.get(REMOVE)

        assertContains(response, "Remove authenticator app?")
        assertContains(response, "Removing it turns two-factor sign-in off")
        assert has_two_factor(owner.user) is True

    def test_removing_it(self, owner: Membership, owner_client: Client) -> None:
        enrol_authenticator(owner.user)

        response = owner_client.post(REMOVE, follow=True)

        assertContains(response, "Your authenticator app was removed.")
        assertContains(response, "Set up authenticator app")
        assert has_two_factor(owner.user) is False
        assert not RecoveryCode.objects.filter(user=owner.user).exists()

    def test_the_policy_refuses_removing_the_last_factor(
        self, owner: Membership, owner_client: Client
    ) -> None:
        enrol_authenticator(owner.user)
        owner.account.require_two_factor = True
        owner.account.save()
        past_second_factor(owner_client)

        page = owner_client.get(REMOVE)
        assertContains(page, "Acme Voice requires two-factor authentication")
        assertNotContains(page, "Remove app</button>")

        response = owner_client.post(REMOVE)
        assertContains(response, "Acme Voice requires two-factor authentication", status_code=409)
        assert has_two_factor(owner.user) is True
        assert recovery_codes_left(owner.user) == 10

    def test_with_a_passkey_left_it_does_not_warn(
        self, owner: Membership, owner_client: Client
    ) -> None:
        enrol_authenticator(owner.user)
        Passkey.objects.create(user=owner.user, name="YubiKey", credential_id="k", public_key=b"")

        response = owner_client.get(REMOVE)

        assertContains(response, "Your other second factors stay.")

    def test_without_an_app_there_is_nothing_to_remove(
        self, owner: Membership, owner_client: Client
    ) -> None:
        for response in (owner_client.get(REMOVE), owner_client.post(REMOVE)):
            assert response.status_code == 302 and response["Location"] == SECURITY


class TestRegenerate:
    def test_it_needs_sudo_mode(self, owner: Membership, stale_client: Client) -> None:
        _, codes = enrol_authenticator(owner.user)

        assertContains(stale_client.get(REGENERATE), ASKS_PASSWORD)
        assert stale_client.post(REGENERATE).status_code == 403
        assert set(RecoveryCode.objects.filter(user=owner.user).values_list("used_at")) == {(None,)}

    def test_it_asks_first_then_shows_the_new_codes_once(
        self, owner: Membership, owner_client: Client
    ) -> None:
        _, old = enrol_authenticator(owner.user)
        assertContains(owner_client.get(REGENERATE), "Your current codes stop working at once")

        response = owner_client.post(REGENERATE, follow=True)

        assert response.redirect_chain == [(SECURITY, 302)]
        new = _shown_codes(response.content.decode())
        assert len(new) == 10 and not set(new) & set(old)
        assertContains(response, "The old ones no longer work.")
        assert _shown_codes(owner_client.get(SECURITY).content.decode()) == []

    def test_without_a_factor_there_is_nothing_to_regenerate(
        self, owner: Membership, owner_client: Client
    ) -> None:
        for response in (owner_client.get(REGENERATE), owner_client.post(REGENERATE)):
            assert response.status_code == 302 and response["Location"] == SECURITY
        assert not RecoveryCode.objects.filter(user=owner.user).exists()


@pytest.mark.parametrize("url", [SET_UP, REMOVE, REGENERATE])
def test_the_pages_refuse_other_methods_and_signed_out_visitors(
    url: str, owner_client: Client
) -> None:
    response = Client().get(url)

    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert owner_client.delete(url).status_code == 405
