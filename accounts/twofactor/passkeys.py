"""Passkeys and security keys (WebAuthn, through py_webauthn): enrolling, removing, signing in.

A ceremony is two requests: the options (with a random challenge, kept in the session under
the ceremony's kind) and the browser's response to them. The challenge is taken out of the
session when the response arrives, whatever the outcome, so each one is checked at most once;
one older than `CHALLENGE_SECONDS` is refused. Registration asks for a discoverable credential
(resident key), so a passkey can also sign in without the email: the browser then sends the
credential's id and the user handle given at registration, and both must name one active user.

The relying party is `WEBAUTHN_RP_ID` and `WEBAUTHN_ORIGINS`, or else the request's own host and
origin, so `make run` and the tests' live server work unconfigured.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.http.request import split_domain_port
from django.utils import timezone
from django.utils.formats import date_format
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference,
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from accounts.models import Passkey, RecoveryCode, User
from accounts.twofactor.events import record_two_factor_change
from accounts.twofactor.factors import has_two_factor, issue_recovery_codes, last_factor_refusal
from accounts.twofactor.state import show_recovery_codes_once
from activity.events import RequestContext
from activity.models import ActivityEvent

Credential = TypeVar("Credential", RegistrationCredential, AuthenticationCredential)

CHALLENGE_SECONDS = 300
CEREMONY_TIMEOUT_MS = CHALLENGE_SECONDS * 1000
CHALLENGE_SESSION_KEY = "webauthn_challenge_{ceremony}"


class Ceremony(StrEnum):
    """What a challenge was issued for: a response is only checked against its own kind."""

    REGISTRATION = "registration"
    SECOND_STEP = "second_step"
    PASSWORDLESS = "passwordless"
    SUDO = "sudo"


class PasskeyError(StrEnum):
    MALFORMED = "malformed_request"
    NO_CHALLENGE = "no_challenge"
    INVALID_RESPONSE = "invalid_response"
    UNKNOWN_CREDENTIAL = "unknown_credential"
    REPLAYED = "replayed_assertion"
    ALREADY_REGISTERED = "already_registered"
    INVALID_NAME = "invalid_name"
    NOT_PENDING = "not_pending"
    NOT_SIGNED_IN = "not_signed_in"
    SUDO_REQUIRED = "sudo_required"


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a passkey ceremony failed, said so the person can act on it."""

    code: PasskeyError
    message: str


EXPIRED = Refusal(
    PasskeyError.NO_CHALLENGE, "This passkey request expired or was already used. Try again."
)
MALFORMED = Refusal(PasskeyError.MALFORMED, "The browser's passkey response could not be read.")
NOT_VERIFIED = Refusal(
    PasskeyError.INVALID_RESPONSE,
    "The passkey response could not be verified for this site. Try again.",
)
UNKNOWN = Refusal(
    PasskeyError.UNKNOWN_CREDENTIAL,
    "This passkey is not registered here, or was removed. Use another method.",
)
REPLAYED = Refusal(
    PasskeyError.REPLAYED,
    "This passkey's use counter went backwards, as a copied authenticator's does. "
    "It was refused; remove it and add it again if it is yours.",
)
ALREADY_REGISTERED = Refusal(PasskeyError.ALREADY_REGISTERED, "This passkey is already registered.")


@dataclass(frozen=True, slots=True)
class AddedPasskey:
    passkey: Passkey
    recovery_codes: list[str]


@dataclass(frozen=True, slots=True)
class RelyingParty:
    id: str
    name: str
    origins: list[str]


def relying_party(request: HttpRequest) -> RelyingParty:
    """This site as WebAuthn sees it: from settings, or the request's own host and origin."""
    host = request.get_host()
    rp_id = settings.WEBAUTHN_RP_ID or split_domain_port(host)[0]
    origins = list(settings.WEBAUTHN_ORIGINS) or [f"{request.scheme}://{host}"]
    return RelyingParty(id=rp_id, name=settings.WEBAUTHN_RP_NAME, origins=origins)


def user_handle(user: User) -> bytes:
    """The opaque id the authenticator keeps for the user and returns at passwordless sign-in.

    Derived from the primary key rather than the email, which WebAuthn says must not be used,
    and stable, so every passkey of one user carries the same one. It is checked against the
    owner of the credential the browser names, never looked up on its own.
    """
    return hashlib.sha256(f"voxkeys-webauthn-user:{user.pk}".encode()).digest()


def default_passkey_name(now: datetime | None = None) -> str:
    return f"Passkey {date_format(timezone.localtime(now or timezone.now()), 'j M Y')}"


