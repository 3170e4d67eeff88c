"""The client's IP address: the one helper everything that records, limits or allows by IP uses.

Behind `TRUSTED_PROXY_COUNT` proxies (load balancers, CDNs), each appending the address it
received the request from to X-Forwarded-For, the client is the header's Nth entry from the
right: entries further left were written by the client and prove nothing. With no trusted proxy
(the default) the header is ignored and REMOTE_ADDR is the client. django-ipware parses the
header (IPv6, brackets, ports, IPv4-mapped forms).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip

FORWARDED_FOR = "HTTP_X_FORWARDED_FOR"


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's IP address as a string, or None when there is none."""
    remote_addr = request.META.get("REMOTE_ADDR") or None
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0 or not request.META.get(FORWARDED_FOR):
        return remote_addr
    # ipware counts the proxies whose addresses are in the header; the last proxy's address is
    # REMOTE_ADDR, not in the header, so N trusted proxies leave N - 1 of them there.
    ip, _ = get_client_ip(
        request,
        proxy_order="left-most",
        proxy_count=proxies - 1,
        request_header_order=[FORWARDED_FOR],
        strict=False,
    )
    # A chain too short or malformed to hold the client's entry: the request is attributed to
    # the proxy that sent it, which fails closed for allowlists.
    return ip or remote_addr
