from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection

from accounts.models import Account, Membership
from apikeys.keys import is_well_formed, key_digest
from apikeys.models import ApiKey
from apikeys.services import (
    AlreadyRevoked,
    DuplicateSubmission,
    InvalidKeyInput,
    KeyActionRefused,
    KeyNotActive,
    create_key,
    creation_block,
    end_grace,
    revoke_key,
    roll_key,
)
from tests.factories import AccountFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def create(membership: Membership, name: str = "Production Server – Main App", **kwargs):  # noqa: ANN201
    kwargs.setdefault("scopes", ["calls:read"])
    return create_key(account=membership.account, user=membership.user, name=name, **kwargs)


def test_create_key_stores_only_digest_and_mask(owner: Membership) -> None:
    created = create(owner, scopes=["contacts:read", "calls:write"])
    key = ApiKey.objects.get()
    assert is_well_formed(created.secret)
    assert key.key_digest == key_digest(created.secret)
    assert key.masked_key == created.secret[:13] + "…" + created.secret[-4:]
    assert created.secret not in {getattr(key, f.attname) for f in ApiKey._meta.fields}
    assert key.scopes == "calls:write contacts:read"  # catalogue order
    assert key.created_by == owner.user
    assert key.account == owner.account
    assert key.is_active and key.last_used_at is None


def test_admin_role_may_create(admin_member: Membership) -> None:
    assert creation_block(admin_member) is None
    create(admin_member)
    assert admin_member.account.api_keys.count() == 1


def test_member_role_is_refused(member: Membership) -> None:
    with pytest.raises(KeyActionRefused) as refused:
        create(member)
    assert refused.value.block.code == "role"
    assert "ask an owner or admin" in refused.value.block.message
    assert not ApiKey.objects.exists()


def test_non_member_is_refused(owner: Membership, other_owner: Membership) -> None:
    with pytest.raises(KeyActionRefused):
        create_key(account=owner.account, user=other_owner.user, name="x", scopes=["calls:read"])
    assert not ApiKey.objects.exists()


def test_suspended_account_is_refused(suspended_owner: Membership) -> None:
    with pytest.raises(KeyActionRefused) as refused:
        create(suspended_owner)
    assert refused.value.block.code == "account_not_in_good_standing"
    assert "contact support" in refused.value.block.message
    assert not ApiKey.objects.exists()


def test_limit_counts_only_active_keys(owner: Membership) -> None:
    Account.objects.filter(pk=owner.account_id).update(api_key_limit=2)
    owner.account.refresh_from_db()
    first = create(owner, name="One")
    create(owner, name="Two")
    with pytest.raises(KeyActionRefused) as refused:
        create(owner, name="Three")
    assert refused.value.block.code == "key_limit_reached"
    assert "2 of 2 keys" in refused.value.block.message
    assert "contact support to raise the limit" in refused.value.block.message
    revoke_key(key=first.api_key, user=owner.user)
    create(owner, name="Three")
    assert owner.account.api_keys.active().count() == 2


def test_rules_are_checked_in_order(member: Membership) -> None:
    Account.objects.filter(pk=member.account_id).update(status="suspended", api_key_limit=0)
    member.account.refresh_from_db()
    assert creation_block(member).code == "role"


@pytest.mark.parametrize(
    ("name", "scopes", "field"),
    [
        ("", ["calls:read"], "name"),
        ("   ", ["calls:read"], "name"),
        ("x" * 101, ["calls:read"], "name"),
        ("Fine", [], "scopes"),
        ("Fine", ["calls:read", "admin:everything"], "scopes"),
    ],
)
def test_invalid_input_changes_nothing(
    owner: Membership, name: str, scopes: list, field: str
) -> None:
    with pytest.raises(InvalidKeyInput) as invalid:
        create(owner, name=name, scopes=scopes)
    assert field in invalid.value.errors
    assert not ApiKey.objects.exists()


def test_name_is_trimmed_and_may_be_100_characters(owner: Membership) -> None:
    create(owner, name="  " + "n" * 100 + "  ")
    assert ApiKey.objects.get().name == "n" * 100


def test_name_unique_among_active_keys_only(owner: Membership, other_owner: Membership) -> None:
    first = create(owner, name="WordPress Integration")
    with pytest.raises(InvalidKeyInput) as invalid:
        create(owner, name="wordpress integration ")
    assert "name" in invalid.value.errors
    create(other_owner, name="WordPress Integration")  # another account may use it
    revoke_key(key=first.api_key, user=owner.user)
    create(owner, name="WordPress Integration")  # the old one is revoked
    assert owner.account.api_keys.count() == 2


def test_same_creation_token_creates_one_key(owner: Membership) -> None:
    token = uuid.uuid4()
    created = create(owner, creation_token=token)
    with pytest.raises(DuplicateSubmission) as duplicate:
        create(owner, creation_token=token)
    assert duplicate.value.api_key == created.api_key
    assert ApiKey.objects.count() == 1


def test_revoke_key_sets_when_and_who(owner: Membership, admin_member: Membership) -> None:
    key = create(owner).api_key
    revoke_key(key=key, user=admin_member.user)
    key.refresh_from_db()
    assert key.revoked_at is not None and key.revoked_by == admin_member.user
    assert not key.is_active


