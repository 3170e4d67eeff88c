"""The new-browser alert: "New sign-in to VoxPria", once per browser and person."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.test import Client, RequestFactory
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import KnownBrowser, Membership
from accounts.twofactor.browsers import (
    BROWSER_COOKIE,
    BROWSER_COOKIE_MAX_AGE,
    browser_token,
    token_digest,
)
from accounts.twofactor.state import mark_verified
from tests.factories import PASSWORD
from tests.support.sessions import FIREFOX_ON_WINDOWS, browser, sign_in

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("on_commit_at_once")]

START = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)
SUBJECT = "[VoxPria] New sign-in to VoxPria"


def alerts_to(email: str) -> list[mail.EmailMessage]:
    return [
        message for message in mail.outbox if message.to == [email] and message.subject == SUBJECT
    ]


@pytest.fixture
def known_laptop(owner: Membership) -> Client:
    """The owner's first browser: signed in once, and signed out again."""
    laptop = sign_in(browser(), owner.user)
    laptop.post("/logout/")
    return laptop


def test_the_very_first_sign_in_sends_no_alert_but_remembers_the_browser(
    owner: Membership,
) -> None:
    client = browser()
    response = client.post("/login/", {"username": owner.user.email, "password": PASSWORD})

    assert alerts_to(owner.user.email) == []
    cookie = response.cookies[BROWSER_COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["max-age"] == BROWSER_COOKIE_MAX_AGE
    assert KnownBrowser.objects.filter(user=owner.user).count() == 1


def test_signing_in_again_from_the_same_browser_sends_no_alert(
    owner: Membership, known_laptop: Client
) -> None:
    sign_in(known_laptop, owner.user)

    assert alerts_to(owner.user.email) == []
    assert KnownBrowser.objects.filter(user=owner.user).count() == 1


def test_a_sign_in_from_another_browser_is_emailed_once(
    owner: Membership, known_laptop: Client
) -> None:
    desktop = sign_in(browser(), owner.user)
    desktop.post("/logout/")
    sign_in(desktop, owner.user)

    assert len(alerts_to(owner.user.email)) == 1
    assert KnownBrowser.objects.filter(user=owner.user).count() == 2


def test_the_alert_says_when_where_from_and_what_and_links_to_the_sessions(
    owner: Membership, known_laptop: Client
) -> None:
    with time_machine.travel(START, tick=False):
        sign_in(browser(ip="198.51.100.23", user_agent=FIREFOX_ON_WINDOWS), owner.user)

    [alert] = alerts_to(owner.user.email)
    assert "7 Dec 2026, 09:30 UTC" in alert.body
    assert "198.51.100.23" in alert.body
    assert "Firefox 133 on Windows" in alert.body
    assert "http://testserver/settings/security/#sessions" in alert.body


def test_a_tampered_cookie_is_a_new_browser(owner: Membership, known_laptop: Client) -> None:
    signed = known_laptop.cookies[BROWSER_COOKIE].value
    known_laptop.cookies[BROWSER_COOKIE] = signed[:-1] + ("A" if signed[-1] != "A" else "B")

    response = known_laptop.post("/login/", {"username": owner.user.email, "password": PASSWORD})

    assert len(alerts_to(owner.user.email)) == 1
    assert response.cookies[BROWSER_COOKIE].value != signed


def test_a_browser_another_person_signed_in_from_is_new_to_this_one(
    owner: Membership, member: Membership, known_laptop: Client
) -> None:
    sign_in(browser(), member.user).post("/logout/")  # the member's own first browser

    sign_in(known_laptop, member.user)
    known_laptop.post("/logout/")
    sign_in(known_laptop, member.user)

    assert len(alerts_to(member.user.email)) == 1
    assert alerts_to(owner.user.email) == []
    # One cookie for the shared browser: both people know it by the same token.
    assert set(KnownBrowser.objects.filter(user=owner.user).values_list("token_digest")) & set(
        KnownBrowser.objects.filter(user=member.user).values_list("token_digest")
    )


def test_with_a_second_factor_the_alert_waits_for_it(
    owner: Membership, known_laptop: Client, rf: RequestFactory
) -> None:
    TOTPDevice.objects.create(user=owner.user, name="Phone", confirmed=True)
    desktop = sign_in(browser(ip="198.51.100.99"), owner.user)
    assert alerts_to(owner.user.email) == []
    assert KnownBrowser.objects.filter(user=owner.user).count() == 1

    request = rf.post("/login/two-factor/", REMOTE_ADDR="198.51.100.99")
    request.session = desktop.session
    request.user = owner.user
    mark_verified(request, "totp")

    [alert] = alerts_to(owner.user.email)
    assert "198.51.100.99" in alert.body
    assert KnownBrowser.objects.filter(user=owner.user).count() == 2


def test_the_cookie_holds_a_token_the_database_keeps_only_as_a_digest(
    owner: Membership, known_laptop: Client, rf: RequestFactory
) -> None:
    request = rf.get("/")
    request.COOKIES[BROWSER_COOKIE] = known_laptop.cookies[BROWSER_COOKIE].value
    token = browser_token(request)

    assert token is not None
    [known] = KnownBrowser.objects.filter(user=owner.user)
    assert known.token_digest == token_digest(token)
    assert token not in known.token_digest


def test_a_sign_in_outside_a_page_links_to_the_configured_site(
    owner: Membership, known_laptop: Client, settings: Any
) -> None:
    settings.SITE_URL = "https://app.voxpria.test"

    Client().force_login(owner.user)

    [alert] = alerts_to(owner.user.email)
    assert "https://app.voxpria.test/settings/security/#sessions" in alert.body
