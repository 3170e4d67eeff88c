"""Second factors for tests: an enrolled authenticator app, its codes, a half-signed-in client."""

from __future__ import annotations

from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User

VERIFY = "/login/verify/"


def enrol_authenticator(user: User) -> TOTPDevice:
    """An authenticator app enrolled and confirmed, as the Security page leaves it."""
    device: TOTPDevice = TOTPDevice.objects.create(
        user=user, name="Authenticator app", confirmed=True
    )
    return device


def authenticator_code(device: TOTPDevice, steps: int = 0) -> str:
    """The code the app shows now (time-machine moves "now"), or `steps` steps from now."""
    return f"{totp(device.bin_key, step=device.step, drift=steps):06d}"


def pending_client(user: User) -> Client:
    """A client whose password sign-in just succeeded: its second factor is still to come."""
    client = Client()
    client.force_login(user)
    return client
