"""The activity log: one append-only KeyEvent per lifecycle action, in the action's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import partial
from ipaddress import ip_address
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from accounts.models import Account, User
from apikeys.models import ApiKey, KeyEvent
from apikeys.notifications import send_key_event_email
from voxkeys.clientip import client_ip

USER_AGENT_MAX_LENGTH = 200
# Owners and admins get an email for these (apikeys.notifications).
NOTIFIED_EVENTS = frozenset(
    {KeyEvent.Type.CREATED, KeyEvent.Type.ROLLED, KeyEvent.Type.REVOKED, KeyEvent.Type.LEAKED}
)


@dataclass(frozen=True)
class RequestContext:
    """Where an action came from, for the activity log and the notification emails."""

    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> RequestContext:
        ip = client_ip(request)
        try:
            ip = str(ip_address(ip)) if ip else None
        except ValueError:
            ip = None
        user_agent = request.META.get("HTTP_USER_AGENT", "")[:USER_AGENT_MAX_LENGTH]
        return cls(ip_address=ip, user_agent=user_agent)


SYSTEM = RequestContext()


def record_event(
    *,
    event_type: KeyEvent.Type,
    user: User | None,
    api_key: ApiKey | None = None,
    account: Account | None = None,
    context: RequestContext | None = None,
    related_key: ApiKey | None = None,
    details: dict[str, Any] | None = None,
) -> KeyEvent:
    """Write the event; call inside the action's transaction so both commit or neither does.

    Key events name the key; account events (membership changes) name the account instead.
    """
    if api_key is None and account is None:
        raise ValueError("An event is about a key or an account.")
    context = context or SYSTEM
    event = KeyEvent.objects.create(
        account_id=api_key.account_id if api_key is not None else account.pk,
        api_key=api_key,
        related_key=related_key,
        event_type=event_type,
        actor=user,
        actor_email=user.email if user is not None else "",
        ip_address=context.ip_address,
        user_agent=context.user_agent,
        details=details or {},
    )
    if event_type in NOTIFIED_EVENTS:
        # After the commit: a rolled-back action sends nothing, and a mail server that is slow
        # or down never holds the transaction open.
        transaction.on_commit(partial(send_key_event_email, event.pk), robust=True)
    return event


def _scopes_change(old: list[str], new: list[str]) -> str:
    added = [scope for scope in new if scope not in old]
    removed = [scope for scope in old if scope not in new]
    parts = []
    if added:
        parts.append("added " + ", ".join(added))
    if removed:
        parts.append("removed " + ", ".join(removed))
    return "scopes: " + "; ".join(parts)


def event_summary(event: KeyEvent) -> str:
    """Return what happened, in words, for the activity page."""
    details = event.details
    if event.event_type == KeyEvent.Type.CREATED:
        environment = "test" if details.get("environment") == "test" else "live"
        return f"Created a {environment} key with " + ", ".join(details.get("scopes", []))
    if event.event_type == KeyEvent.Type.EDITED:
        parts = []
        for field in details.get("fields", []):
            change = details.get(field, {})
            if field == "scopes":
                parts.append(_scopes_change(change.get("old", []), change.get("new", [])))
            elif field == "name":
                parts.append(f"name: “{change.get('old')}” → “{change.get('new')}”")
            elif field == "allowed_ips":
                parts.append("IP allowlist: " + (", ".join(change.get("new", [])) or "any address"))
            else:
                parts.append(f"{field} changed")
        return "Edited " + "; ".join(parts)
    if event.event_type == KeyEvent.Type.ROLLED:
        replacement = details.get("new_key", "a new key")
        if details.get("grace_seconds"):
            return f"Rolled: replaced by {replacement}; the old key works until its grace ends"
        return f"Rolled: replaced by {replacement}; the old key stopped at once"
    if event.event_type == KeyEvent.Type.REVOKED:
        return "Revoked by staff" if details.get("staff") else "Revoked"
    if event.event_type == KeyEvent.Type.LEAKED:
        return f"Found in public at {details.get('url') or 'an unknown place'}: revoked at once"
    if event.event_type == KeyEvent.Type.MEMBER_ADDED:
        return f"Added {details.get('member')} as {details.get('role')}"
    if event.event_type == KeyEvent.Type.MEMBER_CHANGED:
        return (
            f"Changed {details.get('member')} from {details.get('old_role')} "
            f"to {details.get('role')}"
        )
    if event.event_type == KeyEvent.Type.MEMBER_REMOVED:
        return f"Removed {details.get('member')} ({details.get('role')})"
    when = ""
    if details.get("expired_at"):
        when = f" on {datetime.fromisoformat(details['expired_at']):%-d %B %Y, %H:%M} UTC"
    if details.get("rolled"):
        return f"Stopped working{when}, at the end of its roll's grace period"
    return f"Expired{when}"
