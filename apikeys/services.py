"""Every change to API keys goes through here: the views, the admin, commands and tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Lower
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.models import Account, Membership, User
from activity.events import RequestContext, record_event
from activity.models import ActivityEvent
from apikeys.allowlist import normalize_allowlist
from apikeys.expiry import DEFAULT_EXPIRATION, resolve_expiry, successor_expiry
from apikeys.keys import LIVE_PREFIX, TEST_PREFIX, generate_key, key_digest, masked_key
from apikeys.models import ApiKey
from apikeys.scopes import normalize_scopes
from voxkeys.safetext import unsafe_character_error

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 500
# How long a rolled key may keep working beside its successor.
MAX_GRACE_PERIOD = timedelta(days=7)


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


class KeyNotActive(Exception):
    """The key no longer works (revoked or expired), so it cannot be rolled or edited."""

    def __init__(self, api_key: ApiKey) -> None:
        state = "revoked" if api_key.is_revoked else "expired"
        super().__init__(
            f"The key “{api_key.name}” has {state} and can no longer be changed. "
            "Create a new key instead."
        )
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
        active_count = account.api_keys.counted_against_limit().count()
    if active_count >= account.api_key_limit:
        return limit_block(account, active_count)
    return None


def validate_key_input(
    name: str, scopes: list[str] | tuple[str, ...], description: str = ""
) -> tuple[str, tuple[str, ...], str]:
    """Return the trimmed name, the scopes in catalogue order and the trimmed description.

    Raises InvalidKeyInput with every problem found.
    """
    errors: dict[str, list[str]] = {}
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX_LENGTH:
        errors["description"] = [
            f"Keep the description to {DESCRIPTION_MAX_LENGTH} characters or fewer "
            f"(it has {len(description)})."
        ]
    elif unsafe := unsafe_character_error(description, "description"):
        errors["description"] = [unsafe]
    name = (name or "").strip()
    if not name:
        errors["name"] = ["Give the key a descriptive name."]
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = [
            f"Keep the name to {NAME_MAX_LENGTH} characters or fewer (it has {len(name)})."
        ]
    elif unsafe := unsafe_character_error(name, "name"):
        errors["name"] = [unsafe]
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
    return name, normalized, description


FORM_OUT_OF_DATE = "This form is out of date. Close it and open it again."
NAME_TAKEN = "An active key already has this name. Choose a different name."


def _lock_account(account: Account, user: User) -> tuple[Account, Membership | None]:
    """Lock the account row and return it with the user's membership in it.

    Every write that checks a rule about the account's keys (the limit, unique names) takes
    this lock first, so concurrent writers queue here and each check holds until commit.
    """
    account = Account.objects.select_for_update().get(pk=account.pk)
    membership = Membership.objects.filter(account=account, user=user).first()
    if membership is not None:
        membership.account = account
    return account, membership


def _clean_allowlist(text: str, errors: dict[str, list[str]]) -> str:
    """Return the allowlist in stored form; a problem goes into `errors`, beside the others."""
    try:
        return normalize_allowlist(text)
    except ValueError as error:
        errors["allowed_ips"] = [str(error)]
        return ""


def _validate_fields(
    name: str, scopes: list[str] | tuple[str, ...], description: str, errors: dict[str, list[str]]
) -> tuple[str, tuple[str, ...], str]:
    """validate_key_input, its problems added to `errors` so every field is checked in one pass."""
    try:
        return validate_key_input(name, scopes, description)
    except InvalidKeyInput as invalid:
        errors.update(invalid.errors)
        return (name or "").strip(), (), (description or "").strip()


def _check_name_free(
    account: Account, name: str, errors: dict[str, list[str]], *, ignore: list[int] | None = None
) -> None:
    if "name" in errors:
        return
    # The database's own case folding (as an index on lower(name) would use), so the rule is
    # the same on SQLite and PostgreSQL.
    taken = (
        account.api_keys.counted_against_limit()
        .exclude(pk__in=ignore or [])
        .annotate(lower_name=Lower("name"))
        .filter(lower_name=Lower(Value(name)))
        .exists()
    )
    if taken:
        errors["name"] = [NAME_TAKEN]


def _insert_key(
    *,
    account: Account,
    user: User,
    name: str,
    description: str,
    scopes: tuple[str, ...],
    environment: str,
    expires_at: datetime | None,
    lifetime: timedelta | None,
    allowed_ips: str,
    now: datetime,
    creation_token: uuid.UUID | None = None,
) -> CreatedKey:
    secret = generate_key(TEST_PREFIX if environment == ApiKey.Environment.TEST else LIVE_PREFIX)
    try:
        with transaction.atomic():
            api_key = ApiKey.objects.create(
                account=account,
                name=name,
                description=description,
                environment=environment,
                key_digest=key_digest(secret),
                masked_key=masked_key(secret),
                scopes=" ".join(scopes),
                allowed_ips=allowed_ips,
                created_at=now,
                created_by=user,
                expires_at=expires_at,
                lifetime=lifetime,
                creation_token=creation_token,
            )
    except IntegrityError as error:
        # Only a race the checks above cannot see (e.g. the same form in two accounts at once).
        raise InvalidKeyInput({"__all__": [FORM_OUT_OF_DATE]}) from error
    return CreatedKey(api_key=api_key, secret=secret)


def _key_summary(api_key: ApiKey) -> dict[str, object]:
    return {
        "name": api_key.name,
        "scopes": api_key.scope_list,
        "environment": api_key.environment,
        "expires_at": api_key.expires_at.isoformat() if api_key.expires_at else None,
        "allowed_ips": api_key.allowed_ip_list,
    }


@sensitive_variables("secret")
@transaction.atomic
def create_key(
    *,
    account: Account,
    user: User,
    name: str,
    scopes: list[str] | tuple[str, ...],
    description: str = "",
    environment: str = ApiKey.Environment.LIVE,
    expiration: str = DEFAULT_EXPIRATION,
    expires_on: date | None = None,
    allowed_ips: str = "",
    creation_token: uuid.UUID | None = None,
    context: RequestContext | None = None,
) -> CreatedKey:
    """Create a key for `account` on behalf of `user`, enforcing every rule.

    `expiration` is a choice from apikeys.expiry ("90", "custom" with `expires_on`, "never").
    """
    now = timezone.now()
    # Every field is checked before any refusal, so the form shows all its problems at once.
    errors: dict[str, list[str]] = {}
    name, normalized_scopes, description = _validate_fields(name, scopes, description, errors)
    if environment not in ApiKey.Environment.values:
        errors["environment"] = ["Choose Live or Test."]
    allowed_ips = _clean_allowlist(allowed_ips, errors)
    account, membership = _lock_account(account, user)
    if creation_token is not None:
        existing = ApiKey.objects.filter(creation_token=creation_token).first()
        if existing is not None and existing.account_id == account.pk:
            raise DuplicateSubmission(existing)
        if existing is not None:
            raise InvalidKeyInput({"__all__": [FORM_OUT_OF_DATE]})
    block = creation_block(membership, account.api_keys.counted_against_limit(now).count())
    if block is not None:
        raise KeyActionRefused(block)
    try:
        expiry = resolve_expiry(account, expiration, expires_on, now)
    except ValueError as error:
        errors["expiration"] = [str(error)]
    _check_name_free(account, name, errors)
    if errors:
        raise InvalidKeyInput(errors)
    created = _insert_key(
        account=account,
        user=user,
        name=name,
        description=description,
        scopes=normalized_scopes,
        environment=environment,
        expires_at=expiry.expires_at,
        lifetime=expiry.lifetime,
        allowed_ips=allowed_ips,
        now=now,
        creation_token=creation_token,
    )
    record_event(
        api_key=created.api_key,
        event_type=ActivityEvent.Type.CREATED,
        user=user,
        context=context,
        details=_key_summary(created.api_key),
    )
    return created


def manage_block(user: User, account: Account, *, as_staff: bool = False) -> Block | None:
    """Return why `user` may not revoke or edit the account's keys, or None if they may.

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
def revoke_key(
    *, key: ApiKey, user: User, as_staff: bool = False, context: RequestContext | None = None
) -> ApiKey:
    """Revoke `key` at once; from the commit on, no request authenticates with it."""
    block = manage_block(user, key.account, as_staff=as_staff)
    if block is not None:
        raise KeyActionRefused(block)
    now = timezone.now()
    updated = ApiKey.objects.filter(pk=key.pk, revoked_at__isnull=True).update(
        revoked_at=now, revoked_by=user
    )
    key.refresh_from_db()
    if not updated:
        raise AlreadyRevoked(key)
    record_event(
        api_key=key,
        event_type=ActivityEvent.Type.REVOKED,
        user=user,
        context=context,
        details={"staff": True} if as_staff else {},
    )
    return key


