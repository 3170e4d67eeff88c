from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.requests import AccountRequest


@require_GET
def security(request: AccountRequest) -> HttpResponse:
    """Settings -> Security: the login's second factors, recovery codes and sessions."""
    context: dict[str, object] = {"without_account": True}
    return render(request, "accounts/security/index.html", context)
