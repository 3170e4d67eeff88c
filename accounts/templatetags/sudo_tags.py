"""The sudo prompt names the action it protects, from the URL it sends the member on to."""

from __future__ import annotations

from django import template
from django.urls import Resolver404, resolve

register = template.Library()

# Each view behind sudo_required, as the end of "Confirm your password to …".
PROTECTED_ACTIONS = {
    "apikeys:create": "create an API key",
    "apikeys:roll": "roll an API key",
    "apikeys:edit": "edit an API key",
    "apikeys:former_member": "roll the keys a former member saw",
    "webhooks:create": "add a webhook endpoint",
    "webhooks:edit": "edit a webhook endpoint",
    "webhooks:rotate": "rotate a webhook's signing secret",
    "members:invite": "invite a member",
    "members:role": "change a member's role",
    "members:remove": "remove a member",
    "members:resend": "resend an invitation",
    "members:revoke": "revoke an invitation",
    "profile_email": "change your email address",
    "authenticator_setup": "set up an authenticator app",
    "authenticator_remove": "remove your authenticator app",
    "recovery_codes_regenerate": "generate new recovery codes",
}


@register.filter
def protected_action(next_url: str) -> str:
    """Return what confirming the password lets the member do next, or "" if it is not known."""
    try:
        match = resolve((next_url or "").split("?")[0])
    except Resolver404:
        return ""
    return PROTECTED_ACTIONS.get(match.view_name, "")
