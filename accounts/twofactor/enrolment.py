"""Setting up, replacing and removing the authenticator app, and regenerating recovery codes.

One app per user. Setting one up makes an unconfirmed django-otp TOTPDevice, which is no factor
until a code from the app confirms it; replacing the app is the same set-up, and the old app
keeps working until the new one is confirmed, so a person who gives up halfway is never locked
out. The first factor a user enrols brings their ten recovery codes.
"""

from __future__ import annotations

from django.db import transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import RecoveryCode, User
from accounts.twofactor.codes import normalized_totp_code, verify_device_code
from accounts.twofactor.events import record_two_factor_change
from accounts.twofactor.factors import (
    confirmed_totp_device,
    has_two_factor,
    issue_recovery_codes,
    last_factor_refusal,
)
from activity.events import RequestContext
from activity.models import ActivityEvent

AUTHENTICATOR_NAME = "Authenticator app"
AUTHENTICATOR_METHOD = "authenticator app"
TOTP_DIGITS = 6
TOTP_STEP_SECONDS = 30
TOTP_TOLERANCE_STEPS = 1  # the previous and the next step too: a phone's clock may be off

MALFORMED_CODE = "Enter the 6-digit code your app shows now (digits only)."
WRONG_CODE = (
    "That code is not right, or was already used. Enter the code your app shows now; if it "
    "keeps failing, check that your phone's clock is set automatically."
)
SET_UP_GONE = "This set-up was replaced or finished in another tab. Start again."
NO_AUTHENTICATOR = "You have no authenticator app set up."
NO_FACTOR_FOR_CODES = "Recovery codes come with a second factor: set one up first."


class TwoFactorChangeRefused(Exception):
    """A rule refused the change; `field` is the form field the message belongs next to."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def _lock_user(user: User) -> None:
    # One enrolment change per user at a time: two set-ups confirmed at once cannot both stay.
    User.objects.select_for_update().filter(pk=user.pk).first()


def pending_authenticator(user: User) -> TOTPDevice | None:
    """The app being set up (unconfirmed), if a set-up was started."""
    device: TOTPDevice | None = (
        TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    )
    return device


@transaction.atomic
def start_authenticator(*, user: User) -> TOTPDevice:
    """Start setting up an app: a new secret, unconfirmed, replacing an earlier set-up's."""
    _lock_user(user)
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device: TOTPDevice = TOTPDevice.objects.create(
        user=user,
        name=AUTHENTICATOR_NAME,
        confirmed=False,
        digits=TOTP_DIGITS,
        step=TOTP_STEP_SECONDS,
        tolerance=TOTP_TOLERANCE_STEPS,
    )
    return device


@transaction.atomic
def confirm_authenticator(
    *, user: User, device: TOTPDevice, code: str, context: RequestContext | None
) -> list[str] | None:
    """Confirm the app being set up with a code from it; it then replaces any earlier app.

    Return the new recovery codes when this is the user's first factor, else None. A wrong or
    malformed code raises TwoFactorChangeRefused and changes nothing.
    """
    _lock_user(user)
    if normalized_totp_code(code) is None:
        raise TwoFactorChangeRefused(MALFORMED_CODE, "code")
    if not TOTPDevice.objects.filter(pk=device.pk, user=user, confirmed=False).exists():
        raise TwoFactorChangeRefused(SET_UP_GONE)
    if not verify_device_code(device=device, code=code):
        raise TwoFactorChangeRefused(WRONG_CODE, "code")
    first_factor = not has_two_factor(user)
    replaced, _ = TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    record_two_factor_change(
        user=user,
        event_type=ActivityEvent.Type.TWO_FACTOR_ADDED,
        subject="An authenticator app was added to your login",
        template="accounts/email/two_factor_added.txt",
        context=context,
        details={"method": AUTHENTICATOR_METHOD, "replaced": bool(replaced)},
        email_context={"first_factor": first_factor},
    )
    return issue_recovery_codes(user) if first_factor else None


@transaction.atomic
def remove_authenticator(*, user: User, context: RequestContext | None) -> None:
    """Remove the user's app; refused while it is their last factor and an account needs one.

    Removing the last factor turns two-factor sign-in off, and the recovery codes go with it.
    """
    _lock_user(user)
    if confirmed_totp_device(user) is None:
        raise TwoFactorChangeRefused(NO_AUTHENTICATOR)
    if refusal := last_factor_refusal(user):
        raise TwoFactorChangeRefused(refusal)
    TOTPDevice.objects.filter(user=user).delete()
    two_factor_off = not has_two_factor(user)
    if two_factor_off:
        RecoveryCode.objects.filter(user=user).delete()
    record_two_factor_change(
        user=user,
        event_type=ActivityEvent.Type.TWO_FACTOR_REMOVED,
        subject=(
            "Two-factor sign-in was turned off for your login"
            if two_factor_off
            else "An authenticator app was removed from your login"
        ),
        template="accounts/email/two_factor_removed.txt",
        context=context,
        details={"method": AUTHENTICATOR_METHOD, "two_factor_off": two_factor_off},
    )


@transaction.atomic
def regenerate_recovery_codes(*, user: User, context: RequestContext | None) -> list[str]:
    """Replace the user's recovery codes with ten new ones (the old ones stop working)."""
    _lock_user(user)
    if not has_two_factor(user):
        raise TwoFactorChangeRefused(NO_FACTOR_FOR_CODES)
    codes = issue_recovery_codes(user)
    record_two_factor_change(
        user=user,
        event_type=ActivityEvent.Type.RECOVERY_CODES_REGENERATED,
        subject="New recovery codes for your login",
        template="accounts/email/two_factor_recovery_codes_regenerated.txt",
        context=context,
        details={"codes": len(codes)},
    )
    return codes
