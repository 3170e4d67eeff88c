"""Failed sign-in lockout: django-axes, plus a second, higher limit per IP address.

axes counts failures in `AccessAttempt` rows, one per (email, IP, user agent), each holding its
failures and the time of the latest. A request is locked while the failures it matches, among
rows whose latest failure is under `LOGIN_LOCKOUT_MINUTES` old, reach the limit. axes compares
every lockout parameter against one limit, so it locks (email, IP) pairs at
`LOGIN_FAILURE_LIMIT`, and this handler adds the IP-wide limit, `LOGIN_IP_FAILURE_LIMIT`, over
the same rows: one attacker trying many emails from one address is stopped too, while people
behind a shared address are not locked out by one colleague's typos.

Every authentication goes through `authenticate(request=...)` (the login forms, the admin's,
the password confirmation of sudo mode, the profile's password change), so `LockoutBackend`,
first in AUTHENTICATION_BACKENDS, sees every attempt before any backend hashes a password.

Each attempt is counted *before* its password is hashed, not after it fails as axes does: with
axes' order, requests racing one another all read the count below the limit and all get their
password checked (40 at once had 8 checked against a limit of 5). The backend reserves the
attempt instead: in one transaction, serialized per IP address (every limit here counts one
address), it refuses the attempt if the counts reach a limit, else adds it to them. So however
many requests race, at most the limit of passwords are hashed. A failure then only decides
whether it locks; a success clears the counts, as axes does on sign-in (AXES_RESET_ON_SUCCESS).
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.backends import AxesStandaloneBackend
from axes.exceptions import AxesBackendPermissionDenied, AxesBackendRequestParameterRequired
from axes.handlers.database import AxesDatabaseHandler
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username, get_cool_off, get_credentials
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Case, F, QuerySet, Sum, Value, When
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from accounts.emails import canonical_email


class AxesRequest(HttpRequest):
    """What django-axes sets on a request it has counted (axes.handlers.base, axes.helpers)."""

    axes_locked_out: bool
    axes_credentials: dict[str, Any] | None
    axes_ip_address: str
    axes_user_agent: str
    axes_path_info: str
    axes_http_accept: str
    axes_attempt_time: datetime


def login_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """Return the email an attempt is counted against: its canonical form, the one looked up,
    so no spelling of an address (case, `ſ`, fullwidth letters) gets a counter of its own."""
    source = credentials if credentials else request.POST
    username = source.get(settings.AXES_USERNAME_FORM_FIELD)
    return canonical_email(username) if isinstance(username, str) else None


class LoginLockoutHandler(AxesDatabaseHandler):  # type: ignore[misc]  # axes has no types
    """axes' database handler, also locking an IP address over `LOGIN_IP_FAILURE_LIMIT`, and
    counting attempts when `LockoutBackend` reserves them rather than when they fail."""

    def is_locked(self, request: AxesRequest, credentials: dict[str, Any] | None = None) -> bool:
        return super().is_locked(request, credentials) or ip_is_over_limit(request)

    def reserve(self, request: AxesRequest, credentials: dict[str, Any]) -> bool:
        """Count the attempt unless the counts already reach a limit; say whether it may go on."""
        # Outside the transaction, one statement, as axes does: a cleanup inside it would lock
        # other addresses' rows too, and could deadlock with another cleanup.
        self.clean_expired_user_attempts(request, credentials)
        row = {
            "username": get_client_username(request, credentials),
            "ip_address": request.axes_ip_address,
            "user_agent": request.axes_user_agent,
        }
        with transaction.atomic():
            _serialize_attempts_from(request.axes_ip_address)
            if self.is_locked(request, credentials):
                return False
            # Only this attempt's own row is written: a row past the lockout window starts over.
            counted = AccessAttempt.objects.filter(**row).update(
                failures_since_start=Case(
                    When(attempt_time__lt=get_cool_off_threshold(request), then=Value(1)),
                    default=F("failures_since_start") + 1,
                ),
                attempt_time=request.axes_attempt_time,
                path_info=request.axes_path_info,
            )
            if not counted:
                AccessAttempt.objects.create(
                    **row,
                    get_data="",
                    post_data="",
                    http_accept=request.axes_http_accept,
                    path_info=request.axes_path_info,
                    failures_since_start=1,
                    attempt_time=request.axes_attempt_time,
                )
        return True

    def user_login_failed(
        self,
        sender: object,
        credentials: dict[str, Any],
        request: AxesRequest | None = None,
        **kwargs: Any,
    ) -> None:
        # The attempt was counted when LockoutBackend reserved it; the failure that reaches a
        # limit gets the lockout page at once.
        if request is None:
            return
        if not request.axes_locked_out and not self.is_locked(request, credentials):
            return
        request.axes_locked_out = True
        request.axes_credentials = credentials
        user_locked_out.send(
            "axes",
            request=request,
            username=get_client_username(request, credentials),
            ip_address=request.axes_ip_address,
        )


def _serialize_attempts_from(ip_address: str) -> None:
    """Make concurrent reservations from one address wait for each other.

    PostgreSQL: a transaction-scoped advisory lock on the address (the count spans several
    rows, one per user agent, so no row lock covers it). SQLite takes its write lock at BEGIN
    (transaction_mode IMMEDIATE in settings), which serializes every reservation already.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"voxkeys-sign-in:{ip_address}"],
            )


