from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.credentials import (
    CredentialsRefused,
    change_name,
    change_password,
    confirm_email_change,
    email_change_token,
    request_email_change,
)
from accounts.dashboard import dashboard_for
from accounts.forms import (
    EmailChangeForm,
    PasswordConfirmForm,
    PasswordResetRequestForm,
    ProfileNameForm,
    ProfilePasswordForm,
    ResetPasswordForm,
    SwitchAccountForm,
)
from accounts.middleware import SESSION_ACCOUNT_KEY
from accounts.requests import AccountRequest, safe_next_url
from accounts.sudo import confirm_sudo, render_password_confirmation, sudo_required
from accounts.throttle import take_reset_allowance
from accounts.twofactor.signin_forms import AuthenticatorCodeForm
from accounts.twofactor.signin_views import check_code_form, locked_response
from accounts.twofactor.state import mark_verified
from accounts.twofactor.verification import CodeKind
from activity.events import RequestContext


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    membership = getattr(request, "membership", None)
    if membership is None:
        # base.html tells a login without an account what to do.
        return render(request, "accounts/dashboard.html")
    return render(request, "accounts/dashboard.html", {"dashboard": dashboard_for(membership)})


@require_POST
def switch_account(request: AccountRequest) -> HttpResponse:
    form = SwitchAccountForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of your accounts.")
        return redirect("dashboard")
    membership = get_object_or_404(
        request.user.memberships.select_related("account"), account_id=form.cleaned_data["account"]
    )
    request.session[SESSION_ACCOUNT_KEY] = membership.account_id
    messages.success(request, f"You are now working in {membership.account.name}.")
    next_url = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(next_url)
    return redirect("dashboard")


@require_http_methods(["GET", "POST"])
@never_cache
@sensitive_post_parameters("password", "totp-code")
def confirm_password(request: AccountRequest) -> HttpResponse:
    """Sudo mode's confirmation (the password, or an authenticator code); on success, on to the
    URL that asked for it."""
    next_url = safe_next_url(request)
    if request.method == "GET":
        return render_password_confirmation(request, PasswordConfirmForm(request), next_url)
    if request.POST.get("method") == CodeKind.TOTP:
        code_form = AuthenticatorCodeForm(request.POST)
        check = check_code_form(request, code_form)
        if check.locked:
            return locked_response(request, check)
        if not check.accepted:
            return render_password_confirmation(
                request, PasswordConfirmForm(request), next_url, code_form=code_form, status=422
            )
        # A fresh second factor: it confirms sudo mode as well.
        mark_verified(request, CodeKind.TOTP)
        return redirect(next_url)
    form = PasswordConfirmForm(request, request.POST)
    if not form.is_valid():
        return render_password_confirmation(request, form, next_url, status=422)
    confirm_sudo(request)
    # An htmx request follows the redirect with its headers, so the dialog that asked gets the
    # requested dialog content (or, where the account requires a second factor, the prompt for
    # one); without JavaScript the browser loads the page.
    return redirect(next_url)


class ThrottledPasswordResetView(auth_views.PasswordResetView):
    """Django's "forgot password" page, with an hourly allowance per email and per address."""

    form_class = PasswordResetRequestForm

    def form_valid(self, form: PasswordResetRequestForm) -> HttpResponse:
        if not take_reset_allowance(self.request, form.cleaned_data["email"]):
            # The same page for a known email and an unknown one.
            return render(self.request, "registration/password_reset_throttled.html", status=429)
        return super().form_valid(form)


class RecordedPasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's "choose a new password" page; the reset is recorded and emailed."""

    form_class = ResetPasswordForm

    def get_form_kwargs(self) -> dict[str, Any]:
        kwargs = super().get_form_kwargs()
        kwargs["context"] = RequestContext.from_request(self.request)
        return kwargs


def _render_profile(request: AccountRequest, status: int = 200, **forms: Any) -> HttpResponse:
    user = request.user
    context = {
        "without_account": True,
        "name_form": ProfileNameForm(initial={"full_name": user.full_name}),
        "email_form": EmailChangeForm(),
        "password_form": ProfilePasswordForm(request),
        **forms,
    }
    response = render(request, "accounts/profile.html", context, status=status)
    add_never_cache_headers(response)
    return response


@require_http_methods(["GET", "POST"])
def profile(request: AccountRequest) -> HttpResponse:
    """Settings → Profile; a POST changes the name."""
    if request.method == "GET":
        return _render_profile(request)
    form = ProfileNameForm(request.POST)
    if form.is_valid():
        try:
            change_name(user=request.user, full_name=form.cleaned_data["full_name"])
        except CredentialsRefused as refusal:
            form.add_error("full_name", refusal.message)
    if not form.is_valid():
        return _render_profile(request, status=422, name_form=form)
    messages.success(request, "Your name was saved.")
    return redirect("profile")


@require_http_methods(["GET", "POST"])
@sudo_required
def profile_email(request: AccountRequest) -> HttpResponse:
    """Ask to change the email: a link goes to the new address, a notice to the current one."""
    if request.method == "GET":
        return redirect("profile")
    form = EmailChangeForm(request.POST)
    if form.is_valid():
        new_email = form.cleaned_data["email"]
        token = email_change_token(user=request.user, new_email=new_email)
        try:
            request_email_change(
                user=request.user,
                new_email=new_email,
                confirm_url=request.build_absolute_uri(
                    reverse("profile_email_confirm", args=[token])
                ),
                context=RequestContext.from_request(request),
            )
        except CredentialsRefused as refusal:
            form.add_error("email", refusal.message)
    if not form.is_valid():
        return _render_profile(request, status=422, email_form=form)
    messages.success(
        request,
        f"We sent a confirmation link to {form.cleaned_data['email']}. Your email changes when "
        "you open it.",
    )
    return redirect("profile")


@require_http_methods(["GET", "POST"])
@never_cache
def profile_email_confirm(request: AccountRequest, token: str) -> HttpResponse:
    """The emailed link: a page with a button, since mail scanners open links on their own."""
    if request.method == "GET":
        return render(
            request, "accounts/email_confirm.html", {"token": token, "without_account": True}
        )
    try:
        new_email = confirm_email_change(
            user=request.user, token=token, context=RequestContext.from_request(request)
        )
    except CredentialsRefused as refusal:
        return render(
            request,
            "accounts/email_confirm.html",
            {"refusal": refusal.message, "without_account": True},
            status=400,
        )
    messages.success(request, f"Your email is now {new_email}. Sign in with it from now on.")
    return redirect("profile")


@require_POST
@sensitive_post_parameters("current_password", "new_password1", "new_password2")
def profile_password(request: AccountRequest) -> HttpResponse:
    """Change the password; every other session of the login is signed out."""
    form = ProfilePasswordForm(request, request.POST)
    if not form.is_valid():
        return _render_profile(request, status=422, password_form=form)
    change_password(
        user=request.user,
        password=form.cleaned_data["new_password1"],
        context=RequestContext.from_request(request),
    )
    # The new password's hash no longer matches the one in the sessions: this one is kept.
    update_session_auth_hash(request, request.user)
    messages.success(request, "Your password was changed, and your other sessions signed out.")
    return redirect("profile")
