"""Emails to an account's owners and admins: key created, rolled, revoked or found leaked; key
about to expire.

An email names a key by its masked form only; the secret never reaches this module.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.models import Account
from accounts.notifications import manager_emails, send_to_each
from activity.models import ActivityEvent
from apikeys.expiry import EXPIRY_WARNING
from apikeys.models import ApiKey, ExpiryNotice
from voice.webhooks.key_events import emit_key_expiring

logger = logging.getLogger(__name__)

ONE_DAY_WARNING = timedelta(days=1)
# Owners and admins get an email for these.
NOTIFIED_EVENTS = frozenset(
    {
        ActivityEvent.Type.CREATED,
        ActivityEvent.Type.ROLLED,
        ActivityEvent.Type.REVOKED,
        ActivityEvent.Type.LEAKED,
    }
)


def notify_key_event(sender: object, event: ActivityEvent, **kwargs: object) -> None:
    """Send the key event's email once the action commits (activity's event_recorded)."""
    if event.event_type in NOTIFIED_EVENTS:
        # After the commit: a rolled-back action sends nothing, and a mail server that is slow
        # or down never holds the transaction open.
        transaction.on_commit(partial(send_key_event_email, event.pk), robust=True)


def send_key_event_email(event_id: int) -> None:
    """Tell the account's owners and admins that a key was created, rolled, revoked or leaked.

    Runs after the action's commit; a mail failure is logged and never reaches the user.
    """
    try:
        event = ActivityEvent.objects.select_related("account", "api_key", "related_key").get(
            pk=event_id
        )
        key = event.api_key
        if key is None:
            raise ValueError("Only key events are emailed.")
        old_key_stops_at = None
        if event.event_type == ActivityEvent.Type.ROLLED:
            old_key_stops_at = key.revoked_at or key.expires_at
        leaked = event.event_type == ActivityEvent.Type.LEAKED
        body = render_to_string(
            "apikeys/email/key_leaked.txt" if leaked else "apikeys/email/key_event.txt",
            {
                "event": event,
                "account": event.account,
                "key": key,
                "new_key": event.related_key,
                "old_key_stops_at": old_key_stops_at,
                "stops_at_once": old_key_stops_at is not None
                and old_key_stops_at <= event.created_at,
            },
        )
        if leaked:
            subject = (
                f"[VoxPria] API key “{key.name}” in {event.account.name} was found in public "
                "and revoked"
            )
        else:
            subject = (
                f"[VoxPria] API key “{key.name}” {event.get_event_type_display().lower()} "
                f"in {event.account.name}"
            )
        send_to_each(subject, body, manager_emails(event.account))
    except Exception:
        logger.exception("Could not email owners and admins about key event %s.", event_id)


@dataclass(frozen=True)
class NoticeRun:
    sent: int  # notices sent (each to every owner and admin)
    failed: int  # notices whose mail failed; the next run retries them


def send_expiry_notice(*, key: ApiKey, kind: ExpiryNotice.Kind, now: datetime) -> bool:
    """Send the key's `kind` expiry notice unless it was already sent; say whether it was sent.

    The row and the mail share one transaction: a failed send leaves no row, so the next run
    retries; a second machine inserting the same pair waits for the first one's commit and then
    hits the unique constraint, so each notice goes out once. Mail errors propagate.
    """
    expires_at = key.expires_at
    if expires_at is None:
        raise ValueError("A key that never expires gets no expiry notice.")
    try:
        with transaction.atomic():
            ExpiryNotice.objects.create(api_key=key, kind=kind, expires_at=expires_at, sent_at=now)
            emit_key_expiring(key=key, kind=kind)
            body = render_to_string(
                "apikeys/email/expiry_notice.txt",
                {"account": key.account, "key": key, "now": now},
            )
            expires_on = f"{expires_at.astimezone(UTC):%-d %B %Y}"
            subject = (
                f"[VoxPria] API key “{key.name}” in {key.account.name} expires on {expires_on}"
            )
            send_to_each(subject, body, manager_emails(key.account))
    except IntegrityError:
        return False
    return True


def keys_due_for_notice(now: datetime) -> list[tuple[ApiKey, ExpiryNotice.Kind]]:
    """Return the keys whose expiry notice is due now, each with the notice to send.

    A key inside its last day gets the one-day notice only, even if the 7-day one never went
    out. Rolled keys are left out: their owners already chose the replacement. So are keys of
    accounts not in good standing, which cannot roll keys; a reinstated account is warned on
    the next run.
    """
    candidates = (
        ApiKey.objects.active(now)
        .filter(
            replaced_by__isnull=True,
            expires_at__lte=now + EXPIRY_WARNING,
            account__status=Account.Status.ACTIVE,
        )
        .select_related("account")
        .order_by("expires_at", "pk")
    )

    def notice_sent(kind: ExpiryNotice.Kind) -> Exists:
        return Exists(ExpiryNotice.objects.filter(api_key=OuterRef("pk"), kind=kind))

    last_day = now + ONE_DAY_WARNING
    one_day = candidates.filter(~notice_sent(ExpiryNotice.Kind.ONE_DAY), expires_at__lte=last_day)
    seven_days = candidates.filter(
        ~notice_sent(ExpiryNotice.Kind.SEVEN_DAYS), expires_at__gt=last_day
    )
    return [(key, ExpiryNotice.Kind.ONE_DAY) for key in one_day] + [
        (key, ExpiryNotice.Kind.SEVEN_DAYS) for key in seven_days
    ]


def send_expiry_notices(now: datetime | None = None) -> NoticeRun:
    """Send every expiry notice that is due and was not sent yet."""
    now = now or timezone.now()
    sent = failed = 0
    for key, kind in keys_due_for_notice(now):
        try:
            sent += send_expiry_notice(key=key, kind=kind, now=now)
        except Exception:
            logger.exception("Could not send the %s expiry notice for API key %s.", kind, key.pk)
            failed += 1
    return NoticeRun(sent=sent, failed=failed)
