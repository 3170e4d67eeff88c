"""Passkeys on the server: registration, the three sign-in ceremonies, removal, bad responses.

The responses are real WebAuthn ones, signed by tests/support/webauthn.py's authenticator.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django.asserts import assertContains

from accounts.models import Account, Membership, Passkey, RecoveryCode, User
from accounts.sudo import SUDO_SESSION_KEY
from accounts.twofactor.factors import recovery_code_digest
from accounts.twofactor.passkeys import CHALLENGE_SECONDS
from accounts.twofactor.state import (
    METHOD_SESSION_KEY,
    PENDING_SESSION_KEY,
    RECOVERY_CODES_SESSION_KEY,
    VERIFIED_SESSION_KEY,
)
from activity.models import ActivityEvent
from tests.support.webauthn import SoftAuthenticator

pytestmark = pytest.mark.django_db


def post_json(client: Client, url_name: str, body: Any) -> Any:
    return client.post(reverse(url_name), json.dumps(body), content_type="application/json")


def register(
    client: Client, authenticator: SoftAuthenticator, *, name: str = "Laptop", **bend: Any
) -> Any:
    """Add a passkey through both requests; `bend` goes to the authenticator (origin=...)."""
    options = post_json(client, "passkey_register_options", {"name": name})
    assert options.status_code == 200, options.content
    credential = authenticator.create(options.json(), **bend)
    return post_json(client, "passkey_register", {"credential": credential})


def sign_in(client: Client, ceremony: str, authenticator: SoftAuthenticator, **body: Any) -> Any:
    """Run an authentication ceremony ("passkey_login", "passkey_second_step", "passkey_sudo")."""
    options = post_json(client, f"{ceremony}_options", {})
    assert options.status_code == 200, options.content
    bend = {key: body.pop(key) for key in ("origin", "sign_count", "user_verified") if key in body}
    credential = authenticator.get(options.json(), **bend)
    return post_json(client, ceremony, {"credential": credential, **body})


def error_code(response: Any) -> str:
    assert response["Content-Type"] == "application/json"
    return str(response.json()["error"]["code"])


def enrolled(membership: Membership, owner_client: Client) -> SoftAuthenticator:
    authenticator = SoftAuthenticator()
    assert register(owner_client, authenticator).status_code == 200
    return authenticator


def signed_in_client(membership: Membership, *, sudo_age: timedelta = timedelta(0)) -> Client:
    """A fully signed-in session whose password (or factor) was confirmed `sudo_age` ago."""
    client = Client()
    client.force_login(membership.user)
    session = client.session
    session.pop(PENDING_SESSION_KEY, None)
    session[SUDO_SESSION_KEY] = (timezone.now() - sudo_age).timestamp()
    session.save()
    return client


def pending_client(user: User) -> Client:
    """A session that gave the password and waits for its second factor."""
    client = Client()
    client.force_login(user)
    assert PENDING_SESSION_KEY in client.session
    return client


@pytest.fixture
def passkey_owner(owner: Membership, owner_client: Client) -> SoftAuthenticator:
    """The owner with one passkey, added through the Security page's requests."""
    return enrolled(owner, owner_client)


# Registration


def test_a_verified_registration_is_stored_recorded_and_emailed(
    owner: Membership, owner_client: Client, django_capture_on_commit_callbacks: Any
) -> None:
    authenticator = SoftAuthenticator()
    with django_capture_on_commit_callbacks(execute=True):
        response = register(owner_client, authenticator, name="Work laptop")

    assert response.status_code == 200
    assert response.json() == {"redirect": reverse("security")}
    (passkey,) = owner.user.passkeys.all()
    assert passkey.name == "Work laptop"
    assert passkey.credential_id == authenticator.credential_id_b64
    assert passkey.transports == ["internal"]
    assert passkey.sign_count == 0
    event = ActivityEvent.objects.get(event_type=ActivityEvent.Type.TWO_FACTOR_ADDED)
    assert event.account == owner.account
    assert event.details == {"member": owner.user.email, "method": "passkey", "name": "Work laptop"}
    (email,) = mail.outbox
    assert email.to == [owner.user.email]
    assert '"Work laptop"' in email.body


