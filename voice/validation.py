"""The webhook rules the API's schemas and the admin's form share: a public https URL, and
events from the catalogue. Each raises FieldError (a ValueError, so pydantic reports it as the
field's message) saying what to fix.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

from voice.models import URL_MAX_LENGTH, WEBHOOK_EVENTS
from voxkeys.safetext import unsafe_character_error

# Webhook receivers listen on the standard https port or its common alternative; any other
# port would let a webhook probe services that happen to listen beside a public web server.
WEBHOOK_PORTS = frozenset({443, 8443})
# Each carries an IPv4 address inside an IPv6 one, where a private IPv4 address can hide.
# ipaddress calls some of them global (6to4), and its answers differ between Python versions.
NON_PUBLIC_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "64:ff9b::/96",  # NAT64 (RFC 6052)
        "64:ff9b:1::/48",  # local-use NAT64 (RFC 8215)
        "2002::/16",  # 6to4 (RFC 3056)
        "2001::/32",  # Teredo (RFC 4380)
        "::/96",  # IPv4-compatible (deprecated, RFC 4291)
        "::ffff:0:0/96",  # IPv4-mapped
    )
)
NOT_PUBLIC = "Must be a public address; local and private networks are not allowed."
# Only the characters RFC 3986 lets a URI hold, and "%" only to start a %XX escape. Parsers
# disagree about everything else: `https://169.254.169.254\@8.8.8.8/` is a URL to 8.8.8.8 for
# Python's urlsplit and to 169.254.169.254 for requests, urllib3, browsers and Node.
URI_CHARACTERS = re.compile(r"(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*\Z")
NOT_URI_CHARACTERS = (
    "Must hold only the characters a URL may contain: percent-encode anything else (a "
    "backslash, a space, a quote) in the path or query, and write an international domain "
    "name in its xn-- form."
)
USER_INFO = "Must not contain a user name or password (the part before @ in user@host)."

# How webhook hosts are resolved: replaced in tests, so no test depends on real DNS. It waits
# as long as the system resolver's timeouts allow (resolv.conf), which bounds a slow name.
resolve = socket.getaddrinfo


class FieldError(ValueError):
    """One field's value is not acceptable; the message says why."""


def clean_webhook_url(value: Any) -> str:
    if not isinstance(value, str) or len(value) > URL_MAX_LENGTH:
        raise FieldError(f"Must be an https URL of at most {URL_MAX_LENGTH} characters.")
    # URLValidator lets controls, bidi and invisible characters through in the path.
    unsafe = unsafe_character_error(value, "URL")
    if unsafe:
        raise FieldError(unsafe)
    if not URI_CHARACTERS.match(value):
        raise FieldError(NOT_URI_CHARACTERS)
    # Credentials in the URL would be sent to the receiver, and "@" is where parsers split the
    # authority differently.
    authority = value.partition("//")[2].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in authority:
        raise FieldError(USER_INFO)
    try:
        URLValidator(schemes=["https"])(value)
    except ValidationError:
        raise FieldError(
            "Must be a valid https URL, e.g. https://example.com/hooks/voxpria."
        ) from None
    parts = urlsplit(value)
    try:
        port = 443 if parts.port is None else parts.port
    except ValueError:  # beyond 65535
        port = None
    if port not in WEBHOOK_PORTS:
        raise FieldError("Must use port 443 or 8443 (no port means 443).")
    host = (parts.hostname or "").lower().rstrip(".")
    # We will POST to this URL from inside our network: never let it point back in.
    if host == "localhost" or host.endswith((".localhost", ".local", ".internal")):
        raise FieldError(NOT_PUBLIC)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None and not is_public_address(literal):
        raise FieldError(NOT_PUBLIC)
    if literal is None and not resolves_to_public_addresses(host, port):
        raise FieldError(NOT_PUBLIC + " This host name resolves to such an address.")
    return value


def is_public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a webhook may be delivered to `address`."""
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not any(address in network for network in NON_PUBLIC_NETWORKS)
    )


def resolves_to_public_addresses(host: str, port: int) -> bool:
    """False if any address `host` resolves to now is not public; True if it does not resolve.

    This check alone cannot protect: the name's owner can change what it resolves to after
    this (DNS rebinding). What protects is the same check at delivery, on the address actually
    connected to; delivery must make it when it is built. Refusing names that do not resolve
    would only refuse receivers whose DNS is not set up yet.
    """
    try:
        results = resolve(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):  # no such name, no DNS answer, or not encodable as IDNA
        return True
    # The address is the first item of sockaddr; IPv6 link-local ones may carry a %zone.
    return all(is_public_address(ipaddress.ip_address(result[4][0])) for result in results)


def clean_events(value: Any) -> list[str]:
    if not isinstance(value, list) or not value:
        raise FieldError("Must be a non-empty list of event names.")
    unknown = [event for event in value if event not in WEBHOOK_EVENTS]
    if unknown:
        raise FieldError(
            f"Unknown event {', '.join(map(str, unknown[:5]))}; "
            f"the events are {', '.join(WEBHOOK_EVENTS)}."
        )
    # Catalogue order, without duplicates: what is stored does not depend on how it was sent.
    return [event for event in WEBHOOK_EVENTS if event in value]
