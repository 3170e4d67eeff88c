"""What staff may change about users and memberships in the Django admin, and the changes.

Every membership change is recorded in the account's activity log, in the change's own
transaction, so the customer can see who was given access to their account, and by whom.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction

from accounts.models import Account, Membership, User
from activity.events import RequestContext, record_event
from activity.models import ActivityEvent

OWNER_ROLE_REFUSED = "Only a superuser can make someone an owner or change an owner's membership."
OWN_MEMBERSHIP_REFUSED = (
    "Only a superuser can add, change or remove your own memberships: ask one to do it."
)


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

    Owners control everything in an account, so only superusers grant, change or remove the
    owner role; nor do other staff change their own memberships, which would grant them access
    to a customer's account.
    """
    if not (staff.is_staff and staff.has_perm(f"accounts.{action}_membership")):
        return MembershipRefused(f"You need the permission to {action} memberships.")
    if may_grant_privileges(staff):
        return None
    if member.pk is not None and member.pk == staff.pk:
        return MembershipRefused(OWN_MEMBERSHIP_REFUSED, "user")
    if Membership.Role.OWNER in roles:
        return MembershipRefused(OWNER_ROLE_REFUSED, "role")
    return None


def _check_role(role: str) -> None:
    if role not in Membership.Role.values:
        raise MembershipRefused("Choose owner, admin or member.", "role")


@transaction.atomic
def add_member(
    *,
    account: Account,
    user: User,
    role: str,
    staff: User,
    context: RequestContext | None = None,
) -> Membership:
    """Give `user` the `role` in `account` on behalf of `staff`, and record it."""
    _check_role(role)
    refusal = membership_refusal(staff=staff, action="add", member=user, roles=[role])
    if refusal is not None:
        raise refusal
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
    # Only the membership row: PostgreSQL would otherwise lock the user and account rows too.
    return (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user", "account")
        .filter(pk=membership.pk)
        .first()
    )


@transaction.atomic
def change_role(
    *,
    membership: Membership,
    role: str,
    staff: User,
    context: RequestContext | None = None,
) -> Membership:
    """Give the member `role` on behalf of `staff`; record the change if the role changed."""
    _check_role(role)
    # The stored role, not the one on the instance: an admin form has already overwritten it.
    current = _locked(membership)
    if current is None:
        raise MembershipRefused("This membership was removed meanwhile.")
    old_role = current.role
    refusal = membership_refusal(
        staff=staff, action="change", member=current.user, roles=[old_role, role]
    )
    if refusal is not None:
        raise refusal
    if role == old_role:
        return current
    current.role = role
    current.save(update_fields=["role"])
    record_event(
        event_type=ActivityEvent.Type.MEMBER_CHANGED,
        user=staff,
        account=current.account,
        context=context,
        details={"member": current.user.email, "role": role, "old_role": old_role},
    )
    return current


@transaction.atomic
def remove_member(
    *, membership: Membership, staff: User, context: RequestContext | None = None
) -> None:
    """Remove the membership on behalf of `staff` and record it; already removed is a no-op."""
    current = _locked(membership)
    if current is None:
        return
    refusal = membership_refusal(
        staff=staff, action="delete", member=current.user, roles=[current.role]
    )
    if refusal is not None:
        raise refusal
    current.delete()
    record_event(
        event_type=ActivityEvent.Type.MEMBER_REMOVED,
        user=staff,
        account=current.account,
        context=context,
        details={"member": current.user.email, "role": current.role},
    )