def roll_block(membership: Membership | None, key: ApiKey) -> Block | None:
    """Return why the key cannot be rolled by this member, or None if it can."""
    if membership is None or not membership.can_manage_keys:
        return role_block()
    if not membership.account.in_good_standing:
        return standing_block(membership.account)
    if key.replaced_by_id is not None and key.is_active:
        return Block(
            code="already_rolled",
            title="This key was already rolled",
            message=(
                f"“{key.name}” was rolled and stops working "
                f"{timezone.localtime(key.expires_at):on %-d %B %Y at %H:%M}. Roll its "
                "replacement instead, or revoke this key now if it must stop at once."
            ),
        )
    return None


@sensitive_variables("secret")
@transaction.atomic
def roll_key(
    *, key: ApiKey, user: User, grace: timedelta, context: RequestContext | None = None
) -> CreatedKey:
    """Replace `key` with a new secret; the old one keeps working for `grace`, then stops.

    The successor has the same name, description, scopes, environment and expiry policy (its
    expiry counted from now). A zero grace revokes the old key in the same transaction.
    """
    if not timedelta(0) <= grace <= MAX_GRACE_PERIOD:
        raise InvalidKeyInput({"grace": ["Choose when the old key stops working."]})
    now = timezone.now()
    account, membership = _lock_account(key.account, user)
    key = ApiKey.objects.select_for_update().get(pk=key.pk, account=account)
    block = roll_block(membership, key)
    if block is not None:
        raise KeyActionRefused(block)
    if not key.is_active:
        raise KeyNotActive(key)
    expiry = successor_expiry(account, key.lifetime, now)
    created = _insert_key(
        account=account,
        user=user,
        name=key.name,
        description=key.description,
        scopes=tuple(key.scope_list),
        environment=key.environment,
        expires_at=expiry.expires_at,
        lifetime=expiry.lifetime,
        allowed_ips=key.allowed_ips,
        now=now,
    )
    key.replaced_by = created.api_key
    grace_ends_at = now + grace
    if grace:
        # Never later than the key's own expiry: a roll must not extend a key's life.
        if key.expires_at is None or grace_ends_at < key.expires_at:
            key.expires_at = grace_ends_at
        old_key_stops_at = key.expires_at
    else:
        key.revoked_at, key.revoked_by = now, user
        old_key_stops_at = now
    key.save(update_fields=["replaced_by", "expires_at", "revoked_at", "revoked_by"])
    record_event(
        api_key=key,
        event_type=ActivityEvent.Type.ROLLED,
        user=user,
        context=context,
        related_key=created.api_key,
        details={
            "grace_seconds": int(grace.total_seconds()),
            "old_key_stops_at": old_key_stops_at.isoformat(),
            "new_key": created.api_key.masked_key,
        },
    )
    return created