def validated_passkey_name(raw: str) -> str | Refusal:
    """The name as stored (trimmed, the default when blank), or why it is refused."""
    name = raw.strip() or default_passkey_name()
    try:
        # The model field's validators: its length and the safe-text rule.
        Passkey._meta.get_field("name").run_validators(name)
    except ValidationError as error:
        return Refusal(PasskeyError.INVALID_NAME, " ".join(error.messages))
    return name


def _store_challenge(
    request: HttpRequest, ceremony: Ceremony, challenge: bytes, **extra: Any
) -> None:
    request.session[CHALLENGE_SESSION_KEY.format(ceremony=ceremony)] = {
        "challenge": bytes_to_base64url(challenge),
        "issued_at": timezone.now().timestamp(),
        **extra,
    }


def _take_challenge(request: HttpRequest, ceremony: Ceremony) -> dict[str, Any] | None:
    """Pop the ceremony's challenge: it is good for one response, and for CHALLENGE_SECONDS."""
    stored = request.session.pop(CHALLENGE_SESSION_KEY.format(ceremony=ceremony), None)
    if not isinstance(stored, dict) or not isinstance(stored.get("challenge"), str):
        return None
    issued_at = stored.get("issued_at")
    if not isinstance(issued_at, int | float):
        return None
    age = timezone.now().timestamp() - issued_at
    return stored if 0 <= age <= CHALLENGE_SECONDS else None


def _descriptors(user: User) -> list[PublicKeyCredentialDescriptor]:
    return [
        PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id))
        for passkey in user.passkeys.all()
    ]


def registration_options(request: HttpRequest, *, user: User, name: str) -> str:
    """Start adding a passkey named `name`: the options for navigator.credentials.create()."""
    party = relying_party(request)
    options = generate_registration_options(
        rp_id=party.id,
        rp_name=party.name,
        user_id=user_handle(user),
        user_name=user.email,
        user_display_name=user.get_full_name() or user.email,
        timeout=CEREMONY_TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(user),
    )
    _store_challenge(request, Ceremony.REGISTRATION, options.challenge, name=name)
    return options_to_json(options)


def authentication_options(request: HttpRequest, *, ceremony: Ceremony, user: User | None) -> str:
    """Start signing in or confirming with a passkey: the options for credentials.get().

    With a user (the second step, sudo mode) only their passkeys are offered; without one
    (passwordless sign-in) the browser offers the site's discoverable credentials.
    """
    options = generate_authentication_options(
        rp_id=relying_party(request).id,
        timeout=CEREMONY_TIMEOUT_MS,
        allow_credentials=_descriptors(user) if user is not None else [],
        user_verification=(
            UserVerificationRequirement.PREFERRED
            if user is not None
            else UserVerificationRequirement.REQUIRED
        ),
    )
    _store_challenge(request, ceremony, options.challenge)
    return options_to_json(options)


def parse_body(body: bytes) -> dict[str, Any] | None:
    """The JSON object a ceremony's second request posts, or None if it is not one."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _parsed(data: Any, parse: Callable[[dict[str, Any]], Credential]) -> Credential | None:
    """The browser's credential JSON parsed by py_webauthn, or None if it does not parse."""
    if not isinstance(data, dict):
        return None
    try:
        return parse(data)
    except (WebAuthnException, ValueError, TypeError):
        return None


def complete_registration(
    request: HttpRequest, *, user: User, credential_json: Any
) -> Passkey | Refusal:
    """Check the browser's answer to `registration_options` and, if it holds, add the passkey."""
    stored = _take_challenge(request, Ceremony.REGISTRATION)
    credential = _parsed(credential_json, parse_registration_credential_json)
    if credential is None:
        return MALFORMED
    if stored is None:
        return EXPIRED
    name = validated_passkey_name(str(stored.get("name", "")))
    if isinstance(name, Refusal):
        return name
    party = relying_party(request)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=credential_challenge(stored),
            expected_rp_id=party.id,
            expected_origin=party.origins,
        )
    except (WebAuthnException, ValueError, TypeError):
        return NOT_VERIFIED
    credential_id = bytes_to_base64url(verified.credential_id)
    if Passkey.objects.filter(credential_id=credential_id).exists():
        return ALREADY_REGISTERED
    added = add_passkey(
        user=user,
        name=name,
        credential_id=credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[str(transport.value) for transport in credential.response.transports or []],
        aaguid=verified.aaguid,
        backed_up=verified.credential_backed_up,
        context=RequestContext.from_request(request),
    )
    if added.recovery_codes:
        show_recovery_codes_once(request.session, added.recovery_codes)
    return added.passkey


def credential_challenge(stored: dict[str, Any]) -> bytes:
    return base64url_to_bytes(stored["challenge"])


