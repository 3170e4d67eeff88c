"""An account's "Require two-factor authentication", and staff's reset of someone's factors.

Owners turn the requirement on or off on the Members page. While it is on, a member without a
second factor can still sign in, but `TwoFactorPolicyMiddleware` holds them on Settings ->
Security (where they enrol one) until they have one: the account's keys are worth more than a
password. Only a superuser can reset a person's factors, since whoever does could then sign in
with the password alone.
"""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.db import transaction
from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.credentials import email_after_commit
from accounts.models import Account, Membership, Passkey, RecoveryCode, User
from accounts.requests import AccountRequest
from accounts.services import MembershipRefused, actor_membership, lock_account
from accounts.twofactor.events import record_two_factor_change
from accounts.twofactor.factors import has_two_factor
from activity.events import RequestContext, record_event
from activity.models import ActivityEvent
from voxkeys.safetext import unsafe_character_error

OWNERS_ONLY = "Only an owner can require two-factor authentication or stop requiring it."
RESET_SUPERUSERS_ONLY = "Only a superuser can reset someone's two-factor authentication."
# As GitHub asks of an organisation's owner: otherwise turning it on would lock them out at once.
OWN_FACTOR_FIRST = (
    "Set up two-factor authentication for yourself first (Settings → Security): once the "
    "account requires it, members without it can reach only that page."
)
REASON_REQUIRED = "Say why: the reason is recorded and emailed to the person and their owners."
REASON_MAX_LENGTH = 500


class ResetRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _confirmed_apps() -> QuerySet[TOTPDevice]:
    apps: QuerySet[TOTPDevice] = TOTPDevice.objects.filter(user=OuterRef("user"), confirmed=True)
    return apps


def with_method_counts(memberships: QuerySet[Membership]) -> QuerySet[Membership]:
    """Annotate each membership with `two_factor_methods`: its user's apps plus passkeys.

    Two subqueries rather than joins, so the counts do not multiply each other and the list
    costs one query however many members it shows.
    """

    def count_of(rows: QuerySet[TOTPDevice] | QuerySet[Passkey]) -> Coalesce:
        counted = rows.order_by().values("user").annotate(count=Count("pk")).values("count")
        return Coalesce(Subquery(counted, output_field=IntegerField()), Value(0))

    return memberships.annotate(
        two_factor_methods=count_of(_confirmed_apps())
        + count_of(Passkey.objects.filter(user=OuterRef("user")))
    )


def members_without_two_factor(account: Account) -> list[User]:
    """The account's active members who have neither an authenticator app nor a passkey."""
    return list(
        User.objects.filter(memberships__account=account, is_active=True)
        .exclude(Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)))
        .exclude(Exists(Passkey.objects.filter(user=OuterRef("pk"))))
        .order_by("email")
    )


def requirement_refusal(actor: Membership | None) -> str | None:
    """Why the member `actor` may not turn the account's requirement on or off, or None."""
    if actor is None or actor.role != Membership.Role.OWNER:
        return OWNERS_ONLY
    return None


def requirement_change_refusal(*, actor: User, required: bool) -> str | None:
    """Why the owner `actor` may not make the change now, or None: turning it on needs their
    own second factor."""
    if required and not has_two_factor(actor):
        return OWN_FACTOR_FIRST
    return None


@transaction.atomic
def set_two_factor_requirement(
    *,
    account: Account,
    actor: User,
    required: bool,
    site_url: str,
    context: RequestContext | None = None,
) -> bool:
    """Require two-factor authentication in `account`, or stop requiring it; owners only.

    Turning it on needs the owner's own second factor. Returns whether anything changed. The
    owners and admins are emailed about the change (accounts.notifications); turning it on also
    emails each member who has no second factor yet, with the link to the page where they set
    one up. `site_url` is the dashboard's address.
    """
    locked = lock_account(account.pk)
    refusal = requirement_refusal(actor_membership(locked, actor))
    if refusal is not None:
        raise MembershipRefused(refusal)
    if locked.require_two_factor == required:
        account.require_two_factor = required
        return False
    refusal = requirement_change_refusal(actor=actor, required=required)
    if refusal is not None:
        raise MembershipRefused(refusal)
    account.require_two_factor = locked.require_two_factor = required
    locked.save(update_fields=["require_two_factor"])
    without = members_without_two_factor(locked)
    record_event(
        event_type=ActivityEvent.Type.TWO_FACTOR_REQUIRED
        if required
        else ActivityEvent.Type.TWO_FACTOR_NOT_REQUIRED,
        user=actor,
        account=locked,
        context=context,
        details={"members_without_two_factor": len(without)},
    )
    if required:
        link = site_url.rstrip("/") + reverse("security")
        for person in without:
            email_after_commit(
                f"[VoxPria] {locked.name} now requires two-factor authentication",
                "accounts/email/two_factor_required.txt",
                {"account": locked, "user": person, "actor": actor, "link": link},
                [person.email],
            )
    return True


