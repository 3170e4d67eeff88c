from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.requests import AccountRequest
from accounts.twofactor.session_views import sessions_context


@require_GET
def security(request: AccountRequest) -> HttpResponse:
    """Settings -> Security: the login's second factors, recovery codes and sessions."""
    context: dict[str, object] = {"without_account": True}
    context.update(sessions_context(request))
    return render(request, "accounts/security/index.html", context)
