"""The client's IP address: the one helper everything that records, limits or allows by IP uses.

Behind `TRUSTED_PROXY_COUNT` proxies (load balancers, CDNs), each appending the address it
received the request from to X-Forwarded-For, the client is the header's Nth entry from the
right: entries further left were written by the client and prove nothing. With no trusted proxy
(the default) the header is ignored and REMOTE_ADDR is the client. django-ipware parses the
header (IPv6, brackets, ports, IPv4-mapped forms).

The answer is always an address in its canonical form, or None: it is stored in `inet` columns,
compared with allowlists and used as a rate-limit bucket, so a zone id (`fe80::1%eth0`, which
PostgreSQL refuses) is dropped, and an entry that is not an address counts as no entry.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest
from ipware import get_client_ip

FORWARDED_FOR = "HTTP_X_FORWARDED_FOR"


def normalized_ip(text: str | None) -> str | None:
    """Return `text` as a canonical IP address without a zone id, or None if it is not one."""
    if not text:
        return None
    try:
        address = ipaddress.ip_address(text.partition("%")[0].strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def client_ip(request: HttpRequest) -> str | None:
    """Return the client's IP address as a string, or None when there is none."""
    remote_addr = normalized_ip(request.META.get("REMOTE_ADDR"))
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
    return normalized_ip(ip) or remote_addr
