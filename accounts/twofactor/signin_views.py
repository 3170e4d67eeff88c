"""The second step of signing in: a pending session gives its second factor here.

`TwoFactorMiddleware` holds a pending session on these URLs (and signs it out after
`TWO_FACTOR_PENDING_SECONDS`); sudo mode's authenticator code is checked by the same helpers.
"""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.models import Passkey
from accounts.requests import AccountRequest, safe_next_url
from accounts.twofactor.factors import confirmed_totp_device
from accounts.twofactor.signin_forms import (
    WRONG_CODE,
    AuthenticatorCodeForm,
    RecoveryCodeForm,
    submitted_code_form,
)
from accounts.twofactor.state import is_pending, mark_verified
from accounts.twofactor.verification import CodeCheck, check_code
from activity.events import RequestContext


def check_code_form(
    request: AccountRequest, form: AuthenticatorCodeForm | RecoveryCodeForm
) -> CodeCheck:
    """Check the code a form holds, counting the attempt; a malformed or wrong one becomes the
    form's error (a malformed one is not counted: it was never checked)."""
    if not form.is_valid():
        return CodeCheck(accepted=False)
    check = check_code(
        user=request.user,
        kind=form.kind,
        code=form.cleaned_data["code"],
        context=RequestContext.from_request(request),
    )
    if not check.accepted and not check.locked:
        form.add_error("code", WRONG_CODE[form.kind])
    return check


def locked_response(request: HttpRequest, check: CodeCheck) -> HttpResponse:
    """The second-factor lockout page (429, Retry-After), or the dialog's content for htmx."""
    assert check.retry_at is not None
    # A whole minute, rounded up: "try again after 10:15" must not be refused at 10:15:10.
    retry_at = check.retry_at.replace(second=0, microsecond=0)
    if retry_at < check.retry_at:
        retry_at += timedelta(minutes=1)
    template_name = "registration/locked_out.html"
    if getattr(request, "htmx", False):
        template_name += "#dialog"
    context = {"retry_at": retry_at, "second_factor": True}
    response = render(request, template_name, context, status=429)
    response["Retry-After"] = str(check.retry_after_seconds)
    return response


def _render_verification(
    request: AccountRequest,
    next_url: str,
    *,
    totp_form: AuthenticatorCodeForm | None = None,
    recovery_form: RecoveryCodeForm | None = None,
    status: int = 200,
) -> HttpResponse:
    has_authenticator = confirmed_totp_device(request.user) is not None
    context = {
        "next": next_url,
        "has_authenticator": has_authenticator,
        "has_passkeys": Passkey.objects.filter(user=request.user).exists(),
        "totp_form": totp_form or AuthenticatorCodeForm(autofocus=True),
        "recovery_form": recovery_form or RecoveryCodeForm(),
        # The recovery code form shows open when it was the one sent, or is all there is.
        "recovery_open": recovery_form is not None or not has_authenticator,
    }
    return render(request, "registration/two_factor_verify.html", context, status=status)


@require_http_methods(["GET", "POST"])
@never_cache
@sensitive_post_parameters("totp-code", "recovery-code")
def verify(request: AccountRequest) -> HttpResponse:
    """Ask a pending session for its second factor; on success, on to `next`."""
    next_url = safe_next_url(request)
    if not is_pending(request.session):
        return redirect(next_url)
    if request.method == "GET":
        return _render_verification(request, next_url)
    form = submitted_code_form(request.POST)
    check = check_code_form(request, form)
    if check.locked:
        return locked_response(request, check)
    if not check.accepted:
        if isinstance(form, RecoveryCodeForm):
            return _render_verification(request, next_url, recovery_form=form, status=422)
        return _render_verification(request, next_url, totp_form=form, status=422)
    # A new session key for the signed-in session: the half-signed-in one's key is dropped.
    # Before mark_verified, whose sign_in_completed receivers see the key that stays.
    request.session.cycle_key()
    mark_verified(request, form.kind.value)
    if check.recovery_codes_left is not None:
        messages.warning(
            request,
            f"You signed in with a recovery code. You have {check.recovery_codes_left} left: "
            "you can make a new set under Settings → Security.",
        )
    return redirect(next_url)
