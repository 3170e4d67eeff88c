"""Holding a half-signed-in session, and keeping superusers without a second factor out of the
admin."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django_htmx.http import HttpResponseClientRedirect

from accounts.twofactor.factors import has_two_factor
from accounts.twofactor.state import is_pending, pending_has_expired

PENDING_EXPIRED = (
    "The sign-in took more than {minutes} minutes. Enter your email and password again."
)


class TwoFactorMiddleware:
    """A pending session (password right, second factor to come) reaches only the verification
    URLs, sign-out and static files: GETs are sent to the verification page, anything else is
    refused (403). After `TWO_FACTOR_PENDING_SECONDS` it is signed out, saying why.

    After IdleTimeoutMiddleware and before LoginRequiredMiddleware, which sends the signed-out
    request on to the login page, where the message shows. A session that is not pending costs
    one look into the session, no query.
    """

    # Everything under this prefix is the verification's (the passkey endpoints too).
    VERIFY_PREFIX = "/login/verify/"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # API requests have no session (their key is their authentication); even a look into
        # an empty one would add "Vary: Cookie" to their responses.
        if request.path_info.startswith("/api/"):
            return self.get_response(request)
        if is_pending(request.session) and request.user.is_authenticated:
            if pending_has_expired(request.session):
                logout(request)
                minutes = settings.TWO_FACTOR_PENDING_SECONDS // 60
                messages.info(request, PENDING_EXPIRED.format(minutes=minutes))
            elif not self.is_open_while_pending(request.path_info):
                return self.hold(request)
        elif settings.ADMIN_REQUIRE_2FA and request.path_info.startswith(admin_prefix()):
            user = request.user
            if user.is_authenticated and user.is_superuser and not has_two_factor(user):
                return render(request, "registration/two_factor_admin_refused.html", status=403)
        return self.get_response(request)

    def is_open_while_pending(self, path: str) -> bool:
        return path.startswith((self.VERIFY_PREFIX, reverse("logout"), settings.STATIC_URL))

    def hold(self, request: HttpRequest) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return render(request, "registration/two_factor_pending.html", status=403)
        next_query = urlencode({"next": request.get_full_path()})
        verify_url = f"{reverse('two_factor_verify')}?{next_query}"
        if request.headers.get("HX-Request") == "true":
            # An htmx swap of the verification page into a dialog would hide it: load it whole.
            return HttpResponseClientRedirect(verify_url)
        return redirect(verify_url)


def admin_prefix() -> str:
    return reverse("admin:index")