def owner_emails(user: User) -> list[str]:
    """The addresses of the active owners of every account `user` belongs to, `user` left out."""
    return list(
        User.objects.filter(
            is_active=True,
            memberships__role=Membership.Role.OWNER,
            memberships__account__memberships__user=user,
        )
        .exclude(pk=user.pk)
        .order_by("email")
        .values_list("email", flat=True)
        .distinct()
    )


def reset_refusal(staff: User) -> str | None:
    return None if staff.is_active and staff.is_superuser else RESET_SUPERUSERS_ONLY


def reason_error(reason: str) -> str | None:
    """Why `reason` cannot be recorded as the reason for a reset, or None if it can."""
    if not reason.strip():
        return REASON_REQUIRED
    if len(reason) > REASON_MAX_LENGTH:
        return f"Keep the reason under {REASON_MAX_LENGTH} characters."
    return unsafe_character_error(reason, "reason")


@transaction.atomic
def reset_two_factor(
    *, user: User, staff: User, reason: str, context: RequestContext | None = None
) -> None:
    """Remove every second factor of `user` (apps, passkeys, recovery codes); superusers only.

    For someone who lost all their factors. Recorded in each of their accounts with the reason
    and emailed to them and their accounts' owners. Their sessions stay signed in: a stolen
    session is not what a reset is for (they can sign out their other sessions on the Security
    page), and in an account that requires two-factor they are held on that page until they
    enrol again.
    """
    refusal = reset_refusal(staff) or reason_error(reason)
    if refusal is not None:
        raise ResetRefused(refusal)
    reason = reason.strip()
    TOTPDevice.objects.filter(user=user).delete()
    Passkey.objects.filter(user=user).delete()
    RecoveryCode.objects.filter(user=user).delete()
    record_two_factor_change(
        user=user,
        event_type=ActivityEvent.Type.TWO_FACTOR_RESET,
        subject="Your two-factor authentication was reset",
        template="accounts/email/two_factor_reset.txt",
        context=context,
        details={"reason": reason},
        actor=staff,
        also_notify=owner_emails(user),
    )


def is_reachable_while_held(path: str) -> bool:
    """Whether a member held by the policy may open `path`: enrolment and ways out only."""
    return path.startswith(("/static/", reverse("security"))) or path in {
        reverse("logout"),
        reverse("switch_account"),
        reverse("confirm_password"),
    }


class TwoFactorPolicyMiddleware:
    """Hold a member without a second factor on Settings -> Security while their current account
    requires one.

    After CurrentAccountMiddleware (which sets request.account). Only a signed-in request in a
    requiring account asks the database whether its user has a factor; every other costs nothing.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: AccountRequest) -> HttpResponse:
        request.two_factor_required_by = None
        account = getattr(request, "account", None)
        if (
            account is not None
            and account.require_two_factor
            and not request.path_info.startswith("/api/")
            and request.user.is_authenticated
            and not has_two_factor(request.user)
        ):
            request.two_factor_required_by = account
            if not is_reachable_while_held(request.path_info):
                return self.hold(request, account)
        return self.get_response(request)

    def hold(self, request: AccountRequest, account: Account) -> HttpResponse:
        security = reverse("security")
        if request.headers.get("HX-Request") == "true":
            return HttpResponseClientRedirect(security)
        if request.method in {"GET", "HEAD"}:
            messages.warning(
                request,
                f"{account.name} requires two-factor authentication: set it up here to continue.",
            )
            return redirect(security)
        return render(request, "accounts/security/held.html", {"held_account": account}, status=403)
