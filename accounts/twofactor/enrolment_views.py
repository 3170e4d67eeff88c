"""Settings -> Security: the authenticator app's set-up, replacement and removal, and new
recovery codes. Each action needs sudo mode: a second factor added to a stolen session would
lock its owner out, and removing one weakens the login."""

from __future__ import annotations

from base64 import b32encode

import segno
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.requests import AccountRequest
from accounts.sudo import sudo_required
from accounts.twofactor.codes import FEW_RECOVERY_CODES
from accounts.twofactor.enrolment import (
    NO_FACTOR_FOR_CODES,
    SET_UP_GONE,
    TOTP_DIGITS,
    TOTP_STEP_SECONDS,
    TwoFactorChangeRefused,
    confirm_authenticator,
    pending_authenticator,
    regenerate_recovery_codes,
    remove_authenticator,
    start_authenticator,
)
from accounts.twofactor.enrolment_forms import AuthenticatorCodeForm
from accounts.twofactor.factors import (
    RECOVERY_CODE_COUNT,
    confirmed_totp_device,
    has_two_factor,
    last_factor_refusal,
    method_count,
    recovery_codes_left,
)
from accounts.twofactor.state import (
    mark_verified,
    show_recovery_codes_once,
    take_recovery_codes_to_show,
)
from activity.events import RequestContext


def authenticator_context(request: AccountRequest) -> dict[str, object]:
    """The Security page's authenticator app section."""
    return {"authenticator": confirmed_totp_device(request.user)}


def recovery_codes_context(request: AccountRequest) -> dict[str, object]:
    """The Security page's recovery codes section; new codes are taken from the session once."""
    left = recovery_codes_left(request.user)
    return {
        "has_two_factor": has_two_factor(request.user),
        "recovery_codes_left": left,
        "recovery_code_count": RECOVERY_CODE_COUNT,
        "few_recovery_codes": left <= FEW_RECOVERY_CODES,
        "new_recovery_codes": take_recovery_codes_to_show(request.session),
    }


def qr_code_svg(device: TOTPDevice) -> SafeString:
    """The device's otpauth:// URI as an inline SVG QR code.

    segno draws with presentation attributes (stroke, transform) and no style attribute, so the
    strict CSP lets it show; the classes let the stylesheet size it.
    """
    qr = segno.make(device.config_url, error="m")
    svg = qr.svg_inline(
        scale=5, border=4, svgclass="qr-code", lineclass="qr-code__modules", title="QR code"
    )
    # segno's own markup: the URI is drawn as modules, never written out as text.
    return mark_safe(svg)


def grouped_secret(device: TOTPDevice) -> str:
    """The secret as an app asks for it when typed in: base32, in groups of four."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[start : start + 4] for start in range(0, len(secret), 4))


def _render_setup(
    request: AccountRequest, device: TOTPDevice, form: AuthenticatorCodeForm, status: int = 200
) -> HttpResponse:
    context = {
        "without_account": True,
        "form": form,
        "replacing": confirmed_totp_device(request.user) is not None,
        "qr_code": qr_code_svg(device),
        "secret": grouped_secret(device),
        "digits": TOTP_DIGITS,
        "step_seconds": TOTP_STEP_SECONDS,
        "issuer": settings.OTP_TOTP_ISSUER,
    }
    return render(request, "accounts/security/authenticator_setup.html", context, status=status)


@require_http_methods(["GET", "POST"])
@never_cache
@sudo_required
@sensitive_post_parameters("code")
def authenticator_setup(request: AccountRequest) -> HttpResponse:
    """Set up the authenticator app, or replace it: the QR code and secret, then a code."""
    device = pending_authenticator(request.user)
    if request.method == "GET":
        # A reload shows the same secret: the person may have scanned it already.
        return _render_setup(
            request, device or start_authenticator(user=request.user), AuthenticatorCodeForm()
        )
    if device is None:
        messages.error(request, SET_UP_GONE)
        return redirect("authenticator_setup")
    replacing = confirmed_totp_device(request.user) is not None
    form = AuthenticatorCodeForm(request.POST)
    codes: list[str] | None = None
    if form.is_valid():
        try:
            codes = confirm_authenticator(
                user=request.user,
                device=device,
                code=form.cleaned_data["code"],
                context=RequestContext.from_request(request),
            )
        except TwoFactorChangeRefused as refusal:
            form.add_error(refusal.field, refusal.message)
    if not form.is_valid():
        return _render_setup(request, device, form, status=422)
    # The code just given is a second factor given by this session.
    mark_verified(request, "totp")
    if codes:
        show_recovery_codes_once(request.session, codes)
    messages.success(
        request,
        "Your new authenticator app replaced the previous one."
        if replacing
        else "Your authenticator app is set up: signing in now asks for its code.",
    )
    return redirect("security")


@require_http_methods(["GET", "POST"])
@never_cache
@sudo_required
def authenticator_remove(request: AccountRequest) -> HttpResponse:
    """Remove the authenticator app, after a confirmation page."""
    if confirmed_totp_device(request.user) is None:
        messages.info(request, "You have no authenticator app set up.")
        return redirect("security")
    refusal = last_factor_refusal(request.user)
    status = 200
    if request.method == "POST":
        try:
            remove_authenticator(user=request.user, context=RequestContext.from_request(request))
        except TwoFactorChangeRefused as refused:
            refusal, status = refused.message, 409
        else:
            messages.success(request, "Your authenticator app was removed.")
            return redirect("security")
    context = {
        "without_account": True,
        "refusal": refusal,
        "last_factor": method_count(request.user) == 1,
    }
    return render(request, "accounts/security/authenticator_remove.html", context, status=status)


@require_http_methods(["GET", "POST"])
@never_cache
@sudo_required
def recovery_codes_regenerate(request: AccountRequest) -> HttpResponse:
    """New recovery codes, after a confirmation page; the Security page shows them once."""
    if request.method == "GET":
        if not has_two_factor(request.user):
            messages.info(request, NO_FACTOR_FOR_CODES)
            return redirect("security")
        return render(
            request,
            "accounts/security/recovery_codes_regenerate.html",
            {"without_account": True, "recovery_code_count": RECOVERY_CODE_COUNT},
        )
    try:
        codes = regenerate_recovery_codes(
            user=request.user, context=RequestContext.from_request(request)
        )
    except TwoFactorChangeRefused as refusal:  # the last factor went in another tab
        messages.error(request, refusal.message)
        return redirect("security")
    show_recovery_codes_once(request.session, codes)
    messages.success(request, "New recovery codes are below. The old ones no longer work.")
    return redirect("security")
