from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.requests import AccountRequest
from accounts.twofactor.enrolment_views import authenticator_context, recovery_codes_context
from accounts.twofactor.passkeys import passkeys_context
from accounts.twofactor.session_views import sessions_context


@require_GET
@never_cache
def security(request: AccountRequest) -> HttpResponse:
    """Settings -> Security: the login's second factors, recovery codes and sessions.

    Never cached: it shows new recovery codes, once.
    """
    context: dict[str, object] = {
        "without_account": True,
        **authenticator_context(request),
        **recovery_codes_context(request),
        **passkeys_context(request),
        **sessions_context(request),
    }
    return render(request, "accounts/security/index.html", context)
