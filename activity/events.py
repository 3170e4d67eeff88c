"""Recording into the activity log: one append-only event per action, in its transaction.

Apps that react to events (the key notification emails, later webhooks) connect to
`event_recorded` rather than being called from here, so the log depends on none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import ip_address
from typing import TYPE_CHECKING, Any

from django.dispatch import Signal
from django.http import HttpRequest

from accounts.models import Account, User
from activity.models import ActivityEvent
from voxkeys.clientip import client_ip

if TYPE_CHECKING:
    from apikeys.models import ApiKey

USER_AGENT_MAX_LENGTH = 200
# Sent with `event` once it is written, inside the action's transaction: a receiver that
# does work outside the database schedules it with transaction.on_commit.
event_recorded = Signal()


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
    event_type: ActivityEvent.Type,
    user: User | None,
    api_key: ApiKey | None = None,
    account: Account | None = None,
    context: RequestContext | None = None,
    related_key: ApiKey | None = None,
    details: dict[str, Any] | None = None,
) -> ActivityEvent:
    """Write the event; call inside the action's transaction so both commit or neither does.

    Key events name the key; account events (membership changes) name the account instead.
    """
    if api_key is not None:
        account_id = api_key.account_id
    elif account is not None:
        account_id = account.pk
    else:
        raise ValueError("An event is about a key or an account.")
    context = context or SYSTEM
    event = ActivityEvent.objects.create(
        account_id=account_id,
        api_key=api_key,
        related_key=related_key,
        event_type=event_type,
        actor=user,
        actor_email=user.email if user is not None else "",
        ip_address=context.ip_address,
        user_agent=context.user_agent,
        details=details or {},
    )
    event_recorded.send(sender=ActivityEvent, event=event)
    return event
