"""What each event of the webhook catalogue means, in the words Settings -> Webhooks shows
beside its checkbox. The catalogue itself is voice.models.WEBHOOK_EVENTS.
"""

from __future__ import annotations

EVENT_DESCRIPTIONS: dict[str, str] = {
    "call.queued": "A call was placed and waits to be dialled.",
    "call.completed": "A call ended normally.",
    "call.failed": "A call could not be made or was cut off.",
    "campaign.created": "A campaign was created.",
    "campaign.updated": "A campaign's name or status changed.",
    "contact.created": "A contact was added.",
    "contact.updated": "A contact's details changed.",
    "contact.deleted": "A contact was deleted.",
    "api_key.created": "An API key was created.",
    "api_key.edited": "An API key's name, scopes or allowlist changed.",
    "api_key.rolled": "An API key was rolled: a new secret replaces the old one.",
    "api_key.revoked": "An API key was revoked and stopped working.",
    "api_key.expiring": "An API key expires soon.",
    "api_key.expired": "An API key reached its expiry date.",
    "api_key.leaked": "An API key was found in public and revoked.",
}


def event_description(event_type: str) -> str:
    return EVENT_DESCRIPTIONS.get(event_type, "")
