"""Bearer-key authentication for every path under /api/, and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse

from api import API_PREFIX
from api.errors import ErrorCode, api_error, not_found, service_unavailable, www_authenticate
from apikeys.auth import ratelimit, usage
from apikeys.auth.check import Refusal, check_key, over_rate_limit
from voxkeys import metrics
from voxkeys.logs import report_database_outage

if TYPE_CHECKING:
    from accounts.models import Account
    from apikeys.auth import AuthenticatedKey


class MiddlewareRequest(HttpRequest):
    """An /api/ request as ApiKeyMiddleware leaves it: no key until process_view finds one."""

    api_key: AuthenticatedKey | None
    account: Account | None
    rate_limit: ratelimit.Decision | None


def refusal_response(refusal: Refusal) -> HttpResponse:
    """Return the API's answer to a refused authentication."""
    headers = {}
    if refusal.code.status == 401:
        # RFC 6750 section 3: no error attribute when the request carried no token at all.
        sent = refusal.code != ErrorCode.MISSING_API_KEY
        headers["WWW-Authenticate"] = www_authenticate("invalid_token" if sent else None)
    if refusal.retry_after is not None:
        headers["Retry-After"] = str(refusal.retry_after)
    return api_error(refusal.code, refusal.message, headers=headers, **refusal.details)


HTTPS_REQUIRED = (
    "The API is served over HTTPS only. Send the request to https:// (the key you sent "
    "over plain HTTP may have been seen by others: consider rolling it)."
)


class ApiKeyMiddleware:
    """Set request.api_key and request.account from `Authorization: Bearer <key>` on /api/.

    It sits before the session, CSRF and auth middleware so it can strip cookies first; on
    every other path it costs one startswith(). The key is checked in process_view, once the
    route is known, so public routes and unknown paths need no key.
    """

    # A hook for bench/auth_off.py, the benchmark's control target (everything but this).
    check_key = staticmethod(check_key)

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: MiddlewareRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            # The API is cookie-less: drop cookies so no later middleware can find a session
            # (which would log a browser in) or need a CSRF token, and none sets a cookie.
            request.META.pop("HTTP_COOKIE", None)
            request.COOKIES = {}
            request.api_key = None
            request.account = None
            request.rate_limit = None
        response = self.get_response(request)
        # Read with getattr: only /api/ requests have the attributes.
        key: AuthenticatedKey | None = getattr(request, "api_key", None)
        if key is not None:
            # In memory only; the counts reach the database in batches (apikeys/auth/usage.py).
            usage.record_response(request, response, key)
        # process_view decided for an authenticated key: its answer carries the key's limit,
        # whatever the view made of the request.
        decision: ratelimit.Decision | None = getattr(request, "rate_limit", None)
        if decision is not None:
            for name, value in decision.headers().items():
                response[name] = value
        return response

    def process_view(
        self,
        request: MiddlewareRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        if not request.path_info.startswith(API_PREFIX):
            return None
        # Never a session user on the API, and no session read (which would add Vary: Cookie)
        # when LoginRequiredMiddleware asks whether someone is logged in.
        request.user = AnonymousUser()
        # Routes decide: public ones (health, the document, the JSON 404) need no key.
        if getattr(view_func, "api_public", False):
            return None
        # settings.py exempts /api/ from the https redirect: a redirect would have the client
        # send its key again, in the clear.
        if settings.SECURE_SSL_REDIRECT and not request.is_secure():
            return api_error(ErrorCode.HTTPS_REQUIRED, HTTPS_REQUIRED)
        try:
            result = self.check_key(request)
        except (OperationalError, InterfaceError) as exc:
            report_database_outage(exc, request)
            return service_unavailable()
        if isinstance(result, Refusal):
            metrics.count_refusal(result.code)
            return refusal_response(result)
        metrics.count_authenticated()
        request.api_key, request.account = result.key, result.account
        request.rate_limit = ratelimit.limits.check_key(
            result.key.id, result.account.api_rate_limit
        )
        if request.rate_limit is not None and not request.rate_limit.allowed:
            metrics.count_key_rate_limited()
            return refusal_response(over_rate_limit(request.rate_limit))
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not request.path_info.startswith(API_PREFIX):
            return None
        if isinstance(exception, Http404):
            return not_found()
        if isinstance(exception, (OperationalError, InterfaceError)):
            report_database_outage(exception, request)
            return service_unavailable()
        # Anything else is a bug: Django logs it and handler500 answers in JSON.
        return None
