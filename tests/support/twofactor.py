"""Two-factor steps the tests share: an authenticator app's codes, enrolling one, threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connections
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from accounts.twofactor.enrolment import confirm_authenticator, start_authenticator

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
