"""Signing secrets and signatures, checked by the standardwebhooks library: a consumer of the
specification that we did not write."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError
from pytest_django.fixtures import Settings
from standardwebhooks.webhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from accounts.models import Account
from voice.models import Webhook
from voice.webhooks.checks import check_encryption_keys
from voice.webhooks.secrets import (
    SecretUnreadable,
    decrypt_secret,
    encrypt_secret,
    new_signing_secret,
    signing_secrets,
)
from voice.webhooks.signing import signed_headers

BODY = json.dumps({"id": "evt_1", "type": "contact.created", "data": {}}).encode()
NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def headers_for(secrets: list[str], *, timestamp: datetime = NOW, body: bytes = BODY) -> dict:
    return signed_headers(
        secrets=secrets, message_id="evt_1", timestamp=int(timestamp.timestamp()), body=body
    )


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_signing_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_signing_secret() != secret


@time_machine.travel(NOW, tick=False)
def test_the_standard_webhooks_library_accepts_our_signature() -> None:
    secret = new_signing_secret()
    headers = headers_for([secret])
    assert headers["webhook-id"] == "evt_1"
    assert headers["webhook-timestamp"] == str(int(NOW.timestamp()))
    assert headers["webhook-signature"].startswith("v1,")
    assert Verifier(secret).verify(BODY, headers) == json.loads(BODY)


@time_machine.travel(NOW, tick=False)
def test_a_tampered_body_is_refused() -> None:
    secret = new_signing_secret()
    headers = headers_for([secret])
    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(BODY.replace(b"contact", b"campaign"), headers)


@time_machine.travel(NOW, tick=False)
def test_another_secret_does_not_verify() -> None:
    with pytest.raises(WebhookVerificationError):
        Verifier(new_signing_secret()).verify(BODY, headers_for([new_signing_secret()]))


def test_a_signature_from_ten_minutes_ago_is_refused() -> None:
    secret = new_signing_secret()
    headers = headers_for([secret], timestamp=NOW - timedelta(minutes=10))
    with time_machine.travel(NOW, tick=False), pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(BODY, headers)


@time_machine.travel(NOW, tick=False)
def test_during_a_rotation_both_secrets_verify() -> None:
    current, previous = new_signing_secret(), new_signing_secret()
    headers = headers_for([current, previous])
    assert len(headers["webhook-signature"].split(" ")) == 2
    assert Verifier(current).verify(BODY, headers)
    assert Verifier(previous).verify(BODY, headers)


def test_secrets_are_stored_encrypted_and_read_back() -> None:
    secret = new_signing_secret()
    token = encrypt_secret(secret)
    assert secret not in token
    assert secret.removeprefix("whsec_") not in token
    assert decrypt_secret(token) == secret


@pytest.mark.django_db
def test_the_previous_secret_signs_until_it_expires(account: Account) -> None:
    current, previous = new_signing_secret(), new_signing_secret()
    webhook = Webhook.objects.create(
        account=account,
        url="https://hooks.example.com/x",
        events=["contact.created"],
        secret_encrypted=encrypt_secret(current),
        previous_secret_encrypted=encrypt_secret(previous),
        previous_secret_expires_at=NOW + timedelta(hours=24),
    )
    assert signing_secrets(webhook, NOW) == [current, previous]
    assert signing_secrets(webhook, NOW + timedelta(hours=23, minutes=59)) == [current, previous]
    assert signing_secrets(webhook, NOW + timedelta(hours=24)) == [current]


@pytest.mark.django_db
def test_rotating_the_encryption_key_keeps_every_secret_readable(
    account: Account, settings: Settings
) -> None:
    old_key, new_key = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.WEBHOOK_ENCRYPTION_KEYS = [old_key]
    secret, previous = new_signing_secret(), new_signing_secret()
    webhook = Webhook.objects.create(
        account=account,
        url="https://hooks.example.com/x",
        events=["contact.created"],
        secret_encrypted=encrypt_secret(secret),
        previous_secret_encrypted=encrypt_secret(previous),
        previous_secret_expires_at=NOW + timedelta(hours=24),
    )
    settings.WEBHOOK_ENCRYPTION_KEYS = [new_key, old_key]
    call_command("rotate_webhook_encryption", stdout=StringIO())
    settings.WEBHOOK_ENCRYPTION_KEYS = [new_key]
    webhook.refresh_from_db()
    assert signing_secrets(webhook, NOW) == [secret, previous]


@pytest.mark.django_db
def test_rotation_stops_at_a_secret_no_key_can_read(account: Account, settings: Settings) -> None:
    settings.WEBHOOK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    Webhook.objects.create(
        account=account,
        url="https://hooks.example.com/x",
        events=["contact.created"],
        secret_encrypted=encrypt_secret(new_signing_secret()),
    )
    settings.WEBHOOK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(CommandError, match="keep the key that encrypted them"):
        call_command("rotate_webhook_encryption", stdout=StringIO())
    with pytest.raises(SecretUnreadable):
        decrypt_secret(Webhook.objects.get().secret_encrypted)


def test_without_encryption_keys_a_deploy_check_warns(settings: Settings) -> None:
    settings.DEBUG = False
    settings.WEBHOOK_ENCRYPTION_KEYS = []
    [warning] = check_encryption_keys()
    assert warning.id == "voice.W001"
    settings.WEBHOOK_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert check_encryption_keys() == []