def test_revoking_twice_changes_nothing(owner: Membership) -> None:
    key = create(owner).api_key
    revoke_key(key=key, user=owner.user)
    revoked_at = ApiKey.objects.get().revoked_at
    with pytest.raises(AlreadyRevoked):
        revoke_key(key=key, user=owner.user)
    assert ApiKey.objects.get().revoked_at == revoked_at


def test_member_and_outsider_cannot_revoke(
    owner: Membership, member: Membership, other_owner: Membership
) -> None:
    key = create(owner).api_key
    for user in (member.user, other_owner.user):
        with pytest.raises(KeyActionRefused):
            revoke_key(key=key, user=user)
    assert ApiKey.objects.get().is_active


def test_suspended_account_can_still_revoke(suspended_owner: Membership) -> None:
    Account.objects.filter(pk=suspended_owner.account_id).update(status="active")
    key = create(suspended_owner).api_key
    Account.objects.filter(pk=suspended_owner.account_id).update(status="suspended")
    revoke_key(key=key, user=suspended_owner.user)
    assert not ApiKey.objects.get().is_active


def test_staff_with_permission_can_revoke_through_the_admin_path(owner: Membership) -> None:
    key = create(owner).api_key
    staff = UserFactory(is_staff=True, is_superuser=True)
    with pytest.raises(KeyActionRefused):
        revoke_key(key=key, user=staff)  # not a member: the page path refuses
    revoke_key(key=key, user=staff, as_staff=True)
    assert not ApiKey.objects.get().is_active


def test_admin_path_needs_staff_with_permission(owner: Membership, member: Membership) -> None:
    key = create(owner).api_key
    for user in (member.user, UserFactory(is_staff=True)):
        with pytest.raises(KeyActionRefused) as refused:
            revoke_key(key=key, user=user, as_staff=True)
        assert refused.value.block.code == "staff_permission"
    assert ApiKey.objects.get().is_active


def test_staff_member_with_member_role_cannot_revoke_from_the_page(member: Membership) -> None:
    owner_key = create_key(
        account=member.account,
        user=MembershipFactory(account=member.account).user,
        name="Owner's",
        scopes=["calls:read"],
    ).api_key
    member.user.is_staff = member.user.is_superuser = True
    member.user.save()
    with pytest.raises(KeyActionRefused):
        revoke_key(key=owner_key, user=member.user)
    assert ApiKey.objects.get().is_active


def test_name_check_matches_the_database_constraint(owner: Membership) -> None:
    create(owner, name="Kelvin-key")
    # U+212A KELVIN SIGN: PostgreSQL's LOWER() makes it "k", SQLite's leaves it alone. Either
    # way the check must say what the constraint would, never hit it (an IntegrityError).
    if connection.vendor == "sqlite":
        create(owner, name="\u212aelvin-key")
        assert ApiKey.objects.count() == 2
    else:
        with pytest.raises(InvalidKeyInput) as invalid:
            create(owner, name="\u212aelvin-key")
        assert "name" in invalid.value.errors
        assert ApiKey.objects.count() == 1


def test_creation_token_from_another_account_is_out_of_date(
    owner: Membership, other_owner: Membership
) -> None:
    token = uuid.uuid4()
    create(owner, creation_token=token)
    with pytest.raises(InvalidKeyInput) as invalid:
        create(other_owner, creation_token=token)
    assert "out of date" in invalid.value.errors["__all__"][0]
    assert ApiKey.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_limit_holds_under_concurrent_creates() -> None:
    account = AccountFactory(api_key_limit=3)
    owner = MembershipFactory(account=account, role=Membership.Role.OWNER)
    attempts = 8
    barrier = threading.Barrier(attempts)
    outcomes: list[str] = []

    def attempt(number: int) -> None:
        try:
            barrier.wait()
            create_key(
                account=account, user=owner.user, name=f"Key {number}", scopes=["calls:read"]
            )
            outcomes.append("created")
        except KeyActionRefused as refused:
            outcomes.append(refused.block.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(outcomes) == ["created"] * 3 + ["key_limit_reached"] * 5
    assert account.api_keys.active().count() == 3


def test_end_grace_stops_only_the_old_secret_and_the_pair_still_counts_once(
    owner: Membership, member: Membership
) -> None:
    old = create_key(
        account=owner.account, user=owner.user, name="Main", scopes=["calls:read"]
    ).api_key
    new = roll_key(key=old, user=owner.user, grace=timedelta(days=1)).api_key
    assert owner.account.api_keys.counted_against_limit().count() == 1
    with pytest.raises(KeyActionRefused):
        end_grace(key=old, user=member.user)
    with pytest.raises(KeyActionRefused) as refused:
        end_grace(key=new, user=owner.user)
    assert refused.value.block.code == "not_rolled"

    ended = end_grace(key=old, user=owner.user)
    assert (ended.is_active, ended.revoked_by, ended.status) == (False, owner.user, "Rolled")
    new.refresh_from_db()
    assert new.is_active
    assert owner.account.api_keys.counted_against_limit().count() == 1
    with pytest.raises(KeyNotActive):
        end_grace(key=old, user=owner.user)