def test_the_first_passkey_brings_recovery_codes_shown_once_and_the_second_none(
    owner: Membership, owner_client: Client
) -> None:
    register(owner_client, SoftAuthenticator())
    codes = owner_client.session[RECOVERY_CODES_SESSION_KEY]
    digests = set(RecoveryCode.objects.filter(user=owner.user).values_list("digest", flat=True))
    assert len(codes) == len(digests) == 10
    assert {recovery_code_digest(code) for code in codes} == digests
    session = owner_client.session
    session.pop(RECOVERY_CODES_SESSION_KEY)
    session.save()

    register(owner_client, SoftAuthenticator(), name="Phone")

    assert RECOVERY_CODES_SESSION_KEY not in owner_client.session
    assert set(RecoveryCode.objects.filter(user=owner.user).values_list("digest", flat=True)) == (
        digests
    )


def test_a_blank_name_becomes_passkey_and_the_date(owner: Membership, owner_client: Client) -> None:
    with time_machine.travel("2025-03-04 12:00:00Z", tick=False):
        register(owner_client, SoftAuthenticator(), name="  ")
    assert owner.user.passkeys.get().name == "Passkey 4 Mar 2025"


def test_an_unsafe_name_is_refused_before_the_ceremony_starts(owner_client: Client) -> None:
    response = post_json(owner_client, "passkey_register_options", {"name": "Laptop\u202e"})
    assert response.status_code == 400
    assert error_code(response) == "invalid_name"


def test_registration_needs_a_fresh_sudo_confirmation(owner: Membership) -> None:
    client = signed_in_client(owner, sudo_age=timedelta(minutes=16))

    response = post_json(client, "passkey_register_options", {"name": "Laptop"})

    assert response.status_code == 403
    assert error_code(response) == "sudo_required"
    assert response.json()["error"]["confirm_url"].startswith(reverse("confirm_password"))


def test_a_registration_made_on_another_origin_is_refused(
    owner: Membership, owner_client: Client
) -> None:
    response = register(owner_client, SoftAuthenticator(), origin="https://evil.test")
    assert response.status_code == 400
    assert error_code(response) == "invalid_response"
    assert not Passkey.objects.exists()
    assert not ActivityEvent.objects.exists()


def test_a_registration_for_another_challenge_is_refused(owner_client: Client) -> None:
    authenticator = SoftAuthenticator()
    first = post_json(owner_client, "passkey_register_options", {"name": "One"}).json()
    post_json(owner_client, "passkey_register_options", {"name": "Two"})

    response = post_json(
        owner_client, "passkey_register", {"credential": authenticator.create(first)}
    )

    assert error_code(response) == "invalid_response"
    assert not Passkey.objects.exists()


def test_a_challenge_is_used_once(owner_client: Client) -> None:
    options = post_json(owner_client, "passkey_register_options", {"name": "One"}).json()
    credential = SoftAuthenticator().create(options)
    assert (
        post_json(owner_client, "passkey_register", {"credential": credential}).status_code == 200
    )

    again = post_json(owner_client, "passkey_register", {"credential": credential})

    assert error_code(again) == "no_challenge"
    assert Passkey.objects.count() == 1


def test_a_challenge_older_than_five_minutes_is_refused(owner_client: Client) -> None:
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        options = post_json(owner_client, "passkey_register_options", {"name": "One"}).json()
        traveller.shift(timedelta(seconds=CHALLENGE_SECONDS + 1))
        response = post_json(
            owner_client, "passkey_register", {"credential": SoftAuthenticator().create(options)}
        )
    assert error_code(response) == "no_challenge"
    assert not Passkey.objects.exists()


def test_a_passkey_already_registered_is_not_added_twice(
    owner: Membership, owner_client: Client, passkey_owner: SoftAuthenticator
) -> None:
    response = register(owner_client, passkey_owner)
    assert error_code(response) == "already_registered"
    assert owner.user.passkeys.count() == 1


# The second step of sign-in


