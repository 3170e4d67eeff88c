"""The benchmark's control target: ApiKeyMiddleware with authentication taken out.

`make bench` serves the app with bench/control_settings.py next to the real one. There,
/api/v1/credits runs everything the real route runs (the API middleware's rate limit, usage
recording and headers, the view, its balance query) except `check_key()`, which here hands
back the bench key and its account as a cache hit would, without parsing or looking anything
up. The real route's throughput over this one's is what authentication costs.
"""

from __future__ import annotations

import os
from typing import Any

from django.db import router
from django.http import HttpRequest

from accounts.models import Account
from api.middleware import ApiKeyMiddleware
from apikeys.auth import Authenticated, AuthenticatedKey
from apikeys.auth.lookup import ACCOUNT_FIELDS
from apikeys.models import ApiKey


class AuthOffMiddleware(ApiKeyMiddleware):
    _key: AuthenticatedKey | None = None
    _account_values: tuple[Any, ...] = ()

    def check_key(self, request: HttpRequest) -> Authenticated:  # type: ignore[override]  # an instance method here
        if self._key is None:
            api_key = ApiKey.objects.select_related("account").get(
                pk=int(os.environ["BENCH_CONTROL_KEY_ID"])
            )
            self._account_values = tuple(getattr(api_key.account, name) for name in ACCOUNT_FIELDS)
            self._key = AuthenticatedKey(
                id=api_key.pk,
                scopes=frozenset(api_key.scopes.split()),
                livemode=api_key.environment == ApiKey.Environment.LIVE,
            )
        # A new account object per request, built as the real middleware builds it.
        db = router.db_for_write(ApiKey)
        return Authenticated(self._key, Account.from_db(db, ACCOUNT_FIELDS, self._account_values))
