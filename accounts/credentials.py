"""Changing a login's name, password or email, and telling whoever should know.

Setting someone's password or email is how a login is taken over, so each change is recorded
in the activity log of every account the login belongs to, in the change's own transaction, and
emailed once it commits: to the login (both addresses, for an email change), and for a password
set by staff also to the accounts' owners. A new password ends every other session by itself:
Django keeps a hash of the password in each session and signs out those that no longer match.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string

from accounts.emails import canonical_email
from accounts.models import Account, Membership, User
from accounts.notifications import send_to_each
from accounts.services import may_set_credentials
from activity.events import RequestContext, record_event
from activity.models import ActivityEvent
from voxkeys.safetext import unsafe_character_error

EMAIL_CHANGE_SALT = "accounts.credentials.email-change"
EMAIL_TAKEN = "Another login already uses this email address."
STAFF_REFUSED = (
    "Only a superuser can set the password or change the email of staff, or of an account's "
    "owner or admin: whoever sets them can sign in as that person."
)


class CredentialsRefused(Exception):
    """A rule refused the change; `field` is the form field the message belongs next to."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def record_in_accounts(
    *,
    user: User,
    actor: User,
    event_type: ActivityEvent.Type,
    context: RequestContext | None,
    details: dict[str, Any],
) -> list[Account]:
    accounts = [membership.account for membership in Membership.objects.for_user(user)]
    for account in accounts:
        record_event(
            event_type=event_type, user=actor, account=account, context=context, details=details
        )
    return accounts


def email_after_commit(
    subject: str, template: str, context: dict[str, Any], recipients: Iterable[str]
) -> None:
    # Rendered now (the context holds objects a job's arguments cannot), sent by a worker once
    # the change commits: a rolled-back change sends nothing.
    send_to_each(subject, render_to_string(template, context), sorted(set(recipients)))


@transaction.atomic
def change_name(*, user: User, full_name: str) -> None:
    """Set the name the login is shown by (trimmed; empty shows the email)."""
    full_name = full_name.strip()
    if message := unsafe_character_error(full_name, "name"):
        raise CredentialsRefused(message, "full_name")
    user.full_name = full_name
    user.save(update_fields=["full_name"])


def _owner_emails(accounts: list[Account]) -> list[str]:
    return list(
        User.objects.filter(
            is_active=True,
            memberships__account__in=accounts,
            memberships__role=Membership.Role.OWNER,
        ).values_list("email", flat=True)
    )


def _save_password(user: User, password: str) -> None:
    user.set_password(password)
    user.save(update_fields=["password"])


@transaction.atomic
def reset_password(*, user: User, password: str, context: RequestContext | None = None) -> None:
    """Set the password chosen through an emailed reset link, record it and tell the login.

    The link proved the address is theirs, so a sign-in lockout on it is lifted too.
    """
    _save_password(user, password)
    AccessAttempt.objects.filter(username=user.email).delete()
    record_in_accounts(
        user=user,
        actor=user,
        event_type=ActivityEvent.Type.PASSWORD_RESET,
        context=context,
        details={"member": user.email},
    )
    email_after_commit(
        "[VoxPria] Your password was reset",
        "accounts/email/password_reset_done.txt",
        {"user": user, "context": context},
        [user.email],
    )


@transaction.atomic
def change_password(*, user: User, password: str, context: RequestContext | None = None) -> None:
    """Set the password the signed-in login chose on its profile, record it and tell it."""
    _save_password(user, password)
    record_in_accounts(
        user=user,
        actor=user,
        event_type=ActivityEvent.Type.PASSWORD_CHANGED,
        context=context,
        details={"member": user.email},
    )
    email_after_commit(
        "[VoxPria] Your password was changed",
        "accounts/email/password_changed.txt",
        {"user": user, "context": context},
        [user.email],
    )


def check_staff_may_set_credentials(*, staff: User, user: User) -> None:
    """Raise CredentialsRefused unless `staff` may set `user`'s password or email."""
    if not may_set_credentials(staff, user):
        raise CredentialsRefused(STAFF_REFUSED, "email")


@transaction.atomic
def record_staff_password_set(
    *, user: User, staff: User, context: RequestContext | None = None
) -> None:
    """Record and announce that `staff` set `user`'s password (the admin's form set it, in this
    transaction): in each of the user's accounts, to the user and to those accounts' owners."""
    check_staff_may_set_credentials(staff=staff, user=user)
    if user.pk == staff.pk:
        return  # their own password, through the admin: nothing anyone else needs to know
    accounts = record_in_accounts(
        user=user,
        actor=staff,
        event_type=ActivityEvent.Type.STAFF_PASSWORD_SET,
        context=context,
        details={"member": user.email},
    )
    email_after_commit(
        f"[VoxPria] VoxPria staff set a new password for {user.email}",
        "accounts/email/staff_password_set.txt",
        {"user": user, "staff": staff, "accounts": accounts, "context": context},
        [user.email, *_owner_emails(accounts)],
    )


