"""Emails about an account's people: the invitation itself, and to the account's owners and
admins every membership change (invited, invitation revoked, joined, role changed, added,
removed, left, two-factor required or not), whether made on the Members page, through an
invitation or in the Django admin.

Also how every email of the project leaves: `send_to_each` enqueues one `send_email` job per
recipient on the "email" queue, in the transaction of the change (a rolled-back change sends
nothing); a worker sends it, retrying on EMAIL_RETRY_BACKOFF while the mail server fails, so no
request waits for a mail server or sees its errors.
"""

from __future__ import annotations

from datetime import timedelta

from django.core.mail import EmailMessage
from django.template.loader import render_to_string
from django_tasks import task

from accounts.models import Account, Invitation, Membership, User
from activity.models import ActivityEvent
from activity.summaries import event_summary
from jobs.retries import Backoff, retried_task
from voxkeys import metrics, sealed
from voxkeys.safetext import replace_unsafe

EMAIL_QUEUE = "email"
# Six attempts over about eight and a half hours: long enough to ride out a mail provider's
# outage, short enough that a security notice is not delivered a day late.
EMAIL_RETRY_BACKOFF = Backoff(
    delays=(
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=2),
        timedelta(hours=6),
    )
)

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


@retried_task(queue_name=EMAIL_QUEUE, backoff=EMAIL_RETRY_BACKOFF, retry_on=(OSError,))
def send_email(subject: str, sealed_body: str, to: str) -> None:
    """Send one message to one address (a job: smtplib's errors, and timeouts, are OSErrors)."""
    # A name with a line break must not break (or inject) a header; stored text written before
    # the safe-text rule (or by raw SQL) must not carry a refused character out either.
    subject = replace_unsafe(" ".join(subject.split()))
    body = replace_unsafe(sealed.unseal(sealed_body), keep="\n")
    try:
        EmailMessage(subject, body, None, [to]).send()
    except Exception:
        # Every email the app writes is sent here; the queue retries it.
        metrics.count_email_failure(1)
        raise


def send_to_each(subject: str, body: str, recipients: list[str]) -> None:
    """Enqueue one message per recipient, so no one learns who else receives it."""
    # Sealed: a body may hold a password-reset or invitation link, and the job row outlives it.
    for email in recipients:
        send_email.enqueue(subject, sealed.seal(body), email)


def notify_member_event(sender: object, event: ActivityEvent, **kwargs: object) -> None:
    """Email the membership event once the change commits (activity's event_recorded)."""
    if event.event_type in NOTIFIED_EVENTS:
        send_member_event_email.enqueue(event.pk)


@task(queue_name=EMAIL_QUEUE)
def send_member_event_email(event_id: int) -> None:
    """Tell the account's owners and admins who changed what about its members (a job)."""
    event = ActivityEvent.objects.select_related("account").get(pk=event_id)
    summary = event_summary(event)
    body = render_to_string(
        "accounts/email/member_event.txt",
        {"event": event, "account": event.account, "summary": summary},
    )
    subject = f"[VoxPria] {summary} in {event.account.name}"
    send_to_each(subject, body, manager_emails(event.account))


@task(queue_name=EMAIL_QUEUE)
def send_invitation_email(invitation_id: int, sealed_link: str) -> None:
    """Email the invited person their link (a job; the link is sealed in its arguments)."""
    link = sealed.unseal(sealed_link)
    invitation = Invitation.objects.select_related("account", "invited_by").get(pk=invitation_id)
    body = render_to_string(
        "accounts/email/invitation.txt", {"invitation": invitation, "link": link}
    )
    send_to_each(
        f"[VoxPria] You are invited to join {invitation.account.name}", body, [invitation.email]
    )
