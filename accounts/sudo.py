"""Sudo mode: sensitive actions need the password confirmed in the last `SUDO_MODE_MINUTES`.

GitHub's pattern: a stolen session, or a computer left unlocked, should not be enough to create
or change API keys. Signing in counts as confirming (accounts.signals). When the confirmation is
older, the view asks for the password instead of running, in the dialog or as a page, and then
sends the member on to the URL they asked for. A member with a second factor may give it
instead of the password (an authenticator code, a passkey).

In an account that requires two-factor authentication the password is not enough: the session
must have given a second factor in the last `TWO_FACTOR_RECENT_HOURS`, or the view asks for one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from accounts.forms import PasswordConfirmForm
from accounts.models import Passkey, User
from accounts.requests import AccountRequest
from accounts.twofactor import state as two_factor_state
from accounts.twofactor.factors import confirmed_totp_device, has_two_factor
from accounts.twofactor.signin_forms import AuthenticatorCodeForm

SUDO_SESSION_KEY = "sudo_confirmed_at"

View = Callable[..., HttpResponse]


def confirm_sudo(request: HttpRequest) -> None:
    """Record that the signed-in member has just confirmed their password."""
    request.session[SUDO_SESSION_KEY] = timezone.now().timestamp()


def sudo_is_fresh(request: HttpRequest) -> bool:
    confirmed_at = request.session.get(SUDO_SESSION_KEY)
    if not isinstance(confirmed_at, int | float):
        return False
    age = timezone.now().timestamp() - confirmed_at
    # A confirmation "from the future" means the clock went back: ask again rather than trust it.
    return 0 <= age < settings.SUDO_MODE_MINUTES * 60


def second_factor_required(request: HttpRequest) -> bool:
    """Whether the current account requires a second factor this session has not given lately.

    Not of a member who has none yet: the policy holds them on Settings -> Security, where the
    password is what lets them enrol one.
    """
    account = getattr(request, "account", None)
    return (
        account is not None
        and account.require_two_factor
        and not two_factor_state.verified_recently(request.session)
        and isinstance(request.user, User)
        and has_two_factor(request.user)
    )


def render_password_confirmation(
    request: AccountRequest,
    form: PasswordConfirmForm,
    next_url: str,
    *,
    status: int = 200,
    code_form: AuthenticatorCodeForm | None = None,
) -> HttpResponse:
    """Render the "Confirm your password" form: dialog content for htmx, else a whole page.

    With the user's second factors beside the password, or in its place when the account
    requires one (`second_factor_required`).
    """
    template_name = "accounts/confirm_password.html"
    if getattr(request, "htmx", False):
        template_name += "#dialog"
    factor_only = second_factor_required(request)
    if code_form is None:
        code_form = AuthenticatorCodeForm(autofocus=factor_only)
    context = {
        "form": form,
        "code_form": code_form,
        "next": next_url,
        "sudo_minutes": settings.SUDO_MODE_MINUTES,
        "factor_only": factor_only,
        "recent_hours": settings.TWO_FACTOR_RECENT_HOURS,
        "has_authenticator": confirmed_totp_device(request.user) is not None,
        "has_passkeys": Passkey.objects.filter(user=request.user).exists(),
    }
    response = render(request, template_name, context, status=status)
    add_never_cache_headers(response)
    return response


def sudo_required(view: View) -> View:
    """Run the view only with a fresh password confirmation (and, where the account requires
    it, a recent second factor); otherwise ask for one.

    A refused POST is never performed (403); after confirming, the member lands on the view's
    URL with a GET, so they see its form again rather than a submission made without asking.
    """

    @wraps(view)
    def wrapper(request: AccountRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if sudo_is_fresh(request) and not second_factor_required(request):
            return view(request, *args, **kwargs)
        return render_password_confirmation(
            request,
            PasswordConfirmForm(request),
            request.get_full_path(),
            status=403 if request.method == "POST" else 200,
        )

    return wrapper
