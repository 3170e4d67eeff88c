"""Sudo mode: sensitive actions need the password confirmed in the last `SUDO_MODE_MINUTES`.

GitHub's pattern: a stolen session, or a computer left unlocked, should not be enough to create
or change API keys. Signing in counts as confirming (accounts.signals). When the confirmation is
older, the view asks for the password instead of running, in the dialog or as a page, and then
sends the member on to the URL they asked for.
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


def render_password_confirmation(
    request: HttpRequest, form: PasswordConfirmForm, next_url: str, *, status: int = 200
) -> HttpResponse:
    """Render the "Confirm your password" form: dialog content for htmx, else a whole page."""
    template_name = "accounts/confirm_password.html"
    if getattr(request, "htmx", False):
        template_name += "#dialog"
    context = {"form": form, "next": next_url, "sudo_minutes": settings.SUDO_MODE_MINUTES}
    response = render(request, template_name, context, status=status)
    add_never_cache_headers(response)
    return response


def sudo_required(view: View) -> View:
    """Run the view only with a fresh password confirmation; otherwise ask for one.

    A refused POST is never performed (403); after confirming, the member lands on the view's
    URL with a GET, so they see its form again rather than a submission made without asking.
    """

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if sudo_is_fresh(request):
            return view(request, *args, **kwargs)
        return render_password_confirmation(
            request,
            PasswordConfirmForm(request),
            request.get_full_path(),
            status=403 if request.method == "POST" else 200,
        )

    return wrapper
