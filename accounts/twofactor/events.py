"""Recording a change to someone's two-factor sign-in, and telling them.

Each change (a factor added or removed, recovery codes regenerated or used, a reset by staff)
is an activity event in every account the person belongs to, written in the change's own
transaction, and an email to the person once it commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from accounts.credentials import email_after_commit, record_in_accounts
from accounts.models import Account, User
from activity.events import RequestContext
from activity.models import ActivityEvent


def record_two_factor_change(
    *,
    user: User,
    event_type: ActivityEvent.Type,
    subject: str,
    template: str,
    context: RequestContext | None,
    details: dict[str, Any] | None = None,
    actor: User | None = None,
    email_context: dict[str, Any] | None = None,
    also_notify: Iterable[str] = (),
) -> list[Account]:
    """Record the change in each of `user`'s accounts and email `user` (and `also_notify`).

    Call inside the change's transaction. `template` is rendered with the user, the request
    context, the details and `email_context`; `details` always names the member.
    """
    details = {"member": user.email, **(details or {})}
    accounts = record_in_accounts(
        user=user, actor=actor or user, event_type=event_type, context=context, details=details
    )
    email_after_commit(
        f"[VoxPria] {subject}",
        template,
        {"user": user, "context": context, "details": details, **(email_context or {})},
        [user.email, *also_notify],
    )
    return accounts
