"""Who may change an account's memberships (its owners and admins on the Members page, staff
in the Django admin), and the changes.

Every membership change is recorded in the account's activity log, in the change's own
transaction, so the customer can see who was given access to their account, and by whom; the
account's owners and admins are emailed about each (accounts.notifications).
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from accounts.models import Account, Membership, User
from activity.events import RequestContext, record_event
from activity.models import ActivityEvent

MANAGER_ROLE_REFUSED = (
    "Only a superuser can make someone an owner or admin, or change an owner's or admin's "
    "membership: owners and admins create API keys, and see their secrets."
)
OWN_MEMBERSHIP_REFUSED = (
    "Only a superuser can add, change or remove your own memberships: ask one to do it."
)
MANAGERS_ONLY = "Only the account's owners and admins can invite, change or remove members."
OWNERS_ONLY = "Only an owner can invite owners, make someone an owner or change an owner's role."
LAST_OWNER = (
    "An account needs an owner: make someone else an owner first, then change or remove this one."
)
MANAGER_ROLES = frozenset({Membership.Role.OWNER, Membership.Role.ADMIN})


class MembershipRefused(Exception):
    """A rule refused the change; `field` is the form field the message belongs next to."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def may_grant_privileges(staff: User) -> bool:
    """Whether `staff` may set staff status, superuser status, groups and permissions.

    Anyone else who could set them could give themselves every permission there is.
    """
    return staff.is_active and staff.is_superuser


def may_edit_user(staff: User, user: User) -> bool:
    """Whether `staff` may change or delete `user` (given the model permission).

    Staff and superusers are edited by superusers only: whoever can set someone's password or
    email can sign in as them, and so gain whatever they may do.
    """
    return (
        may_grant_privileges(staff)
        or user.pk == staff.pk
        or not (user.is_staff or user.is_superuser)
    )


def may_set_credentials(staff: User, user: User) -> bool:
    """Whether `staff` may set `user`'s password or change their email (given the permission).

    Whoever sets them can sign in as that person, so staff users, and owners and admins of an
    account (who manage its keys and members), are left to superusers; anyone may set their own.
    """
    if may_grant_privileges(staff) or user.pk == staff.pk:
        return True
    if user.is_staff or user.is_superuser:
        return False
    return not user.memberships.filter(
        role__in=[Membership.Role.OWNER, Membership.Role.ADMIN]
    ).exists()


def membership_refusal(
    *, staff: User, action: str, member: User, roles: Iterable[str]
) -> MembershipRefused | None:
    """Return why `staff` may not `action` ("add", "change", "delete") this membership of
    `member`, whose role is or becomes each of `roles`; None if they may.

    Owners and admins create keys (and see their secrets), so only superusers grant, change or
    remove those roles: otherwise staff could add a login they control as an admin and take
    over a customer. Nor do other staff change their own memberships, for the same reason.
    """
    if not (staff.is_staff and staff.has_perm(f"accounts.{action}_membership")):
        return MembershipRefused(f"You need the permission to {action} memberships.")
    if may_grant_privileges(staff):
        return None
    if member.pk is not None and member.pk == staff.pk:
        return MembershipRefused(OWN_MEMBERSHIP_REFUSED, "user")
    if any(role in MANAGER_ROLES for role in roles):
        return MembershipRefused(MANAGER_ROLE_REFUSED, "role")
    return None


def actor_membership(account: Account, user: User) -> Membership | None:
    """Return `user`'s membership in `account` as it is now, or None."""
    return account.memberships.filter(user=user).first()


def member_refusal(*, actor: Membership | None, roles: Iterable[str]) -> MembershipRefused | None:
    """Return why the member `actor` may not invite, change or remove someone whose role is or
    becomes each of `roles`; None if they may.

    Admins manage members and admins; whatever touches the owner role is for owners.
    """
    if actor is None or actor.role not in MANAGER_ROLES:
        return MembershipRefused(MANAGERS_ONLY)
    if Membership.Role.OWNER in roles and actor.role != Membership.Role.OWNER:
        return MembershipRefused(OWNERS_ONLY, "role")
    return None


def check_role(role: str) -> None:
    if role not in Membership.Role.values:
        raise MembershipRefused("Choose owner, admin or member.", "role")


