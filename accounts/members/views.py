from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.db.models import Case, IntegerField, Value, When
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts.invitations import (
    InvitationState,
    accept_as_new_user,
    accept_invitation,
    find_invitation,
    invitation_state,
    invite,
    is_for,
    resend_invitation,
    revoke_invitation,
)
from accounts.members.forms import InviteForm, NewMemberForm, RoleForm, TwoFactorRequirementForm
from accounts.middleware import SESSION_ACCOUNT_KEY
from accounts.models import Account, Invitation, Membership, User
from accounts.requests import AccountRequest
from accounts.services import MembershipRefused, member_refusal, remove_member
from accounts.services import change_role as change_role_service
from accounts.sudo import sudo_required
from accounts.twofactor.policy import (
    members_without_two_factor,
    requirement_change_refusal,
    requirement_refusal,
    set_two_factor_requirement,
    with_method_counts,
)
from activity.events import RequestContext

ROLE_ORDER = Case(
    When(role=Membership.Role.OWNER, then=Value(0)),
    When(role=Membership.Role.ADMIN, then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)
# ModelBackend, not the lockout's backend first in AUTHENTICATION_BACKENDS: the new member has
# just set their password, nobody typed one to be checked.
SIGN_IN_BACKEND = "django.contrib.auth.backends.ModelBackend"


@dataclass(frozen=True, slots=True)
class MemberRow:
    membership: Membership
    is_me: bool
    can_change_role: bool  # the viewer's own included: an owner may step down
    can_remove: bool  # never the viewer's own: they leave instead


@dataclass(frozen=True, slots=True)
class FormerMember:
    user: User
    active_keys: int


def _me(request: AccountRequest) -> Membership:
    """Return the viewer's membership in the account they work in (a 404 without one)."""
    if request.membership is None:
        raise Http404("This login is not a member of any account.")
    return request.membership


def former_members(account: Account) -> list[FormerMember]:
    """The people who left the account while active keys they created or rolled remain."""
    counts = Counter(
        account.api_keys.active()
        .filter(replaced_by__isnull=True, created_by__isnull=False)
        .exclude(created_by__in=account.memberships.values("user"))
        .values_list("created_by_id", flat=True)
    )
    people = User.objects.filter(pk__in=counts).order_by("email")
    return [FormerMember(user=person, active_keys=counts[person.pk]) for person in people]


def refused(request: AccountRequest, message: str) -> HttpResponse:
    return render(request, "accounts/members/refused.html", {"message": message}, status=403)


def confirm(request: AccountRequest, context: dict[str, Any]) -> HttpResponse:
    return render(request, "accounts/members/confirm.html", context)


@require_GET
def index(request: AccountRequest) -> HttpResponse:
    if request.account is None:
        # base.html tells a login without an account what to do.
        return render(request, "accounts/members/index.html")
    me = _me(request)
    account = request.account
    memberships = with_method_counts(
        account.memberships.select_related("user").order_by(ROLE_ORDER, "user__email")
    )

    def may_manage(membership: Membership) -> bool:
        return member_refusal(actor=me, roles=[membership.role]) is None

    rows = [
        MemberRow(
            membership=membership,
            is_me=membership.pk == me.pk,
            can_change_role=may_manage(membership),
            can_remove=may_manage(membership) and membership.pk != me.pk,
        )
        for membership in memberships
    ]
    manages = me.can_manage_keys
    context = {
        "rows": rows,
        "manages": manages,
        "invitations": account.invitations.pending().select_related("invited_by")
        if manages
        else [],
        "former_members": former_members(account) if manages else [],
        "sets_two_factor": requirement_refusal(me) is None,
    }
    return render(request, "accounts/members/index.html", context)


@require_http_methods(["GET", "POST"])
@sudo_required
def two_factor_requirement(request: AccountRequest) -> HttpResponse:
    """Turn "Require two-factor authentication" on or off, after a confirmation (owners only)."""
    me = _me(request)
    refusal = requirement_refusal(me)
    if refusal is not None:
        return refused(request, refusal)
    account = me.account
    if request.method == "GET":
        template_name = "accounts/members/two_factor.html"
        if request.htmx:
            template_name += "#dialog"
        turn_on = not account.require_two_factor
        context = {
            "turn_on": turn_on,
            "without": members_without_two_factor(account),
            "change_refusal": requirement_change_refusal(actor=request.user, required=turn_on),
        }
        return render(request, template_name, context)
    form = TwoFactorRequirementForm(request.POST)
    if not form.is_valid():
        return refused(request, "Choose whether to require two-factor authentication.")
    required = form.cleaned_data["required"]
    try:
        set_two_factor_requirement(
            account=account,
            actor=request.user,
            required=required,
            site_url=request.build_absolute_uri("/"),
            context=RequestContext.from_request(request),
        )
    except MembershipRefused as error:
        return refused(request, error.message)
    if required:
        messages.success(
            request,
            f"{account.name} now requires two-factor authentication. Members without it were "
            "emailed, and can reach only Settings → Security until they set it up.",
        )
    else:
        messages.success(request, f"{account.name} no longer requires two-factor authentication.")
    if request.htmx:
        return HttpResponseClientRedirect(reverse("members:index"))
    return redirect("members:index")


@require_http_methods(["GET", "POST"])
@sudo_required
def invite_member(request: AccountRequest) -> HttpResponse:
    me = _me(request)
    refusal = member_refusal(actor=me, roles=[])
    if refusal is not None:
        return refused(request, refusal.message)
    if request.method == "GET":
        return render_invite(request, InviteForm(actor=me))
    form = InviteForm(request.POST, actor=me)
    if form.is_valid():
        try:
            sent = invite(
                account=me.account,
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                actor=request.user,
                site_url=request.build_absolute_uri("/"),
                context=RequestContext.from_request(request),
            )
        except MembershipRefused as error:
            form.add_refusal(error)
        else:
            invitation = sent.invitation
            messages.success(
                request,
                f"Invitation sent to {invitation.email} as {invitation.get_role_display()}.",
            )
            return redirect("members:index")
    return render_invite(request, form, status=422)


def render_invite(request: AccountRequest, form: InviteForm, *, status: int = 200) -> HttpResponse:
    context = {"form": form, "ttl_days": settings.INVITATION_TTL_DAYS}
    return render(request, "accounts/members/invite.html", context, status=status)


@require_http_methods(["GET", "POST"])
@sudo_required
def change_member_role(request: AccountRequest, pk: int) -> HttpResponse:
    me = _me(request)
    target = get_object_or_404(me.account.memberships.select_related("user"), pk=pk)
    refusal = member_refusal(actor=me, roles=[target.role])
    if refusal is not None:
        return refused(request, refusal.message)
    form = RoleForm(request.POST or None, actor=me, initial={"role": target.role})
    if request.method == "POST" and form.is_valid():
        try:
            change_role_service(
                membership=target,
                role=form.cleaned_data["role"],
                actor=request.user,
                context=RequestContext.from_request(request),
            )
        except MembershipRefused as error:
            form.add_refusal(error)
        else:
            target.refresh_from_db()
            messages.success(
                request, f"{target.user.email} is now {target.get_role_display().lower()}."
            )
            return redirect("members:index")
    status = 422 if request.method == "POST" else 200
    return render(
        request, "accounts/members/role.html", {"form": form, "target": target}, status=status
    )


@require_http_methods(["GET", "POST"])
@sudo_required
def remove(request: AccountRequest, pk: int) -> HttpResponse:
    me = _me(request)
    target = get_object_or_404(me.account.memberships.select_related("user"), pk=pk)
    if target.pk == me.pk:
        return redirect("members:leave")
    refusal = member_refusal(actor=me, roles=[target.role])
    if refusal is not None:
        return refused(request, refusal.message)
    keys = list(me.account.api_keys.seen_by(target.user_id))
    if request.method == "GET":
        return confirm(
            request,
            {
                "title": f"Remove {target.user.email}?",
                "text": (
                    f"{target.user.get_full_name()} loses access to {me.account.name} at once; "
                    "their sessions leave the account on their next request."
                ),
                "keys": keys,
                "action": reverse("members:remove", args=[target.pk]),
                "button": "Remove member",
                "danger": True,
            },
        )
    try:
        remove_member(
            membership=target, actor=request.user, context=RequestContext.from_request(request)
        )
    except MembershipRefused as error:
        return refused(request, error.message)
    messages.success(request, f"{target.user.email} was removed from {me.account.name}.")
    if keys:
        return redirect("apikeys:former_member", target.user_id)
    return redirect("members:index")


@require_http_methods(["GET", "POST"])
def leave(request: AccountRequest) -> HttpResponse:
    me = _me(request)
    if request.method == "GET":
        return confirm(
            request,
            {
                "title": f"Leave {me.account.name}?",
                "text": "You lose access to the account at once; an owner or admin can invite "
                "you again.",
                "action": reverse("members:leave"),
                "button": "Leave account",
                "danger": True,
            },
        )
    try:
        remove_member(
            membership=me, actor=request.user, context=RequestContext.from_request(request)
        )
    except MembershipRefused as error:
        return refused(request, error.message)
    messages.success(request, f"You left {me.account.name}.")
    return redirect("dashboard")


def _invitation(request: AccountRequest, pk: int) -> tuple[Membership, Invitation]:
    me = _me(request)
    return me, get_object_or_404(me.account.invitations.pending(), pk=pk)


@require_http_methods(["GET", "POST"])
@sudo_required
def resend(request: AccountRequest, pk: int) -> HttpResponse:
    me, invitation = _invitation(request, pk)
    if request.method == "GET":
        return confirm(
            request,
            {
                "title": f"Send the invitation to {invitation.email} again?",
                "text": "A new link is emailed, valid from now; the earlier email's link stops "
                "working.",
                "action": reverse("members:resend", args=[invitation.pk]),
                "button": "Resend invitation",
                "danger": False,
            },
        )
    try:
        resend_invitation(
            invitation=invitation,
            actor=request.user,
            site_url=request.build_absolute_uri("/"),
            context=RequestContext.from_request(request),
        )
    except MembershipRefused as error:
        return refused(request, error.message)
    messages.success(request, f"Invitation sent to {invitation.email} again.")
    return redirect("members:index")


@require_http_methods(["GET", "POST"])
@sudo_required
def revoke(request: AccountRequest, pk: int) -> HttpResponse:
    me, invitation = _invitation(request, pk)
    if request.method == "GET":
        return confirm(
            request,
            {
                "title": f"Revoke the invitation of {invitation.email}?",
                "text": "Its link stops working at once.",
                "action": reverse("members:revoke", args=[invitation.pk]),
                "button": "Revoke invitation",
                "danger": True,
            },
        )
    try:
        revoke_invitation(
            invitation=invitation, actor=request.user, context=RequestContext.from_request(request)
        )
    except MembershipRefused as error:
        return refused(request, error.message)
    messages.success(request, f"The invitation of {invitation.email} was revoked.")
    return redirect("members:index")


def _invitation_page(request: HttpRequest, state: str, status: int, **context: Any) -> HttpResponse:
    return render(request, "accounts/invitation.html", {"state": state, **context}, status=status)


@login_not_required
@require_http_methods(["GET", "POST"])
@never_cache
@sensitive_post_parameters("password1", "password2")
def accept(request: HttpRequest, token: str) -> HttpResponse:
    """The invitation link: join (signed in as the invited address) or set up a login and join.

    Joining takes a click (a POST): mail scanners that open links must not accept for anyone.
    """
    invitation = find_invitation(token)
    if invitation is None:
        return _invitation_page(request, "unknown", 404)
    state = invitation_state(invitation)
    if state != InvitationState.VALID:
        return _invitation_page(request, state, 410, invitation=invitation)
    context = RequestContext.from_request(request)
    user = request.user
    if isinstance(user, User):
        if not is_for(invitation, user):
            return _invitation_page(request, "mismatch", 403, invitation=invitation)
        if request.method == "GET":
            return _invitation_page(request, "join", 200, invitation=invitation)
        try:
            membership = accept_invitation(invitation=invitation, user=user, context=context)
        except MembershipRefused as refusal:
            return _invitation_page(
                request, "refused", 409, invitation=invitation, message=refusal.message
            )
        return _joined(request, membership)
    if User.objects.filter(email=invitation.email).exists():
        login_url = f"{reverse('login')}?next={request.path}"
        return _invitation_page(request, "sign_in", 200, invitation=invitation, login_url=login_url)
    form = NewMemberForm(request.POST or None, email=invitation.email)
    if request.method == "POST" and form.is_valid():
        try:
            new_user = accept_as_new_user(
                invitation=invitation,
                full_name=form.cleaned_data["full_name"],
                password=form.cleaned_data["password1"],
                context=context,
            )
        except MembershipRefused as refusal:
            return _invitation_page(
                request, "refused", 409, invitation=invitation, message=refusal.message
            )
        login(request, new_user, backend=SIGN_IN_BACKEND)
        return _joined(request, new_user.memberships.get(account=invitation.account))
    status = 422 if request.method == "POST" else 200
    return _invitation_page(request, "new", status, invitation=invitation, form=form)


def _joined(request: HttpRequest, membership: Membership) -> HttpResponse:
    request.session[SESSION_ACCOUNT_KEY] = membership.account_id
    messages.success(
        request,
        f"Welcome to {membership.account.name}: you joined as "
        f"{membership.get_role_display().lower()}.",
    )
    return redirect("dashboard")
