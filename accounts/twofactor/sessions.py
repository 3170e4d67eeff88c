"""The sessions a person is signed in with, so that they can see them and end them.

Each sign-in writes a `UserSession` row naming its session key. The row is a list entry only:
the session store stays the truth. A row is shown while its session exists in the store, is
still signed in as its user (a changed password ends the others without telling us) and is
neither past its expiry nor idle for longer than `SESSION_IDLE_TIMEOUT`; rows that fail the
check are deleted when the list is read, and `prune_signed_in_sessions` deletes the expired and
idle ones of people who never look.

The session keeps the key its row was written under (`LISTED_KEY_SESSION_KEY`): when a view
rotates the key (`cycle_key()` after the second factor, a password change), `follow_rotated_key`
moves the row to the new key on the way out of that request, so "Sign out" ends the real
session and "This session" stays marked.

Sessions are ended through the configured `SESSION_ENGINE`'s store, whichever it is.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from importlib import import_module
from typing import NamedTuple

from django.conf import settings
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.utils.crypto import constant_time_compare
from ua_parser import parse

from accounts.models import User, UserSession
from accounts.twofactor.state import is_pending, pending_has_expired
from activity.events import RequestContext

LISTED_KEY_SESSION_KEY = "listed_session_key"
UNKNOWN_DEVICE = "Unknown browser"
# ua-parser's operating system names, as people know them today.
OS_NAMES = {"Mac OS X": "macOS", "Chrome OS": "ChromeOS"}


class ListedSession(NamedTuple):
    """One row of the Security page's session list."""

    id: int
    device: str
    ip_address: str | None
    created_at: datetime
    last_seen_at: datetime
    is_current: bool
    # Its password was given, its second factor not yet (it can do nothing until then).
    awaiting_second_factor: bool


def session_store(session_key: str | None = None) -> SessionBase:
    """Return the configured engine's session for `session_key`."""
    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore(session_key)
    return store


def device_name(user_agent: str) -> str:
    """Return the browser and system a user agent names: "Chrome 131 on macOS"."""
    result = parse(user_agent)
    browser = result.user_agent
    if browser is None or browser.family == "Other":
        return UNKNOWN_DEVICE
    name = f"{browser.family} {browser.major}" if browser.major else browser.family
    system = result.os
    if system is None or system.family == "Other":
        return name
    return f"{name} on {OS_NAMES.get(system.family, system.family)}"


def _live(now: datetime) -> Q:
    idle_since = now - timedelta(seconds=settings.SESSION_IDLE_TIMEOUT)
    return Q(expires_at__gt=now, last_seen_at__gte=idle_since)


@transaction.atomic
def record_session(*, request: HttpRequest, user: User) -> UserSession:
    """List the session `user` has just signed in with (call after login() rotated its key)."""
    session = request.session
    if session.session_key is None:
        session.save()  # a store that names a session only once it is saved
    context = RequestContext.from_request(request)
    now = timezone.now()
    row, _ = UserSession.objects.update_or_create(
        session_key=session.session_key,
        defaults={
            "user": user,
            "ip_address": context.ip_address,
            "user_agent": context.user_agent,
            "created_at": now,
            "last_seen_at": now,
            "expires_at": session.get_expiry_date(),
        },
    )
    session[LISTED_KEY_SESSION_KEY] = session.session_key
    return row


def note_session_seen(session: SessionBase) -> None:
    """Move the session's last-seen time to now (the idle clock calls it once a minute)."""
    if session.session_key:
        UserSession.objects.filter(session_key=session.session_key).update(
            last_seen_at=timezone.now()
        )


def follow_rotated_key(request: HttpRequest) -> None:
    """Move the session's row to its new key if this request rotated it."""
    session = request.session
    listed_key = session.get(LISTED_KEY_SESSION_KEY)
    current_key = session.session_key
    if not isinstance(listed_key, str) or current_key is None or listed_key == current_key:
        return
    if request.user.is_authenticated:
        UserSession.objects.filter(session_key=listed_key, user_id=request.user.pk).update(
            session_key=current_key
        )
    session[LISTED_KEY_SESSION_KEY] = current_key


def forget_session(session: SessionBase) -> None:
    """Remove the row of a session being signed out."""
    keys = {session.session_key, session.get(LISTED_KEY_SESSION_KEY)} - {None}
    UserSession.objects.filter(session_key__in=keys).delete()


def _signed_in_session(user: User, row: UserSession) -> SessionBase | None:
    """The row's session if it is still signed in as `user` (and not a half sign-in that ran out
    of time), else None."""
    session = session_store(row.session_key)
    signed_in = str(session.get(SESSION_KEY)) == str(user.pk) and constant_time_compare(
        str(session.get(HASH_SESSION_KEY, "")), user.get_session_auth_hash()
    )
    if not signed_in or (is_pending(session) and pending_has_expired(session)):
        return None
    return session


@transaction.atomic
def live_sessions(*, user: User, current_session_key: str | None) -> list[ListedSession]:
    """Return `user`'s live sessions, newest first, deleting the rows of the dead ones."""
    now = timezone.now()
    rows = user.signed_in_sessions.all()
    rows.exclude(_live(now)).delete()
    listed = []
    dead = []
    for row in rows.filter(_live(now)).order_by("-created_at", "-id"):
        session = _signed_in_session(user, row)
        if session is None:
            dead.append(row.pk)
            continue
        listed.append(
            ListedSession(
                id=row.pk,
                device=device_name(row.user_agent),
                ip_address=row.ip_address,
                created_at=row.created_at,
                last_seen_at=row.last_seen_at,
                is_current=row.session_key == current_session_key,
                awaiting_second_factor=is_pending(session),
            )
        )
    UserSession.objects.filter(pk__in=dead).delete()
    return listed


def _end(row: UserSession) -> None:
    session_store(row.session_key).delete()
    row.delete()


@transaction.atomic
def end_session(*, user: User, session_id: int) -> str:
    """Sign out one of `user`'s sessions; return its key.

    Raises UserSession.DoesNotExist for an id that is not one of `user`'s.
    """
    row = user.signed_in_sessions.select_for_update().get(pk=session_id)
    session_key = row.session_key
    _end(row)
    return session_key


@transaction.atomic
def end_other_sessions(*, user: User, current_session_key: str | None) -> int:
    """Sign out every session of `user` but the current one; return how many were ended."""
    rows = list(
        user.signed_in_sessions.select_for_update().exclude(session_key=current_session_key)
    )
    for row in rows:
        _end(row)
    return len(rows)


@transaction.atomic
def prune_signed_in_sessions() -> int:
    """Delete the rows of sessions past their expiry or idle timeout; return how many."""
    deleted, _ = UserSession.objects.exclude(_live(timezone.now())).delete()
    return deleted
