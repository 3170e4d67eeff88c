"""Two-factor steps the tests share: an authenticator app's codes, enrolling one (through the
services, or given outright to tests about what comes after), a half- or fully signed-in
session, the account's requirement, threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connections
from django.test import Client
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import Membership, Passkey, User
from accounts.twofactor.enrolment import confirm_authenticator, start_authenticator
from accounts.twofactor.factors import issue_recovery_codes
from accounts.twofactor.policy import set_two_factor_requirement
from accounts.twofactor.state import METHOD_SESSION_KEY, PENDING_SESSION_KEY, VERIFIED_SESSION_KEY

VERIFY = "/login/verify/"

Result = TypeVar("Result")


def totp_code(device: TOTPDevice, steps: int = 0) -> str:
    """The code the device's app shows now (time.time(), so time-machine moves it), or the one
    `steps` 30-second steps later (earlier if negative)."""
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=steps)
    return f"{code:0{device.digits}d}"


def enrol_authenticator(user: User) -> tuple[TOTPDevice, list[str]]:
    """Set up and confirm an authenticator app for `user`; return it and any recovery codes.

    The code used to confirm it is spent: the next one that works is the next step's.
    """
    device = start_authenticator(user=user)
    codes = confirm_authenticator(user=user, device=device, code=totp_code(device), context=None)
    device.refresh_from_db()
    return device, codes or []


def at_once(count: int, attempt: Callable[[int], Result]) -> list[Result | Exception]:
    """Run `attempt(number)` in `count` threads released together; return what each gave.

    Each thread has its own database connection, as each server worker does (use with
    `django_db(transaction=True)`).
    """
    barrier = threading.Barrier(count)
    results: list[Result | Exception] = []
    lock = threading.Lock()

    def run(number: int) -> None:
        outcome: Result | Exception
        try:
            barrier.wait()
            outcome = attempt(number)
        except Exception as error:  # the assertions name it
            outcome = error
        finally:
            connections.close_all()
        with lock:
            results.append(outcome)

    threads = [threading.Thread(target=run, args=(number,)) for number in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results


def give_authenticator_app(user: User) -> TOTPDevice:
    """An authenticator app and recovery codes, as enrolment leaves them, without its pages."""
    device: TOTPDevice = TOTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    issue_recovery_codes(user)
    return device


def give_passkey(user: User, name: str = "Laptop") -> Passkey:
    return Passkey.objects.create(
        user=user, name=name, credential_id=f"credential-{user.pk}-{name}", public_key=b"key"
    )


def require_two_factor(owner: Membership) -> None:
    set_two_factor_requirement(
        account=owner.account, actor=owner.user, required=True, site_url="http://testserver"
    )


def pending_client(user: User) -> Client:
    """A client whose password sign-in just succeeded: its second factor is still to come."""
    client = Client()
    client.force_login(user)
    return client


def past_second_factor(client: Client) -> Client:
    """The signed-in `client`'s session as if its second factor had just been given.

    A login whose user has a factor starts pending (accounts.signals); these tests are about
    what comes after the second step, which has tests of its own.
    """
    session = client.session
    session.pop(PENDING_SESSION_KEY, None)
    session[VERIFIED_SESSION_KEY] = timezone.now().timestamp()
    session[METHOD_SESSION_KEY] = "totp"
    session.save()
    return client