class LockoutBackend(AxesStandaloneBackend):  # type: ignore[misc]  # axes has no types
    """First in AUTHENTICATION_BACKENDS: reserves each attempt before any backend hashes its
    password, and refuses it (as axes' own backend does) once the counts reach a limit."""

    def authenticate(
        self,
        request: AxesRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> None:
        if request is None:
            raise AxesBackendRequestParameterRequired("Signing in needs the request.")
        credentials = get_credentials(username=username, password=password, **kwargs)
        AxesProxyHandler.update_request(request)
        handler = AxesProxyHandler.get_implementation()
        if handler.reserve(request, credentials):
            return
        # Django's authenticate() turns this into user_login_failed, and the middleware into
        # the lockout page.
        request.axes_locked_out = True
        raise AxesBackendPermissionDenied("Too many failed attempts.")


def clear_failures(request: HttpRequest, username: str) -> None:
    """Forget the attempts counted for this email from this address: the password was right."""
    AxesProxyHandler.update_request(request)
    AxesProxyHandler.get_implementation().reset_user_attempts(request, {"username": username})


def recent_attempts(request: AxesRequest) -> QuerySet[AccessAttempt]:
    """Return the attempts from this request's IP address that still count."""
    attempts: QuerySet[AccessAttempt] = AccessAttempt.objects.filter(
        ip_address=request.axes_ip_address, attempt_time__gte=get_cool_off_threshold(request)
    )
    return attempts


def ip_is_over_limit(request: AxesRequest) -> bool:
    failures = recent_attempts(request).aggregate(total=Sum("failures_since_start"))["total"]
    return (failures or 0) >= settings.LOGIN_IP_FAILURE_LIMIT


def release_time(attempts: QuerySet[AccessAttempt], limit: int) -> datetime | None:
    """Return when these attempts stop reaching the limit, or None if they don't reach it.

    Rows stop counting oldest first, so the lock holds until the oldest of the newest rows that
    together reach the limit stops counting.
    """
    cool_off: timedelta = get_cool_off()
    counted = 0
    attempt_time: datetime
    failures: int
    for attempt_time, failures in attempts.order_by("-attempt_time").values_list(
        "attempt_time", "failures_since_start"
    ):
        counted += failures
        if counted >= limit:
            return attempt_time + cool_off
    return None


def locked_until(request: AxesRequest, credentials: dict[str, Any] | None) -> datetime:
    """Return when this request's client may try to sign in again."""
    attempts = recent_attempts(request)
    releases = [
        release_time(
            attempts.filter(username=get_client_username(request, credentials)),
            settings.LOGIN_FAILURE_LIMIT,
        ),
        release_time(attempts, settings.LOGIN_IP_FAILURE_LIMIT),
    ]
    # Nothing counted would mean the lock was lifted meanwhile: a full lockout period from now
    # is then the latest it can end.
    return max(
        (release for release in releases if release is not None),
        default=request.axes_attempt_time + get_cool_off(),
    )


def lockout_response(
    request: AxesRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """Render the lockout page (AXES_LOCKOUT_CALLABLE): 429, with when to try again.

    It says nothing about the account: an unknown email gets the same page, at the same moment.
    """
    until = locked_until(request, credentials)
    # A whole minute, rounded up: "try again after 10:15" must not be refused at 10:15:10.
    retry_at = until.replace(second=0, microsecond=0)
    if retry_at < until:
        retry_at += timedelta(minutes=1)
    template_name = "registration/locked_out.html"
    if getattr(request, "htmx", False):
        # The password confirmation of sudo mode asked in a dialog: the answer goes there.
        template_name += "#dialog"
    response = render(request, template_name, {"retry_at": retry_at}, status=429)
    seconds = (until - request.axes_attempt_time).total_seconds()
    response["Retry-After"] = str(max(1, math.ceil(seconds)))
    return response
