from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.forms import SwitchAccountForm
from accounts.middleware import SESSION_ACCOUNT_KEY


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/dashboard.html")


@require_POST
def switch_account(request: HttpRequest) -> HttpResponse:
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
