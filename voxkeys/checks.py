"""Deploy checks (`manage.py check --deploy`) for what Django's own cannot know about."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, register

NO_TRUSTED_PROXY = Error(
    "SECURE_PROXY_SSL_HEADER is set, so the app is behind a proxy, but TRUSTED_PROXY_COUNT is 0: "
    "every client would have the proxy's address, and one client's failed API keys would "
    "throttle every other customer (allowlists would see the proxy too).",
    hint="Set TRUSTED_PROXY_COUNT to the number of proxies in front of the app that append to "
    "X-Forwarded-For (1 for a single load balancer).",
    id="voxkeys.E001",
)


@register(Tags.security, deploy=True)
def check_trusted_proxies(
    app_configs: Sequence[AppConfig] | None, **kwargs: Any
) -> list[CheckMessage]:
    if getattr(settings, "SECURE_PROXY_SSL_HEADER", None) and settings.TRUSTED_PROXY_COUNT <= 0:
        return [NO_TRUSTED_PROXY]
    return []
