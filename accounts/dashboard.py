"""What the dashboard shows about the current account: its keys, what blocks a new one, activity."""

from __future__ import annotations

from dataclasses import dataclass

from accounts.models import Membership
from accounts.support import support_mailto
from activity.models import ActivityEvent
from activity.summaries import event_summary
from apikeys.services import Block, creation_block

RECENT_EVENTS = 5


@dataclass(frozen=True)
class Dashboard:
    key_count: int
    key_limit: int
    # Why this member cannot create a key right now (role, standing, limit), or None.
    creation_block: Block | None
    recent_events: list[tuple[ActivityEvent, str]]
    # A mailto: link to support when the account is not in good standing, else "".
    support_url: str


def dashboard_for(membership: Membership) -> Dashboard:
    """Gather the account's figures for the member's dashboard, in two queries."""
    account = membership.account
    # Counted as the key limit counts them, so the figure matches "3 of 10 keys" on API Keys.
    key_count = account.api_keys.counted_against_limit().count()
    events = account.activity_events.select_related("api_key")[:RECENT_EVENTS]
    return Dashboard(
        key_count=key_count,
        key_limit=account.api_key_limit,
        creation_block=creation_block(membership, key_count),
        recent_events=[(event, event_summary(event)) for event in events],
        support_url=""
        if account.in_good_standing
        else support_mailto(f"Restore the account {account.name}"),
    )
