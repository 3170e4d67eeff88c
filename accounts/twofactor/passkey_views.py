"""Passkey endpoints: each ceremony an options/response pair of JSON posts (static/js/passkeys.js).

Errors answer `{"error": {"code": ..., "message": ...}}`, which the script shows beside the
button; success answers `{"redirect": url}`, which it follows.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Passkey, User
from accounts.sudo import sudo_is_fresh, sudo_required
from accounts.twofactor import passkeys
from accounts.twofactor.passkeys import Ceremony, PasskeyError, Refusal
from accounts.twofactor.state import is_pending, mark_verified, pending_has_expired
from activity.events import RequestContext

# The passwordless sign-in's user is found by the passkey, not by a password backend.
PASSKEY_LOGIN_BACKEND = "django.contrib.auth.backends.ModelBackend"

NOT_PENDING = Refusal(
    PasskeyError.NOT_PENDING, "Your sign-in expired or is already complete. Log in again."
)
NOT_SIGNED_IN = Refusal(PasskeyError.NOT_SIGNED_IN, "You are signed out. Log in again.")


def refused(refusal: Refusal, *, status: int = 400, **extra: Any) -> JsonResponse:
    return JsonResponse(
        {"error": {"code": refusal.code, "message": refusal.message, **extra}}, status=status
    )


def safe_next(request: HttpRequest, body: dict[str, Any] | None, default: str) -> str:
    """The `next` the page posted, if it stays on this site; else `default`."""
    next_url = body.get("next") if body else None
    if isinstance(next_url, str) and url_has_allowed_host_and_scheme(
        next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return next_url
    return resolve_url(default)


def signed_in_user(request: HttpRequest) -> User | None:
    """The request's user once fully signed in (not halfway, waiting for a second factor)."""
    user = request.user
    if not isinstance(user, User) or is_pending(request.session):
        return None
    return user


def pending_user(request: HttpRequest) -> User | None:
    """The user of a half-signed-in session still within its time for the second factor."""
    user = request.user
    if not isinstance(user, User) or not is_pending(request.session):
        return None
    return None if pending_has_expired(request.session) else user


def sudo_refusal(request: HttpRequest) -> JsonResponse:
    """sudo_required for a script: it cannot show the confirmation page, so it goes there."""
    confirm_url = f"{reverse('confirm_password')}?next={reverse('security')}"
    return refused(
        Refusal(PasskeyError.SUDO_REQUIRED, "Confirm it's you first."),
        status=403,
        confirm_url=confirm_url,
    )


def authentication_options(
    request: HttpRequest, *, ceremony: Ceremony, user: User | None
) -> HttpResponse:
    options = passkeys.authentication_options(request, ceremony=ceremony, user=user)
    return HttpResponse(options, content_type="application/json")


def answered_ceremony(
    request: HttpRequest, *, ceremony: Ceremony, user: User | None
) -> tuple[Passkey, dict[str, Any]] | JsonResponse:
    """The passkey an authentication's second request proved, with its body; or the refusal."""
    body = passkeys.parse_body(request.body)
    if body is None:
        return refused(passkeys.MALFORMED)
    result = passkeys.complete_authentication(
        request, ceremony=ceremony, user=user, credential_json=body.get("credential")
    )
    if isinstance(result, Refusal):
        return refused(result)
    return result, body


# Adding and removing (Settings -> Security)


@require_POST
@never_cache
def register_options(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    if user is None:
        return refused(NOT_SIGNED_IN, status=403)
    if not sudo_is_fresh(request):
        return sudo_refusal(request)
    body = passkeys.parse_body(request.body)
    if body is None:
        return refused(passkeys.MALFORMED)
    name = passkeys.validated_passkey_name(str(body.get("name") or ""))
    if isinstance(name, Refusal):
        return refused(name)
    options = passkeys.registration_options(request, user=user, name=name)
    return HttpResponse(options, content_type="application/json")


@require_POST
@never_cache
def register(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    if user is None:
        return refused(NOT_SIGNED_IN, status=403)
    body = passkeys.parse_body(request.body)
    if body is None:
        return refused(passkeys.MALFORMED)
    result = passkeys.complete_registration(
        request, user=user, credential_json=body.get("credential")
    )
    if isinstance(result, Refusal):
        return refused(result)
    messages.success(request, f"Passkey “{result.name}” added.")
    return JsonResponse({"redirect": reverse("security")})


@require_http_methods(["GET", "POST"])
@never_cache
@sudo_required
def remove(request: HttpRequest, passkey_id: int) -> HttpResponse:
    """Ask, then remove one of the member's passkeys (the last factor only if no policy bars it)."""
    user = request.user
    assert isinstance(user, User)
    passkey = get_object_or_404(user.passkeys, pk=passkey_id)
    if request.method == "GET":
        return render(request, "accounts/security/passkey_remove.html", {"passkey": passkey})
    refusal = passkeys.remove_passkey(
        user=user, passkey=passkey, context=RequestContext.from_request(request)
    )
    if refusal is not None:
        messages.error(request, refusal)
    else:
        messages.success(request, f"Passkey “{passkey.name}” removed.")
    return redirect("security")


# Signing in: the second step after the password, and passwordless from the login page


@login_not_required
@require_POST
@never_cache
def second_step_options(request: HttpRequest) -> HttpResponse:
    user = pending_user(request)
    if user is None:
        return refused(NOT_PENDING, status=403)
    return authentication_options(request, ceremony=Ceremony.SECOND_STEP, user=user)


@login_not_required
@require_POST
@never_cache
def second_step(request: HttpRequest) -> HttpResponse:
    user = pending_user(request)
    if user is None:
        return refused(NOT_PENDING, status=403)
    answer = answered_ceremony(request, ceremony=Ceremony.SECOND_STEP, user=user)
    if isinstance(answer, JsonResponse):
        return answer
    _, body = answer
    mark_verified(request, "passkey")
    # The session now grants what the half-signed-in one did not: give it a new key.
    request.session.cycle_key()
    return JsonResponse({"redirect": safe_next(request, body, settings.LOGIN_REDIRECT_URL)})


@login_not_required
@require_POST
@never_cache
def passwordless_options(request: HttpRequest) -> HttpResponse:
    return authentication_options(request, ceremony=Ceremony.PASSWORDLESS, user=None)


@login_not_required
@require_POST
@never_cache
def passwordless(request: HttpRequest) -> HttpResponse:
    answer = answered_ceremony(request, ceremony=Ceremony.PASSWORDLESS, user=None)
    if isinstance(answer, JsonResponse):
        return answer
    passkey, body = answer
    # login() cycles the session key; the passkey is the second factor as well as the first.
    login(request, passkey.user, backend=PASSKEY_LOGIN_BACKEND)
    mark_verified(request, "passkey")
    return JsonResponse({"redirect": safe_next(request, body, settings.LOGIN_REDIRECT_URL)})


# Sudo mode: a passkey instead of the password


@require_POST
@never_cache
def sudo_options(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    if user is None:
        return refused(NOT_SIGNED_IN, status=403)
    return authentication_options(request, ceremony=Ceremony.SUDO, user=user)


@require_POST
@never_cache
def sudo(request: HttpRequest) -> HttpResponse:
    user = signed_in_user(request)
    if user is None:
        return refused(NOT_SIGNED_IN, status=403)
    answer = answered_ceremony(request, ceremony=Ceremony.SUDO, user=user)
    if isinstance(answer, JsonResponse):
        return answer
    _, body = answer
    mark_verified(request, "passkey")
    return JsonResponse({"redirect": safe_next(request, body, "dashboard")})