def lock_account(account_id: int) -> Account:
    """Lock the account's row: its membership changes then happen one after another, so two
    owners demoting each other at once cannot leave it without an owner."""
    return Account.objects.select_for_update().get(pk=account_id)


@transaction.atomic
def add_member(
    *,
    account: Account,
    user: User,
    role: str,
    staff: User,
    context: RequestContext | None = None,
) -> Membership:
    """Give `user` the `role` in `account` on behalf of `staff`, and record it.

    Staff only: customers add people by invitation (accounts.invitations).
    """
    check_role(role)
    refusal = membership_refusal(staff=staff, action="add", member=user, roles=[role])
    if refusal is not None:
        raise refusal
    lock_account(account.pk)
    if Membership.objects.filter(account=account, user=user).exists():
        raise MembershipRefused(f"{user.email} is already a member of {account.name}.", "user")
    membership = Membership.objects.create(account=account, user=user, role=role)
    record_event(
        event_type=ActivityEvent.Type.MEMBER_ADDED,
        user=staff,
        account=account,
        context=context,
        details={"member": user.email, "role": role},
    )
    return membership


def _locked(membership: Membership) -> Membership | None:
    lock_account(membership.account_id)
    # Only the membership row: PostgreSQL would otherwise lock the user and account rows too.
    return (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "account")
        .filter(pk=membership.pk)
        .first()
    )


def _refusal(
    *, actor: User, as_staff: bool, action: str, current: Membership, roles: list[str]
) -> MembershipRefused | None:
    if as_staff:
        return membership_refusal(staff=actor, action=action, member=current.user, roles=roles)
    return member_refusal(actor=actor_membership(current.account, actor), roles=roles)


def _is_last_owner(current: Membership) -> bool:
    return (
        current.role == Membership.Role.OWNER
        and not current.account.memberships.filter(role=Membership.Role.OWNER)
        .exclude(pk=current.pk)
        .exists()
    )


@transaction.atomic
def change_role(
    *,
    membership: Membership,
    role: str,
    actor: User,
    as_staff: bool = False,
    context: RequestContext | None = None,
) -> Membership:
    """Give the member `role` on behalf of `actor` (a fellow member, or staff in the admin when
    `as_staff`); record the change if the role changed.

    Members cannot demote the last owner; staff (superusers, for owners) may, to repair or close
    an account.
    """
    check_role(role)
    # The stored role, not the one on the instance: an admin form has already overwritten it.
    current = _locked(membership)
    if current is None:
        raise MembershipRefused("This membership was removed meanwhile.")
    old_role = current.role
    refusal = _refusal(
        actor=actor, as_staff=as_staff, action="change", current=current, roles=[old_role, role]
    )
    if refusal is not None:
        raise refusal
    if role == old_role:
        return current
    if not as_staff and _is_last_owner(current):
        raise MembershipRefused(LAST_OWNER, "role")
    current.role = role
    current.save(update_fields=["role"])
    record_event(
        event_type=ActivityEvent.Type.MEMBER_CHANGED,
        user=actor,
        account=current.account,
        context=context,
        details={"member": current.user.email, "role": role, "old_role": old_role},
    )
    return current


@transaction.atomic
def remove_member(
    *,
    membership: Membership,
    actor: User,
    as_staff: bool = False,
    context: RequestContext | None = None,
) -> None:
    """Remove the membership on behalf of `actor` (the member themselves: they leave) and
    record it; already removed is a no-op. The last owner can neither be removed nor leave,
    except by staff.

    The member's sessions are out of the account from their next request on: each request
    looks the session's account up among the user's memberships (accounts.middleware).
    """
    current = _locked(membership)
    if current is None:
        return
    leaving = not as_staff and current.user_id == actor.pk
    if not leaving:
        refusal = _refusal(
            actor=actor, as_staff=as_staff, action="delete", current=current, roles=[current.role]
        )
        if refusal is not None:
            raise refusal
    if not as_staff and _is_last_owner(current):
        raise MembershipRefused(LAST_OWNER)
    current.delete()
    record_event(
        event_type=ActivityEvent.Type.LEFT if leaving else ActivityEvent.Type.MEMBER_REMOVED,
        user=actor,
        account=current.account,
        context=context,
        details={"member": current.user.email, "role": current.role},
    )