def test_a_pending_session_is_verified_by_its_passkey_with_a_new_session_key(
    owner: Membership, passkey_owner: SoftAuthenticator
) -> None:
    client = pending_client(owner.user)
    key_before = client.session.session_key

    response = sign_in(client, "passkey_second_step", passkey_owner, next="/settings/members/")

    assert response.status_code == 200
    assert response.json() == {"redirect": "/settings/members/"}
    session = client.session
    assert session.session_key != key_before
    assert PENDING_SESSION_KEY not in session
    assert session[METHOD_SESSION_KEY] == "passkey"
    assert VERIFIED_SESSION_KEY in session
    passkey = owner.user.passkeys.get()
    assert passkey.sign_count == 1
    assert passkey.last_used_at is not None


def test_the_second_step_refuses_another_users_passkey(
    owner: Membership, passkey_owner: SoftAuthenticator, other_owner: Membership
) -> None:
    other = SoftAuthenticator()
    assert register(signed_in_client(other_owner), other).status_code == 200
    client = pending_client(owner.user)

    response = sign_in(client, "passkey_second_step", other)

    assert response.status_code == 400
    assert error_code(response) == "unknown_credential"
    assert PENDING_SESSION_KEY in client.session
    assert other_owner.user.passkeys.get().last_used_at is None


def test_the_second_step_refuses_a_session_that_is_not_pending(
    owner_client: Client, passkey_owner: SoftAuthenticator
) -> None:
    response = post_json(owner_client, "passkey_second_step_options", {})
    assert response.status_code == 403
    assert error_code(response) == "not_pending"


def test_the_second_step_refuses_an_expired_pending_session(
    owner: Membership, passkey_owner: SoftAuthenticator
) -> None:
    client = pending_client(owner.user)
    with time_machine.travel(timezone.now() + timedelta(minutes=6)):
        response = post_json(client, "passkey_second_step_options", {})
    assert error_code(response) == "not_pending"


def test_an_assertion_made_on_another_origin_is_refused(
    owner: Membership, passkey_owner: SoftAuthenticator
) -> None:
    client = pending_client(owner.user)

    response = sign_in(client, "passkey_second_step", passkey_owner, origin="https://evil.test")

    assert error_code(response) == "invalid_response"
    assert PENDING_SESSION_KEY in client.session
    assert owner.user.passkeys.get().last_used_at is None


def test_a_replayed_counter_is_refused_and_changes_nothing(
    owner: Membership, passkey_owner: SoftAuthenticator
) -> None:
    assert (
        sign_in(pending_client(owner.user), "passkey_second_step", passkey_owner).status_code == 200
    )
    used = owner.user.passkeys.get()
    client = pending_client(owner.user)

    response = sign_in(client, "passkey_second_step", passkey_owner, sign_count=used.sign_count)

    assert error_code(response) == "replayed_assertion"
    assert PENDING_SESSION_KEY in client.session
    after = owner.user.passkeys.get()
    assert (after.sign_count, after.last_used_at) == (used.sign_count, used.last_used_at)


def test_an_authenticator_without_a_counter_may_send_zero_every_time(
    owner: Membership, passkey_owner: SoftAuthenticator
) -> None:
    for _ in range(2):
        response = sign_in(
            pending_client(owner.user), "passkey_second_step", passkey_owner, sign_count=0
        )
        assert response.status_code == 200


def test_a_removed_passkey_no_longer_signs_in(
    owner: Membership, owner_client: Client, passkey_owner: SoftAuthenticator
) -> None:
    register(owner_client, SoftAuthenticator(), name="Spare")
    passkey = owner.user.passkeys.get(credential_id=passkey_owner.credential_id_b64)
    owner_client.post(reverse("passkey_remove", args=[passkey.pk]))
    client = pending_client(owner.user)

    response = sign_in(client, "passkey_second_step", passkey_owner)

    assert error_code(response) == "unknown_credential"
    assert PENDING_SESSION_KEY in client.session


def test_an_answer_to_the_sudo_challenge_does_not_pass_the_second_step(
    owner: Membership, owner_client: Client, passkey_owner: SoftAuthenticator
) -> None:
    options = post_json(owner_client, "passkey_sudo_options", {}).json()
    client = pending_client(owner.user)
    post_json(client, "passkey_second_step_options", {})

    response = post_json(client, "passkey_second_step", {"credential": passkey_owner.get(options)})

    assert error_code(response) == "invalid_response"


# Passwordless sign-in