def not_rolled_block(key: ApiKey) -> Block:
    return Block(
        code="not_rolled",
        title="This key was not rolled",
        message=(
            f"“{key.name}” has no replacement, so there is no old secret to end. "
            "To stop the key itself, revoke it."
        ),
    )


@transaction.atomic
def end_grace(*, key: ApiKey, user: User, context: RequestContext | None = None) -> ApiKey:
    """Stop a rolled key's old secret now, before its grace period ends.

    Its successor carries on. Recorded (and emailed to owners and admins) as a revoke of the old
    key, naming the successor, since that is what it is for the applications still using it.
    """
    account, membership = _lock_account(key.account, user)
    key = ApiKey.objects.select_for_update().get(pk=key.pk, account=account)
    if membership is None or not membership.can_manage_keys:
        raise KeyActionRefused(role_block())
    if not key.is_active:
        raise KeyNotActive(key)
    successor = key.replaced_by
    if successor is None:
        raise KeyActionRefused(not_rolled_block(key))
    key.revoked_at, key.revoked_by = timezone.now(), user
    key.save(update_fields=["revoked_at", "revoked_by"])
    record_event(
        api_key=key,
        event_type=ActivityEvent.Type.REVOKED,
        user=user,
        context=context,
        related_key=successor,
        details={"grace_ended": True, "new_key": successor.masked_key},
    )
    return key


@dataclass(frozen=True)
class EditResult:
    api_key: ApiKey
    changed: tuple[str, ...]  # the fields that changed; empty when nothing did


