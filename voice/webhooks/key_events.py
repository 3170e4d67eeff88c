"""The API key events a customer's SIEM hears about: each key action's activity event (written
in the action's transaction, activity.events.event_recorded) fires its `api_key.*` webhook
event in that same transaction, and each expiry notice fires `api_key.expiring`.

A key is shown as in the activity log and the emails: by name and masked form, never its
secret or digest. A test key's events fire with `livemode: false`, to test endpoints only.
"""

from __future__ import annotations

from typing import Any

from activity.models import ActivityEvent
from apikeys.models import ApiKey
from voice.objects import optional_timestamp, timestamp
from voice.webhooks.events import emit

KEY_EVENT_TYPES: dict[str, str] = {
    ActivityEvent.Type.CREATED: "api_key.created",
    ActivityEvent.Type.EDITED: "api_key.edited",
    ActivityEvent.Type.ROLLED: "api_key.rolled",
    ActivityEvent.Type.REVOKED: "api_key.revoked",
    ActivityEvent.Type.EXPIRED: "api_key.expired",
    ActivityEvent.Type.LEAKED: "api_key.leaked",
}


def api_key_json(key: ApiKey) -> dict[str, Any]:
    """The key's public form: what the key list shows, with the masked key for the secret."""
    return {
        "id": key.pk,
        "livemode": key.livemode,
        "name": key.name,
        "description": key.description,
        "masked_key": key.masked_key,
        "scopes": key.scope_list,
        "allowed_ips": key.allowed_ip_list,
        "status": key.status.lower(),
        "created_at": timestamp(key.created_at),
        "expires_at": optional_timestamp(key.expires_at),
        "revoked_at": optional_timestamp(key.revoked_at),
        "replaced_by": key.replaced_by_id,
    }


def key_event_data(event: ActivityEvent, key: ApiKey) -> dict[str, Any]:
    data: dict[str, Any] = {
        "object": api_key_json(key),
        # Who did it, as the activity log records it: None for the system (expiry, a scanner).
        "actor": {"email": event.actor_email, "ip_address": event.ip_address}
        if event.actor_email
        else None,
    }
    if event.related_key is not None:  # a roll's successor (or the key a revoke ended for)
        data["new_api_key"] = api_key_json(event.related_key)
    if event.event_type == ActivityEvent.Type.EDITED:
        data["changes"] = {field: event.details[field] for field in event.details["fields"]}
    if event.event_type == ActivityEvent.Type.LEAKED:
        data["found_at"] = event.details.get("url", "")
        data["source"] = event.details.get("source", "")
    return data


def emit_key_event(sender: object, event: ActivityEvent, **kwargs: object) -> None:
    """Fire the webhook event of a key's activity event (activity's event_recorded)."""
    event_type = KEY_EVENT_TYPES.get(event.event_type)
    key = event.api_key
    if event_type is None or key is None:
        return
    emit(
        account=event.account,
        livemode=key.livemode,
        event_type=event_type,
        data=key_event_data(event, key),
    )


def emit_key_expiring(*, key: ApiKey, kind: str) -> None:
    """Fire api_key.expiring with the expiry notice `kind`: call where the notice is written."""
    emit(
        account=key.account,
        livemode=key.livemode,
        event_type="api_key.expiring",
        data={
            "object": api_key_json(key),
            "expires_at": optional_timestamp(key.expires_at),
            "notice": kind,
        },
    )