def test_a_passkey_alone_signs_in_from_the_login_page(
    owner: Membership, passkey_owner: SoftAuthenticator
) -> None:
    client = Client()

    response = sign_in(client, "passkey_login", passkey_owner)

    assert response.status_code == 200
    assert response.json() == {"redirect": reverse("dashboard")}
    session = client.session
    assert session[SESSION_KEY] == str(owner.user.pk)
    assert PENDING_SESSION_KEY not in session
    assert session[METHOD_SESSION_KEY] == "passkey"
    assert client.get(reverse("dashboard")).status_code == 200


def test_a_passkey_alone_must_have_verified_its_user(
    owner: Membership, passkey_owner: SoftAuthenticator
) -> None:
    client = Client()
    options = post_json(client, "passkey_login_options", {}).json()
    assert options["userVerification"] == "required"

    response = sign_in(client, "passkey_login", passkey_owner, user_verified=False)

    assert error_code(response) == "invalid_response"
    assert SESSION_KEY not in client.session
    assert owner.user.passkeys.get().last_used_at is None


def test_after_the_password_a_touch_of_the_passkey_is_enough(
    owner: Membership, passkey_owner: SoftAuthenticator
) -> None:
    client = pending_client(owner.user)
    response = sign_in(client, "passkey_second_step", passkey_owner, user_verified=False)
    assert response.status_code == 200
    assert PENDING_SESSION_KEY not in client.session


def test_passwordless_sign_in_follows_only_a_next_on_this_site(
    owner: Membership, passkey_owner: SoftAuthenticator
) -> None:
    response = sign_in(Client(), "passkey_login", passkey_owner, next="https://evil.test/")
    assert response.json() == {"redirect": reverse("dashboard")}


def test_passwordless_sign_in_refuses_an_inactive_user(
    owner: Membership, passkey_owner: SoftAuthenticator
) -> None:
    User.objects.filter(pk=owner.user.pk).update(is_active=False)
    client = Client()

    response = sign_in(client, "passkey_login", passkey_owner)

    assert error_code(response) == "unknown_credential"
    assert SESSION_KEY not in client.session


def test_passwordless_sign_in_refuses_a_user_handle_of_someone_else(
    owner: Membership, passkey_owner: SoftAuthenticator, other_owner: Membership
) -> None:
    other = SoftAuthenticator()
    register(signed_in_client(other_owner), other)
    passkey_owner.user_handle = other.user_handle
    client = Client()

    response = sign_in(client, "passkey_login", passkey_owner)

    assert error_code(response) == "unknown_credential"
    assert SESSION_KEY not in client.session


def test_an_unknown_passkey_signs_no_one_in(passkey_owner: SoftAuthenticator) -> None:
    client = Client()
    response = sign_in(client, "passkey_login", SoftAuthenticator(user_handle=b"x"))
    assert error_code(response) == "unknown_credential"
    assert SESSION_KEY not in client.session


# Sudo mode


def test_a_passkey_confirms_sudo_mode(owner: Membership, passkey_owner: SoftAuthenticator) -> None:
    client = signed_in_client(owner, sudo_age=timedelta(minutes=16))

    response = sign_in(client, "passkey_sudo", passkey_owner, next="/settings/api-keys/")

    assert response.json() == {"redirect": "/settings/api-keys/"}
    assert client.session[SUDO_SESSION_KEY] > timezone.now().timestamp() - 5


def test_sudo_mode_refuses_a_half_signed_in_session(
    owner: Membership, passkey_owner: SoftAuthenticator
) -> None:
    # The sign-in's second step holds the session before the view can answer.
    response = post_json(pending_client(owner.user), "passkey_sudo_options", {})
    assertContains(response, "Finish signing in", status_code=403)


# Removal and the last-factor rule


