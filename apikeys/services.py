"""Every change to API keys goes through here: the views, the admin, commands and tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.models import Account, Membership, User
from apikeys.keys import generate_key, key_digest, masked_key
from apikeys.models import ApiKey
from apikeys.scopes import normalize_scopes

NAME_MAX_LENGTH = 100


@dataclass(frozen=True)
class Block:
    """Why creating (or revoking) keys is not allowed, and what the user can do about it."""

    code: str
    title: str
    message: str


class KeyActionRefused(Exception):
    """A rule refused the action; `block` says which rule and what to do."""

    def __init__(self, block: Block) -> None:
        super().__init__(block.message)
        self.block = block


class InvalidKeyInput(Exception):
    """The name or scopes are not acceptable; `errors` maps field name to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(m for messages in errors.values() for m in messages))
        self.errors = errors


class DuplicateSubmission(Exception):
    """The same create form was submitted again; the key it made is `api_key`."""

    def __init__(self, api_key: ApiKey) -> None:
        super().__init__("This form was already submitted; its key exists.")
        self.api_key = api_key


class AlreadyRevoked(Exception):
    def __init__(self, api_key: ApiKey) -> None:
        super().__init__(f"The key “{api_key.name}” was already revoked.")
        self.api_key = api_key


@dataclass(frozen=True)
class CreatedKey:
    api_key: ApiKey
    secret: str  # shown once in the reveal, then exists nowhere


def role_block() -> Block:
    return Block(
        code="role",
        title="Your role can't manage API keys",
        message=(
            "Members can see the account's keys but not create or revoke them. "
            "To get a key, ask an owner or admin of this account."
        ),
    )


def standing_block(account: Account) -> Block:
    return Block(
        code="account_not_in_good_standing",
        title="This account is not in good standing",
        message=(
            f"{account.name} is {account.get_status_display().lower()}, so new API keys "
            "can't be created. Please contact support to restore the account."
        ),
    )


def limit_block(account: Account, active_count: int) -> Block:
    return Block(
        code="key_limit_reached",
        title="Key limit reached",
        message=(
            f"This account uses {active_count} of {account.api_key_limit} keys. "
            "Revoke an unused key to make room, or contact support to raise the limit."
        ),
    )


def creation_block(membership: Membership | None, active_count: int | None = None) -> Block | None:
    """Return the first rule that stops this member creating a key, or None if they may.

    Rules, in order: the role allows it, the account is in good standing, the account is
    below its key limit.
    """
    if membership is None or not membership.can_manage_keys:
        return role_block()
    account = membership.account
    if not account.in_good_standing:
        return standing_block(account)
    if active_count is None:
        active_count = account.api_keys.active().count()
    if active_count >= account.api_key_limit:
        return limit_block(account, active_count)
    return None


def validate_key_input(
    name: str, scopes: list[str] | tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """Return the trimmed name and the scopes in catalogue order, or raise InvalidKeyInput."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Give the key a descriptive name."]
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = [
            f"Keep the name to {NAME_MAX_LENGTH} characters or fewer (it has {len(name)})."
        ]
    normalized: tuple[str, ...] = ()
    try:
        normalized = normalize_scopes(scopes)
    except ValueError as error:
        errors["scopes"] = [str(error)]
    else:
        if not normalized:
            errors["scopes"] = ["Choose at least one permission scope."]
    if errors:
        raise InvalidKeyInput(errors)
    return name, normalized


FORM_OUT_OF_DATE = "This form is out of date. Close it and open it again."
NAME_TAKEN = "An active key already has this name. Choose a different name."


@sensitive_variables("secret")
@transaction.atomic
def create_key(
    *,
    account: Account,
    user: User,
    name: str,
    scopes: list[str] | tuple[str, ...],
    creation_token: uuid.UUID | None = None,
) -> CreatedKey:
    """Create a key for `account` on behalf of `user`, enforcing every rule."""
    name, normalized_scopes = validate_key_input(name, scopes)
    # Lock the account row: concurrent creates queue here, so the limit check below holds.
    account = Account.objects.select_for_update().get(pk=account.pk)
    membership = (
        Membership.objects.select_related("account").filter(account=account, user=user).first()
    )
    if membership is not None:
        membership.account = account
    if creation_token is not None:
        existing = ApiKey.objects.filter(creation_token=creation_token).first()
        if existing is not None and existing.account_id == account.pk:
            raise DuplicateSubmission(existing)
        if existing is not None:
            raise InvalidKeyInput({"__all__": [FORM_OUT_OF_DATE]})
    active_keys = account.api_keys.active()
    block = creation_block(membership, active_keys.count())
    if block is not None:
        raise KeyActionRefused(block)
    # The same expression as the unique constraint, so the check and the database agree.
    if (
        active_keys.annotate(lower_name=Lower("name"))
        .filter(lower_name=Lower(Value(name)))
        .exists()
    ):
        raise InvalidKeyInput({"name": [NAME_TAKEN]})
    secret = generate_key()
    try:
        with transaction.atomic():
            api_key = ApiKey.objects.create(
                account=account,
                name=name,
                key_digest=key_digest(secret),
                masked_key=masked_key(secret),
                scopes=" ".join(normalized_scopes),
                created_by=user,
                creation_token=creation_token,
            )
    except IntegrityError as error:
        # Only a race the checks above cannot see (e.g. the same form in two accounts at once).
        raise InvalidKeyInput({"__all__": [FORM_OUT_OF_DATE]}) from error
    return CreatedKey(api_key=api_key, secret=secret)


def revoke_block(user: User, account: Account, *, as_staff: bool = False) -> Block | None:
    """Return why `user` may not revoke the account's keys, or None if they may.

    Revoking only ever removes access, so it stays allowed for an account that is not in
    good standing (a suspended customer who suspects a leak must still be able to act).
    `as_staff` is the Django admin's path: staff with the permission may revoke any key.
    """
    if as_staff:
        if user.is_staff and user.has_perm("apikeys.change_apikey"):
            return None
        return Block(
            code="staff_permission",
            title="Staff permission needed",
            message="Only staff with permission to change API keys can revoke them here.",
        )
    membership = Membership.objects.filter(account=account, user=user).first()
    if membership is None or not membership.can_manage_keys:
        return role_block()
    return None


@transaction.atomic
def revoke_key(*, key: ApiKey, user: User, as_staff: bool = False) -> ApiKey:
    """Revoke `key` at once; from the commit on, no request authenticates with it."""
    block = revoke_block(user, key.account, as_staff=as_staff)
    if block is not None:
        raise KeyActionRefused(block)
    updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=user
    )
    key.refresh_from_db()
    if not updated:
        raise AlreadyRevoked(key)
    return key
