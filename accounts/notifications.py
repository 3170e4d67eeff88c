"""Emails about an account's people: the invitation itself, and to the account's owners and
admins every membership change (invited, invitation revoked, joined, role changed, added,
removed, left, two-factor required or not), whether made on the Members page, through an
invitation or in the Django admin.
"""

from __future__ import annotations

import logging
from functools import partial

from django.core.mail import send_mass_mail
from django.db import transaction
from django.template.loader import render_to_string

from accounts.models import Account, Invitation, Membership, User
from activity.models import ActivityEvent
from activity.summaries import event_summary
from voxkeys import metrics
from voxkeys.safetext import replace_unsafe

logger = logging.getLogger(__name__)

NOTIFIED_EVENTS = frozenset(
    {
        ActivityEvent.Type.INVITED,
        ActivityEvent.Type.INVITATION_REVOKED,
        ActivityEvent.Type.JOINED,
        ActivityEvent.Type.MEMBER_ADDED,
        ActivityEvent.Type.MEMBER_CHANGED,
        ActivityEvent.Type.MEMBER_REMOVED,
        ActivityEvent.Type.LEFT,
        ActivityEvent.Type.TWO_FACTOR_REQUIRED,
        ActivityEvent.Type.TWO_FACTOR_NOT_REQUIRED,
    }
)


def manager_emails(account: Account) -> list[str]:
    """Return the addresses of the account's active owners and admins."""
    return list(
        User.objects.filter(
            is_active=True,
            memberships__account=account,
            memberships__role__in=[Membership.Role.OWNER, Membership.Role.ADMIN],
        )
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )


def send_to_each(subject: str, body: str, recipients: list[str]) -> None:
    """Send one message per recipient, so no one learns who else receives it."""
    # A name with a line break must not break (or inject) a header; stored text written before
    # the safe-text rule (or by raw SQL) must not carry a refused character out either.
    subject = replace_unsafe(" ".join(subject.split()))
    body = replace_unsafe(body, keep="\n")
    messages = [(subject, body, None, [email]) for email in recipients]
    try:
        send_mass_mail(messages, fail_silently=False)
    except Exception:
        # Every email the app writes goes through here; the caller logs (or retries) it.
        metrics.count_email_failure(len(messages))
        raise


def notify_member_event(sender: object, event: ActivityEvent, **kwargs: object) -> None:
    """Email the membership event once the change commits (activity's event_recorded)."""
    if event.event_type in NOTIFIED_EVENTS:
        transaction.on_commit(partial(send_member_event_email, event.pk), robust=True)


def send_member_event_email(event_id: int) -> None:
    """Tell the account's owners and admins who changed what about its members.

    Runs after the change's commit; a mail failure is logged and never reaches the user.
    """
    try:
        event = ActivityEvent.objects.select_related("account").get(pk=event_id)
        summary = event_summary(event)
        body = render_to_string(
            "accounts/email/member_event.txt",
            {"event": event, "account": event.account, "summary": summary},
        )
        subject = f"[VoxPria] {summary} in {event.account.name}"
        send_to_each(subject, body, manager_emails(event.account))
    except Exception:
        logger.exception("Could not email owners and admins about member event %s.", event_id)


def send_invitation_email(invitation_id: int, link: str) -> None:
    """Email the invited person their link (which exists only here and in that email)."""
    try:
        invitation = Invitation.objects.select_related("account", "invited_by").get(
            pk=invitation_id
        )
        body = render_to_string(
            "accounts/email/invitation.txt", {"invitation": invitation, "link": link}
        )
        send_to_each(
            f"[VoxPria] You are invited to join {invitation.account.name}", body, [invitation.email]
        )
    except Exception:
        logger.exception("Could not email invitation %s.", invitation_id)