@transaction.atomic
def edit_key(
    *,
    key: ApiKey,
    user: User,
    name: str,
    description: str,
    scopes: list[str] | tuple[str, ...],
    allowed_ips: str | None = None,
    context: RequestContext | None = None,
) -> EditResult:
    """Change a key's name, description, scopes and IP allowlist (never its secret); record
    what changed. `allowed_ips=None` leaves the allowlist as it is.

    A scope removed (or an address no longer allowed) is refused from the next request on: the
    middleware reads them with the key on every request.
    """
    errors: dict[str, list[str]] = {}
    name, normalized_scopes, description = _validate_fields(name, scopes, description, errors)
    if allowed_ips is not None:
        allowed_ips = _clean_allowlist(allowed_ips, errors)
    account, membership = _lock_account(key.account, user)
    key = ApiKey.objects.select_for_update().get(pk=key.pk, account=account)
    if membership is None or not membership.can_manage_keys:
        raise KeyActionRefused(role_block())
    if not key.is_active:
        raise KeyNotActive(key)
    if name != key.name:
        # A rolled key and its successor are one key under one name.
        _check_name_free(account, name, errors, ignore=[key.pk, *_predecessor_ids(key)])
    if errors:
        raise InvalidKeyInput(errors)
    new_values = {"name": name, "description": description, "scopes": " ".join(normalized_scopes)}
    if allowed_ips is not None:
        new_values["allowed_ips"] = allowed_ips
    changed = tuple(field for field, value in new_values.items() if getattr(key, field) != value)
    if not changed:
        return EditResult(api_key=key, changed=())
    details: dict[str, object] = {"fields": list(changed)}
    for field in changed:
        old, new = getattr(key, field), new_values[field]
        if field in ("scopes", "allowed_ips"):
            details[field] = {"old": old.split(), "new": new.split()}
        else:
            details[field] = {"old": old, "new": new}
    for field in changed:
        setattr(key, field, new_values[field])
    key.save(update_fields=list(changed))
    record_event(
        api_key=key,
        event_type=ActivityEvent.Type.EDITED,
        user=user,
        context=context,
        details=details,
    )
    return EditResult(api_key=key, changed=changed)


def _predecessor_ids(key: ApiKey) -> list[int]:
    return list(ApiKey.objects.filter(replaced_by=key).values_list("pk", flat=True))


def record_expiry(*, key: ApiKey, now: datetime | None = None) -> bool:
    """Write the key's "expired" event if it has expired and none was written; say whether.

    Called by whatever first sees the expired key (the list, the middleware, the notices
    command); the conditional UPDATE lets exactly one of them write the event.
    """
    now = now or timezone.now()
    with transaction.atomic():
        updated = ApiKey.objects.filter(
            pk=key.pk,
            revoked_at__isnull=True,
            expires_at__lte=now,
            expiry_recorded_at__isnull=True,
        ).update(expiry_recorded_at=now)
        if not updated:
            return False
        key.refresh_from_db()
        record_event(
            api_key=key,
            event_type=ActivityEvent.Type.EXPIRED,
            user=None,
            details={
                "expired_at": key.expires_at.isoformat() if key.expires_at else None,
                "rolled": key.replaced_by_id is not None,
            },
        )
    return True


def record_expirations(keys: list[ApiKey] | None = None, now: datetime | None = None) -> int:
    """Record the expiry of every expired key given (or of all keys); return how many."""
    now = now or timezone.now()
    if keys is None:
        keys = list(ApiKey.objects.expired(now).filter(expiry_recorded_at__isnull=True))
    pending = [
        key
        for key in keys
        if key.expiry_recorded_at is None and not key.is_revoked and key.is_expired(now)
    ]
    return sum(record_expiry(key=key, now=now) for key in pending)


@transaction.atomic
def revoke_leaked_key(*, key: ApiKey, url: str, source: str) -> bool:
    """Revoke a key found in public, as the system; return whether it was active until now.

    Writes one "leaked" event (not also a "revoked" one), which emails the account's owners and
    admins. Whatever the account's standing: revoking only removes access. A key that already
    stopped working (revoked or expired) is left as it is, with no event.
    """
    now = timezone.now()
    updated = ApiKey.objects.active(now).filter(pk=key.pk).update(revoked_at=now, revoked_by=None)
    if not updated:
        return False
    key.revoked_at, key.revoked_by = now, None
    record_event(
        api_key=key,
        event_type=ActivityEvent.Type.LEAKED,
        user=None,
        details={"url": url, "source": source},
    )
    return True


@transaction.atomic
def roll_keys(
    *, keys: list[ApiKey], user: User, grace: timedelta, context: RequestContext | None = None
) -> list[CreatedKey]:
    """Roll each of `keys` with the same grace period (the keys a former member saw), all or
    none: each one by roll_key's rules."""
    return [roll_key(key=key, user=user, grace=grace, context=context) for key in keys]
