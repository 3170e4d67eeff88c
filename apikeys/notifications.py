"""Emails to an account's owners and admins: key created, rolled, revoked or found leaked; key
about to expire (KEY_EXPIRY_NOTICE_DAYS before, each notice once).

An email names a key by its masked form only; the secret never reaches this module. Every email
is a job on the "email" queue (accounts.notifications.send_to_each).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from accounts.models import Account
from accounts.notifications import EMAIL_QUEUE, manager_emails, send_to_each
from activity.models import ActivityEvent
from apikeys.models import ApiKey, ExpiryNotice
from voice.webhooks.key_events import emit_key_expiring

logger = logging.getLogger(__name__)
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
    """Email the key event once the action commits (activity's event_recorded)."""
    if event.event_type in NOTIFIED_EVENTS:
        # A job in the action's transaction: a rolled-back action sends nothing, and the mail
        # server, slow or down, is the worker's business.
        send_key_event_email.enqueue(event.pk)


@task(queue_name=EMAIL_QUEUE)
def send_key_event_email(event_id: int) -> None:
    """Tell the account's owners and admins that a key was created, rolled, revoked or leaked."""
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
            "stops_at_once": old_key_stops_at is not None and old_key_stops_at <= event.created_at,
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


@dataclass(frozen=True)
class NoticeRun:
    sent: int  # notices enqueued (each an email to every owner and admin)
    failed: int  # notices the database refused; the next run tries them again


def notice_kind(days: int) -> str:
    """Return the ExpiryNotice kind of the notice sent `days` days before expiry ("7d")."""
    return f"{days}d"


def send_expiry_notice(*, key: ApiKey, days: int, now: datetime) -> bool:
    """Enqueue the key's `days`-day expiry notice unless it was already sent; say whether it was.

    The row and the mail jobs share one transaction: a second machine inserting the same pair
    waits for the first one's commit and then hits the unique constraint, so each notice is
    enqueued once, and the queue retries its mail until the mail server takes it.
    """
    expires_at = key.expires_at
    if expires_at is None:
        raise ValueError("A key that never expires gets no expiry notice.")
    try:
        with transaction.atomic():
            ExpiryNotice.objects.create(
                api_key=key, kind=notice_kind(days), expires_at=expires_at, sent_at=now
            )
            emit_key_expiring(key=key, kind=notice_kind(days))
            roll_link = settings.SITE_URL + reverse("apikeys:detail", args=[key.pk])
            body = render_to_string(
                "apikeys/email/expiry_notice.txt",
                {"account": key.account, "key": key, "now": now, "roll_link": roll_link},
            )
            expires_on = f"{expires_at.astimezone(UTC):%-d %B %Y}"
            subject = (
                f"[VoxPria] API key “{key.name}” in {key.account.name} expires on {expires_on}"
            )
            send_to_each(subject, body, manager_emails(key.account))
    except IntegrityError:
        return False
    return True


def keys_due_for_notice(now: datetime) -> list[tuple[ApiKey, int]]:
    """Return the keys whose expiry notice is due now, each with the notice's days.

    A key gets the notice of the nearest KEY_EXPIRY_NOTICE_DAYS its expiry is within: a key
    inside its last day gets the one-day notice only, even if the 7-day one never went out.
    Rolled keys are left out: their owners already chose the replacement. So are keys of
    accounts not in good standing, which cannot roll keys; a reinstated account is warned on
    the next run.
    """
    notice_days = sorted(settings.KEY_EXPIRY_NOTICE_DAYS)
    candidates = (
        ApiKey.objects.active(now)
        .filter(replaced_by__isnull=True, account__status=Account.Status.ACTIVE)
        .select_related("account")
        .order_by("expires_at", "pk")
    )
    due = []
    nearer = now
    for days in notice_days:
        window_end = now + timedelta(days=days)
        notice_sent = ExpiryNotice.objects.filter(api_key=OuterRef("pk"), kind=notice_kind(days))
        in_window = candidates.filter(
            ~Exists(notice_sent), expires_at__gt=nearer, expires_at__lte=window_end
        )
        due += [(key, days) for key in in_window]
        nearer = window_end
    return due


def send_expiry_notices(now: datetime | None = None) -> NoticeRun:
    """Enqueue every expiry notice that is due and was not sent yet."""
    now = now or timezone.now()
    sent = failed = 0
    for key, days in keys_due_for_notice(now):
        try:
            sent += send_expiry_notice(key=key, days=days, now=now)
        except DatabaseError:
            logger.exception(
                "Could not enqueue the %d-day expiry notice of API key %s.", days, key.pk
            )
            failed += 1
    return NoticeRun(sent=sent, failed=failed)
