"""The activity log in words: one line per event for the activity page, the dashboard, the admin."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from activity.models import ActivityEvent

# Most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = [
    ("Edge", re.compile(r"Edg(?:e|A|iOS)?/(\d+)")),
    ("Opera", re.compile(r"OPR/(\d+)")),
    ("Firefox", re.compile(r"(?:Firefox|FxiOS)/(\d+)")),
    ("Chrome", re.compile(r"(?:Chrome|CriOS)/(\d+)")),
    ("Safari", re.compile(r"Version/(\d+)[.\d]* (?:Mobile/\S+ )?Safari/")),
]
_SYSTEMS = [
    ("iOS", re.compile(r"iPhone|iPad|iPod")),
    ("Android", re.compile(r"Android")),
    ("ChromeOS", re.compile(r"CrOS")),
    ("Windows", re.compile(r"Windows")),
    ("macOS", re.compile(r"Macintosh|Mac OS X")),
    ("Linux", re.compile(r"Linux|X11")),
]
# A program rather than a browser: "curl/8.5.0", "python-requests/2.32.3".
_PROGRAM = re.compile(r"^([A-Za-z][\w.-]*)/(\d+(?:\.\d+)?)")


def _scopes_change(old: list[str], new: list[str]) -> str:
    added = [scope for scope in new if scope not in old]
    removed = [scope for scope in old if scope not in new]
    parts = []
    if added:
        parts.append("added " + ", ".join(added))
    if removed:
        parts.append("removed " + ", ".join(removed))
    return "scopes: " + "; ".join(parts)


def _second_factor(details: dict[str, Any]) -> str:
    """The factor a two-factor event names: "a passkey “YubiKey”" or "an authenticator app"."""
    if details.get("method") == "passkey":
        return f"a passkey “{details['name']}”" if details.get("name") else "a passkey"
    return "an authenticator app"


def event_summary(event: ActivityEvent) -> str:
    """Return what happened, in words, for the activity page."""
    details = event.details
    if event.event_type == ActivityEvent.Type.CREATED:
        environment = "test" if details.get("environment") == "test" else "live"
        return f"Created a {environment} key with " + ", ".join(details.get("scopes", []))
    if event.event_type == ActivityEvent.Type.EDITED:
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
    if event.event_type == ActivityEvent.Type.ROLLED:
        replacement = details.get("new_key", "a new key")
        if details.get("grace_seconds"):
            return f"Rolled: replaced by {replacement}; the old key works until its grace ends"
        return f"Rolled: replaced by {replacement}; the old key stopped at once"
    if event.event_type == ActivityEvent.Type.REVOKED:
        if details.get("grace_ended"):
            return f"Ended the old secret's grace period: only {details.get('new_key')} works now"
        return "Revoked by staff" if details.get("staff") else "Revoked"
    if event.event_type == ActivityEvent.Type.LEAKED:
        return f"Found in public at {details.get('url') or 'an unknown place'}: revoked at once"
    if event.event_type == ActivityEvent.Type.MEMBER_ADDED:
        return f"Added {details.get('member')} as {details.get('role')}"
    if event.event_type == ActivityEvent.Type.MEMBER_CHANGED:
        return (
            f"Changed {details.get('member')} from {details.get('old_role')} "
            f"to {details.get('role')}"
        )
    if event.event_type == ActivityEvent.Type.MEMBER_REMOVED:
        return f"Removed {details.get('member')} ({details.get('role')})"
    if event.event_type == ActivityEvent.Type.INVITED:
        verb = "Invited again" if details.get("resent") else "Invited"
        return f"{verb} {details.get('email')} as {details.get('role')}"
    if event.event_type == ActivityEvent.Type.INVITATION_REVOKED:
        return f"Revoked the invitation of {details.get('email')} ({details.get('role')})"
    if event.event_type == ActivityEvent.Type.JOINED:
        return f"{details.get('member')} joined as {details.get('role')}"
    if event.event_type == ActivityEvent.Type.LEFT:
        return f"{details.get('member')} left ({details.get('role')})"
    if event.event_type == ActivityEvent.Type.PASSWORD_RESET:
        return f"{details.get('member')} reset their password with an emailed link"
    if event.event_type == ActivityEvent.Type.PASSWORD_CHANGED:
        return f"{details.get('member')} changed their password"
    if event.event_type == ActivityEvent.Type.STAFF_PASSWORD_SET:
        return f"VoxPria staff set a new password for {details.get('member')}"
    if event.event_type == ActivityEvent.Type.EMAIL_CHANGED:
        if details.get("staff"):
            return (
                f"VoxPria staff changed the email of {details.get('old_email')} "
                f"to {details.get('member')}"
            )
        return f"{details.get('old_email')} changed their email to {details.get('member')}"
    if event.event_type == ActivityEvent.Type.TWO_FACTOR_ADDED:
        replacing = " in place of the previous one" if details.get("replaced") else ""
        return f"{details.get('member')} added {_second_factor(details)}{replacing}"
    if event.event_type == ActivityEvent.Type.TWO_FACTOR_REMOVED:
        off = "; two-factor sign-in is now off" if details.get("two_factor_off") else ""
        return f"{details.get('member')} removed {_second_factor(details)}{off}"
    if event.event_type == ActivityEvent.Type.RECOVERY_CODES_REGENERATED:
        return f"{details.get('member')} generated new recovery codes; the old ones stopped working"
    if event.event_type == ActivityEvent.Type.RECOVERY_CODE_USED:
        left = details.get("codes_left")
        return f"{details.get('member')} signed in with a recovery code ({left} left)"
    if event.event_type == ActivityEvent.Type.TWO_FACTOR_REQUIRED:
        return "Required two-factor authentication of every member"
    if event.event_type == ActivityEvent.Type.TWO_FACTOR_NOT_REQUIRED:
        return "Stopped requiring two-factor authentication"
    if event.event_type == ActivityEvent.Type.TWO_FACTOR_RESET:
        return f"VoxPria staff reset the two-factor authentication of {details.get('member')}"
    when = ""
    if details.get("expired_at"):
        when = f" on {datetime.fromisoformat(details['expired_at']):%-d %B %Y, %H:%M} UTC"
    if details.get("rolled"):
        return f"Stopped working{when}, at the end of its roll's grace period"
    return f"Expired{when}"


def short_user_agent(user_agent: str) -> str:
    """Return a user agent in a few words ("Chrome 156 · Linux", "curl 8.5"), or it whole."""
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), "")
    for name, pattern in _BROWSERS:
        match = pattern.search(user_agent)
        if match:
            return " · ".join(part for part in (f"{name} {match.group(1)}", system) if part)
    program = _PROGRAM.match(user_agent)
    if program and not user_agent.startswith("Mozilla/"):
        return f"{program.group(1)} {program.group(2)}"
    return user_agent
