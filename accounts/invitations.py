"""Invitations: an account's owners and admins (or the `createaccount` command) invite someone by
email; the link in the email lets that person join with the invited role.

The link carries `secrets.token_urlsafe(32)` (256 bits); only its SHA-256 digest is stored and
looked up, as for API keys, so a fast hash is safe and a copy of the database opens no account.
A link works once, for INVITATION_TTL_DAYS, unless revoked; resending gives a new token, so the
older email's link stops working.
"""

from __future__ import annotations

import enum
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.emails import canonical_email
from accounts.models import Account, Invitation, Membership, User
from accounts.notifications import send_invitation_email
from accounts.services import (
    MembershipRefused,
    actor_membership,
    check_role,
    lock_account,
    member_refusal,
)
from activity.events import RequestContext, record_event
from activity.models import ActivityEvent
from voxkeys import sealed

TOKEN_BYTES = 32
# token_urlsafe(32): 43 characters of the URL-safe base64 alphabet.
TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")


class InvitationState(enum.StrEnum):
    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"
    USED = "used"


@dataclass(frozen=True, slots=True)
class SentInvitation:
    """A new or resent invitation and the link that was emailed (shown nowhere else)."""

    invitation: Invitation
    link: str


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_invitation(token: str) -> Invitation | None:
    """Return the invitation a link's token belongs to, or None; junk never reaches the database."""
    if not TOKEN_FORMAT.fullmatch(token):
        return None
    return (
        Invitation.objects.select_related("account", "invited_by")
        .filter(token_digest=token_digest(token))
        .first()
    )


def invitation_state(invitation: Invitation) -> InvitationState:
    if invitation.accepted_at is not None:
        return InvitationState.USED
    if invitation.revoked_at is not None:
        return InvitationState.REVOKED
    if invitation.is_expired():
        return InvitationState.EXPIRED
    return InvitationState.VALID


def _refuse_unless_allowed(account: Account, actor: User | None, role: str) -> None:
    # No actor: the system (an operator's command), which may invite anyone.
    if actor is None:
        return
    refusal = member_refusal(actor=actor_membership(account, actor), roles=[role])
    if refusal is not None:
        raise refusal


@sensitive_variables("token")
def _send(invitation: Invitation, site_url: str) -> SentInvitation:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = timezone.now()
    invitation.token_digest = token_digest(token)
    invitation.sent_at = now
    invitation.expires_at = now + timedelta(days=settings.INVITATION_TTL_DAYS)
    invitation.save()
    link = site_url.rstrip("/") + reverse("invitation", args=[token])
    # A job in this transaction: a rolled-back invitation sends nothing.
    send_invitation_email.enqueue(invitation.pk, sealed.seal(link))
    return SentInvitation(invitation=invitation, link=link)


@transaction.atomic
def invite(
    *,
    account: Account,
    email: str,
    role: str,
    actor: User | None,
    site_url: str,
    context: RequestContext | None = None,
) -> SentInvitation:
    """Invite `email` to join `account` as `role`, on behalf of `actor` (None: the system), and
    email the link; `site_url` is the dashboard's address the link starts with."""
    check_role(role)
    _refuse_unless_allowed(account, actor, role)
    email = canonical_email(email)
    lock_account(account.pk)
    if account.memberships.filter(user__email=email).exists():
        raise MembershipRefused(f"{email} is already a member of {account.name}.", "email")
    if account.invitations.pending().filter(email=email).exists():
        raise MembershipRefused(
            f"{email} has already been invited: resend or revoke that invitation.", "email"
        )
    sent = _send(Invitation(account=account, email=email, role=role, invited_by=actor), site_url)
    record_event(
        event_type=ActivityEvent.Type.INVITED,
        user=actor,
        account=account,
        context=context,
        details={"email": email, "role": role},
    )
    return sent


def _locked_open(invitation: Invitation) -> Invitation:
    current = (
        Invitation.objects.select_for_update(of=("self",))
        .select_related("account")
        .get(pk=invitation.pk)
    )
    state = invitation_state(current)
    if state == InvitationState.USED:
        raise MembershipRefused(f"{current.email} has already accepted this invitation.")
    if state == InvitationState.REVOKED:
        raise MembershipRefused("This invitation was revoked.")
    return current


@transaction.atomic
def resend_invitation(
    *,
    invitation: Invitation,
    actor: User,
    site_url: str,
    context: RequestContext | None = None,
) -> SentInvitation:
    """Email the invitation again with a new link, valid from now; the old link stops working."""
    current = _locked_open(invitation)
    _refuse_unless_allowed(current.account, actor, current.role)
    sent = _send(current, site_url)
    record_event(
        event_type=ActivityEvent.Type.INVITED,
        user=actor,
        account=current.account,
        context=context,
        details={"email": current.email, "role": current.role, "resent": True},
    )
    return sent


@transaction.atomic
def revoke_invitation(
    *, invitation: Invitation, actor: User, context: RequestContext | None = None
) -> Invitation:
    """Make the invitation's link stop working at once."""
    current = _locked_open(invitation)
    _refuse_unless_allowed(current.account, actor, current.role)
    current.revoked_at = timezone.now()
    current.save(update_fields=["revoked_at"])
    record_event(
        event_type=ActivityEvent.Type.INVITATION_REVOKED,
        user=actor,
        account=current.account,
        context=context,
        details={"email": current.email, "role": current.role},
    )
    return current


def _locked_valid(invitation: Invitation) -> Invitation:
    current = _locked_open(invitation)
    if current.is_expired():
        raise MembershipRefused("This invitation has expired.")
    return current


def _join(invitation: Invitation, user: User, context: RequestContext | None) -> Membership:
    lock_account(invitation.account_id)
    if invitation.account.memberships.filter(user=user).exists():
        raise MembershipRefused(f"You are already a member of {invitation.account.name}.")
    membership = Membership.objects.create(
        account=invitation.account, user=user, role=invitation.role
    )
    invitation.accepted_at = timezone.now()
    invitation.accepted_by = user
    invitation.save(update_fields=["accepted_at", "accepted_by"])
    record_event(
        event_type=ActivityEvent.Type.JOINED,
        user=user,
        account=invitation.account,
        context=context,
        details={"member": invitation.email, "role": invitation.role},
    )
    return membership


def is_for(invitation: Invitation, user: User) -> bool:
    """Whether the invitation was sent to `user`'s address."""
    return canonical_email(user.email) == invitation.email


@transaction.atomic
def accept_invitation(
    *, invitation: Invitation, user: User, context: RequestContext | None = None
) -> Membership:
    """Make the signed-in `user`, to whose address the invitation was sent, a member."""
    current = _locked_valid(invitation)
    if not is_for(current, user):
        raise MembershipRefused(f"This invitation is for {current.email}.")
    return _join(current, user, context)


@sensitive_variables("password")
@transaction.atomic
def accept_as_new_user(
    *,
    invitation: Invitation,
    full_name: str,
    password: str,
    context: RequestContext | None = None,
) -> User:
    """Create the invited person's login (a password the caller has validated) and join."""
    current = _locked_valid(invitation)
    if User.objects.filter(email=current.email).exists():
        raise MembershipRefused(f"{current.email} already has a login: sign in to accept.")
    user = User.objects.create_user(email=current.email, password=password, full_name=full_name)
    _join(current, user, context)
    return user