@transaction.atomic
def record_staff_email_change(
    *, user: User, old_email: str, staff: User, context: RequestContext | None = None
) -> None:
    """Record and announce that `staff` changed `user`'s email from `old_email` (the admin's
    form saved it, in this transaction): the old address, the new one and the owners are told,
    since the new address can now reset the password."""
    check_staff_may_set_credentials(staff=staff, user=user)
    if user.pk == staff.pk or old_email == user.email:
        return
    accounts = record_in_accounts(
        user=user,
        actor=staff,
        event_type=ActivityEvent.Type.EMAIL_CHANGED,
        context=context,
        details={"member": user.email, "old_email": old_email, "staff": True},
    )
    email_after_commit(
        f"[VoxPria] VoxPria staff changed the email of {old_email}",
        "accounts/email/staff_email_changed.txt",
        {"user": user, "old_email": old_email, "staff": staff, "accounts": accounts},
        [old_email, user.email, *_owner_emails(accounts)],
    )


def email_change_token(*, user: User, new_email: str) -> str:
    """Return the signed token of the confirmation link for changing `user`'s email."""
    return signing.dumps(
        {"user": user.pk, "old": user.email, "new": canonical_email(new_email)},
        salt=EMAIL_CHANGE_SALT,
    )


def _check_email_free(email: str, user: User) -> None:
    if User.objects.filter(email=email).exclude(pk=user.pk).exists():
        raise CredentialsRefused(EMAIL_TAKEN, "email")


def request_email_change(
    *, user: User, new_email: str, confirm_url: str, context: RequestContext | None = None
) -> None:
    """Send the confirmation link to the new address, and tell the current one it was asked.

    Nothing changes until the link is followed, which proves the new address is theirs.
    """
    new_email = canonical_email(new_email)
    if new_email == user.email:
        raise CredentialsRefused("This is already your email address.", "email")
    _check_email_free(new_email, user)
    minutes = settings.PASSWORD_RESET_TIMEOUT // 60
    details = {"user": user, "new_email": new_email, "minutes": minutes, "context": context}
    email_after_commit(
        "[VoxPria] Confirm your new email address",
        "accounts/email/email_change_confirm.txt",
        {**details, "confirm_url": confirm_url},
        [new_email],
    )
    email_after_commit(
        "[VoxPria] A change of your email address was requested",
        "accounts/email/email_change_requested.txt",
        details,
        [user.email],
    )


@transaction.atomic
def confirm_email_change(*, user: User, token: str, context: RequestContext | None = None) -> str:
    """Change `user`'s email to the one the link was sent to; return it. Each link works once
    (it names the email it replaces) and for PASSWORD_RESET_TIMEOUT seconds."""
    try:
        change = signing.loads(
            token, salt=EMAIL_CHANGE_SALT, max_age=settings.PASSWORD_RESET_TIMEOUT
        )
    except signing.SignatureExpired:
        raise CredentialsRefused(
            "This link has expired. Ask for a new one on your profile."
        ) from None
    except signing.BadSignature:
        raise CredentialsRefused(
            "This link is not valid. Copy the whole link from the email."
        ) from None
    current = User.objects.select_for_update().get(pk=user.pk)
    if change.get("user") != current.pk:
        raise CredentialsRefused("This link is for another login. Sign in as that login first.")
    old_email, new_email = change.get("old"), change.get("new")
    if old_email != current.email or not isinstance(new_email, str):
        raise CredentialsRefused("This link was already used, or your email changed since.")
    _check_email_free(new_email, current)
    current.email = new_email
    try:
        with transaction.atomic():
            current.save(update_fields=["email"])
    except IntegrityError:  # another login took the address since the check
        raise CredentialsRefused(EMAIL_TAKEN) from None
    user.email = new_email
    record_in_accounts(
        user=current,
        actor=current,
        event_type=ActivityEvent.Type.EMAIL_CHANGED,
        context=context,
        details={"member": new_email, "old_email": old_email},
    )
    email_after_commit(
        "[VoxPria] Your email address was changed",
        "accounts/email/email_changed.txt",
        {"user": current, "old_email": old_email, "new_email": new_email, "context": context},
        [old_email, new_email],
    )
    return new_email