@transaction.atomic
def add_passkey(
    *,
    user: User,
    name: str,
    credential_id: str,
    public_key: bytes,
    sign_count: int,
    transports: list[str],
    aaguid: str,
    backed_up: bool,
    context: RequestContext | None,
) -> AddedPasskey:
    """Store a verified credential as one of the user's second factors; record and email it.

    The first factor comes with a new set of recovery codes, returned to be shown once.
    """
    first_factor = not has_two_factor(user)
    passkey = Passkey.objects.create(
        user=user,
        name=name,
        credential_id=credential_id,
        public_key=public_key,
        sign_count=sign_count,
        transports=transports,
        aaguid=aaguid,
        backed_up=backed_up,
    )
    record_two_factor_change(
        user=user,
        event_type=ActivityEvent.Type.TWO_FACTOR_ADDED,
        subject="A passkey was added to your login",
        template="accounts/email/passkey_added.txt",
        context=context,
        details={"method": "passkey", "name": name},
    )
    return AddedPasskey(passkey, issue_recovery_codes(user) if first_factor else [])


@transaction.atomic
def remove_passkey(*, user: User, passkey: Passkey, context: RequestContext | None) -> str | None:
    """Remove one of the user's passkeys; return why not if the policy keeps their last factor.

    Removing the last factor also removes the recovery codes, which are no factor on their own.
    """
    refusal = last_factor_refusal(user)
    if refusal is not None:
        return refusal
    name = passkey.name
    passkey.delete()
    if not has_two_factor(user):
        RecoveryCode.objects.filter(user=user).delete()
    record_two_factor_change(
        user=user,
        event_type=ActivityEvent.Type.TWO_FACTOR_REMOVED,
        subject="A passkey was removed from your login",
        template="accounts/email/passkey_removed.txt",
        context=context,
        details={"method": "passkey", "name": name},
        email_context={"factors_left": has_two_factor(user)},
    )
    return None


@transaction.atomic
def rename_passkey(*, passkey: Passkey, name: str) -> Passkey:
    passkey.name = name
    passkey.save(update_fields=["name"])
    return passkey


def complete_authentication(
    request: HttpRequest, *, ceremony: Ceremony, user: User | None, credential_json: Any
) -> Passkey | Refusal:
    """Check the browser's answer to `authentication_options`; return the passkey it proved.

    With `user`, only that user's passkeys count; without (passwordless sign-in), the
    credential's owner must be active and match the user handle the authenticator returned.
    The passkey's use counter is checked and advanced under a row lock, so two requests
    replaying one assertion cannot both pass.
    """
    stored = _take_challenge(request, ceremony)
    credential = _parsed(credential_json, parse_authentication_credential_json)
    if credential is None:
        return MALFORMED
    if stored is None:
        return EXPIRED
    return _verify_assertion(request, credential, credential_challenge(stored), user)


@transaction.atomic
def _verify_assertion(
    request: HttpRequest,
    credential: AuthenticationCredential,
    challenge: bytes,
    user: User | None,
) -> Passkey | Refusal:
    passkeys = Passkey.objects.select_for_update().select_related("user")
    if user is not None:
        passkeys = passkeys.filter(user=user)
    passkey = passkeys.filter(credential_id=bytes_to_base64url(credential.raw_id)).first()
    if passkey is None or not passkey.user.is_active:
        return UNKNOWN
    handle = credential.response.user_handle
    if user is None and handle != user_handle(passkey.user):
        return UNKNOWN
    party = relying_party(request)
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=party.id,
            expected_origin=party.origins,
            credential_public_key=bytes(passkey.public_key),
            # Signing in with the passkey alone stands for the password as well: the
            # authenticator must have verified its user (PIN, biometrics), not just their touch.
            require_user_verification=user is None,
            # Zero turns py_webauthn's counter check off: it runs before the signature is
            # checked, and a forged response should read as unverified, not as a replay.
            credential_current_sign_count=0,
        )
    except (WebAuthnException, ValueError, TypeError):
        return NOT_VERIFIED
    # Authenticators that keep no counter send 0 every time; one that counts must count up.
    counts = verified.new_sign_count > 0 or passkey.sign_count > 0
    if counts and verified.new_sign_count <= passkey.sign_count:
        return REPLAYED
    passkey.sign_count = verified.new_sign_count
    passkey.backed_up = verified.credential_backed_up
    passkey.last_used_at = timezone.now()
    passkey.save(update_fields=["sign_count", "backed_up", "last_used_at"])
    return passkey


def passkeys_context(request: HttpRequest) -> dict[str, Any]:
    """What Settings -> Security's passkey section shows."""
    user = request.user
    assert isinstance(user, User)
    return {"passkeys": list(user.passkeys.all()), "default_passkey_name": default_passkey_name()}
