"""What the member tests share: the link an invitation email carries, an invitation made
through the service."""

from __future__ import annotations

import re
from collections.abc import Sequence

from django.core.mail import EmailMessage

from accounts.invitations import SentInvitation, invite
from accounts.models import Membership

LINK = re.compile(r"https?://\S+/invitations/[A-Za-z0-9_-]{43}/")


def link_sent_to(outbox: Sequence[EmailMessage], email: str) -> str:
    """Return the invitation link in the latest email to `email`."""
    for message in reversed(outbox):
        if message.to == [email]:
            match = LINK.search(str(message.body))
            if match:
                return match.group(0)
    raise AssertionError(f"No invitation link was emailed to {email}.")


def invite_as(
    inviter: Membership,
    email: str,
    role: str = Membership.Role.MEMBER,
    site_url: str = "http://testserver",
) -> SentInvitation:
    return invite(
        account=inviter.account, email=email, role=role, actor=inviter.user, site_url=site_url
    )
