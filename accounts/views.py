from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts.dashboard import dashboard_for
from accounts.forms import PasswordConfirmForm, SwitchAccountForm
from accounts.middleware import SESSION_ACCOUNT_KEY
from accounts.requests import AccountRequest
from accounts.sudo import confirm_sudo, render_password_confirmation


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
@sensitive_post_parameters("password")
def confirm_password(request: HttpRequest) -> HttpResponse:
    """Sudo mode's password confirmation; on success, on to the URL that asked for it."""
    next_url = request.POST.get("next") or request.GET.get("next", "")
    if not url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        next_url = reverse("dashboard")
    if request.method == "GET":
        return render_password_confirmation(request, PasswordConfirmForm(request), next_url)
    form = PasswordConfirmForm(request, request.POST)
    if not form.is_valid():
        return render_password_confirmation(request, form, next_url, status=422)
    confirm_sudo(request)
    # An htmx request follows the redirect with its headers, so the dialog that asked gets the
    # requested dialog content; without JavaScript the browser loads the page.
    return redirect(next_url)
