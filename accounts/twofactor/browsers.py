"""The new-browser alert: a sign-in from a browser its user has not signed in from before.

A browser is known by a long-lived signed cookie holding a random token; `KnownBrowser` keeps
the token's SHA-256 digest per user (a 256-bit random token needs no slow hash). One cookie
serves every login that signs in from that browser, so a shared computer is new once per
person. When a session becomes usable (`sign_in_completed`: after the password, or after the
second factor for those who have one) a browser without the cookie, with a tampered one, or with
a token this user has not signed in with, is remembered and the user is emailed, except on
their very first sign-in (no browser known yet): that is the one that just created the login.

The signal has no response to set the cookie on: the token waits on the request and
`KnownBrowserMiddleware` sets it on the way out.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponseBase
from django.urls import reverse
from django.utils import timezone

from accounts.credentials import email_after_commit
from accounts.models import KnownBrowser, User
from accounts.twofactor.sessions import device_name
from activity.events import RequestContext

BROWSER_COOKIE = "vk_browser"
BROWSER_COOKIE_SALT = "accounts.twofactor.browsers"
BROWSER_COOKIE_MAX_AGE = 2 * 365 * 24 * 3600
NEW_TOKEN_ATTRIBUTE = "_new_browser_token"
TOKEN_FORMAT = re.compile(r"[A-Za-z0-9_-]{43}")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def browser_token(request: HttpRequest) -> str | None:
    """Return the token of the browser's cookie, or None if it has none or a tampered one."""
    token = request.get_signed_cookie(BROWSER_COOKIE, default=None, salt=BROWSER_COOKIE_SALT)
    return token if isinstance(token, str) and TOKEN_FORMAT.fullmatch(token) else None


def _sessions_url(request: HttpRequest) -> str:
    path = reverse("security") + "#sessions"
    # A sign-in made outside a page (the test client's login) has no host to link to.
    if request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME"):
        return request.build_absolute_uri(path)
    return settings.SITE_URL + path


@transaction.atomic
def note_sign_in_browser(*, request: HttpRequest, user: User) -> bool:
    """Remember the browser `user` signed in from; return whether it was new to them.

    A new browser (not the first of all) is emailed about once this transaction commits.
    """
    now = timezone.now()
    token = browser_token(request)
    if token is not None:
        seen = user.known_browsers.filter(token_digest=token_digest(token)).update(last_seen_at=now)
        if seen:
            return False
    else:
        token = secrets.token_urlsafe(32)
    first_browser = not user.known_browsers.exists()
    _, created = KnownBrowser.objects.get_or_create(
        user=user, token_digest=token_digest(token), defaults={"created_at": now}
    )
    setattr(request, NEW_TOKEN_ATTRIBUTE, token)
    if created and not first_browser:
        context = RequestContext.from_request(request)
        email_after_commit(
            "[VoxPria] New sign-in to VoxPria",
            "accounts/email/new_sign_in.txt",
            {
                "user": user,
                "signed_in_at": now,
                "context": context,
                "device": device_name(context.user_agent),
                "sessions_url": _sessions_url(request),
            },
            [user.email],
        )
    return created


def set_browser_cookie(request: HttpRequest, response: HttpResponseBase) -> None:
    """Give the browser the cookie of a token `note_sign_in_browser` chose in this request."""
    token = getattr(request, NEW_TOKEN_ATTRIBUTE, None)
    if isinstance(token, str):
        response.set_signed_cookie(
            BROWSER_COOKIE,
            token,
            salt=BROWSER_COOKIE_SALT,
            max_age=BROWSER_COOKIE_MAX_AGE,
            httponly=True,
            secure=settings.SESSION_COOKIE_SECURE,
            samesite="Lax",
        )