def test_removing_asks_for_sudo_then_removes_records_and_emails(
    owner: Membership, passkey_owner: SoftAuthenticator, django_capture_on_commit_callbacks: Any
) -> None:
    client = signed_in_client(owner, sudo_age=timedelta(minutes=16))
    passkey = owner.user.passkeys.get()
    url = reverse("passkey_remove", args=[passkey.pk])

    assert client.post(url).status_code == 403
    assert client.get(url).templates[0].name == "accounts/confirm_password.html"
    assert Passkey.objects.filter(pk=passkey.pk).exists()

    session = client.session
    session[SUDO_SESSION_KEY] = timezone.now().timestamp()
    session.save()
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url)

    assert response.status_code == 302
    assert not Passkey.objects.filter(pk=passkey.pk).exists()
    event = ActivityEvent.objects.get(event_type=ActivityEvent.Type.TWO_FACTOR_REMOVED)
    assert event.details == {"member": owner.user.email, "method": "passkey", "name": "Laptop"}
    (email,) = mail.outbox
    assert "no second factor left" in email.body
    # The last factor gone, the recovery codes are no use: they go too.
    assert not RecoveryCode.objects.filter(user=owner.user).exists()


def test_the_last_passkey_stays_while_an_account_requires_two_factor(
    owner: Membership, owner_client: Client, passkey_owner: SoftAuthenticator
) -> None:
    Account.objects.filter(pk=owner.account.pk).update(require_two_factor=True)
    passkey = owner.user.passkeys.get()

    response = owner_client.post(reverse("passkey_remove", args=[passkey.pk]), follow=True)

    assert Passkey.objects.filter(pk=passkey.pk).exists()
    assert "requires two-factor authentication" in response.content.decode()
    assert not ActivityEvent.objects.filter(
        event_type=ActivityEvent.Type.TWO_FACTOR_REMOVED
    ).exists()


def test_another_users_passkey_cannot_be_removed(
    passkey_owner: SoftAuthenticator, other_owner: Membership
) -> None:
    client = signed_in_client(other_owner)
    passkey = Passkey.objects.get()
    assert client.post(reverse("passkey_remove", args=[passkey.pk])).status_code == 404
    assert Passkey.objects.filter(pk=passkey.pk).exists()


# Bad input


MALFORMED_BODIES = [
    b"not json",
    b"[]",
    b'{"credential": "x"}',
    b'{"credential": {}}',
    b'{"credential": {"id": "AA", "rawId": "AA", "type": "public-key", "response": {}}}',
    b'{"credential": {"id": "!!", "rawId": "!!", "type": "public-key", "response": '
    b'{"clientDataJSON": "!!", "authenticatorData": "!!", "signature": "!!", '
    b'"attestationObject": "!!", "userHandle": "!!"}}}',
    b'{"credential": {"id": "AA", "rawId": "AA", "type": "public-key", "response": '
    b'{"clientDataJSON": "AA", "authenticatorData": "AA", "signature": "AA", '
    b'"attestationObject": "AA"}}}',
]


@pytest.mark.parametrize("body", MALFORMED_BODIES)
@pytest.mark.parametrize(
    "ceremony", ["passkey_register", "passkey_second_step", "passkey_login", "passkey_sudo"]
)
def test_a_malformed_response_is_a_clear_400_and_changes_nothing(
    owner: Membership, owner_client: Client, ceremony: str, body: bytes
) -> None:
    enrolled(owner, owner_client)
    client = pending_client(owner.user) if ceremony == "passkey_second_step" else owner_client
    if ceremony == "passkey_login":
        client = Client()
    options_name = (
        "passkey_register_options" if ceremony == "passkey_register" else f"{ceremony}_options"
    )
    post_json(client, options_name, {"name": "Two"})

    response = client.post(reverse(ceremony), body, content_type="application/json")

    assert response.status_code == 400
    assert error_code(response) in {"malformed_request", "invalid_response", "unknown_credential"}
    assert Passkey.objects.count() == 1
    assert Passkey.objects.get().last_used_at is None


def test_a_response_without_options_first_is_refused(owner_client: Client) -> None:
    credential = SoftAuthenticator().create({"challenge": "AA", "user": {"id": "AA"}})
    response = post_json(owner_client, "passkey_register", {"credential": credential})
    assert error_code(response) == "no_challenge"


# Pages


def test_the_security_page_lists_the_passkeys(
    owner_client: Client, passkey_owner: SoftAuthenticator
) -> None:
    response = owner_client.get(reverse("security"))
    assert response.status_code == 200
    content = response.content.decode()
    assert "Laptop" in content
    assert "Never" in content
    assert "Add a passkey" in content


def test_the_login_page_offers_a_passkey(client: Client) -> None:
    response = client.get(reverse("login"))
    assert "Sign in with a passkey" in response.content.decode()
