"""The webhook rules the API's schemas, the admin's form and delivery share: a public https URL,
and events from the catalogue. Each raises FieldError (a ValueError, so pydantic reports it as the
field's message) saying what to fix.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from urllib3.exceptions import LocationParseError
from urllib3.util import parse_url

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


NOT_HTTPS = "Must be a valid https URL, e.g. https://example.com/hooks/voxpria."
BAD_PORT = "Must use port 443 or 8443 (no port means 443)."
DEFAULT_PORTS = {"http": 80, "https": 443}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    """Where a webhook URL points, as urllib3 (which delivers it) reads it."""

    url: str
    scheme: str
    host: str  # lower case, no trailing dot, an IPv6 address without its brackets
    port: int
    request_target: str  # path and query, what the POST's request line carries
    literal: IPAddress | None  # the host, when it is an address rather than a name

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if isinstance(self.literal, ipaddress.IPv6Address) else self.host
        return host if self.port == DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"


def webhook_target(value: Any) -> WebhookTarget:
    """Read a webhook URL without resolving it; FieldError if its text could mislead a parser.

    Saving and delivering both read the URL here, with urllib3's parser, the one that sends it:
    a URL that two parsers read differently cannot pass one check and reach another host.
    """
    if not isinstance(value, str) or len(value) > URL_MAX_LENGTH:
        raise FieldError(f"Must be an https URL of at most {URL_MAX_LENGTH} characters.")
    # URLValidator lets controls, bidi and invisible characters through in the path.
    unsafe = unsafe_character_error(value, "URL")
    if unsafe:
        raise FieldError(unsafe)
    if not URI_CHARACTERS.match(value):
        raise FieldError(NOT_URI_CHARACTERS)
    # Credentials in the URL would be sent to the receiver, and "@" is where parsers split the
    # authority differently. urllib3 drops an empty user-info ("https://@host/"), so look first.
    authority = value.partition("//")[2].split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in authority:
        raise FieldError(USER_INFO)
    schemes = ["http", "https"] if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS else ["https"]
    try:
        URLValidator(schemes=schemes)(value)
        parts = parse_url(value)
    except (ValidationError, LocationParseError):
        raise FieldError(NOT_HTTPS) from None
    if parts.auth is not None:
        raise FieldError(USER_INFO)
    scheme = (parts.scheme or "").lower()
    if scheme not in schemes or not parts.host:
        raise FieldError(NOT_HTTPS)
    host = parts.host.lower().removeprefix("[").removesuffix("]").rstrip(".")
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    return WebhookTarget(
        url=value,
        scheme=scheme,
        host=host,
        port=DEFAULT_PORTS[scheme] if parts.port is None else parts.port,
        request_target=parts.request_uri,
        literal=literal,
    )


def address_refusal(target: WebhookTarget, address: IPAddress) -> str | None:
    """Why `target` may not be reached at `address`, or None if it may."""
    if not is_public_address(address):
        # Development and tests: local receivers, on whatever scheme and port they listen.
        return None if settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS else NOT_PUBLIC
    return public_target_refusal(target)


def public_target_refusal(target: WebhookTarget) -> str | None:
    """Why `target` may not be reached on a public address: only https, on 443 or 8443."""
    if target.scheme != "https":
        return NOT_HTTPS
    if target.port not in WEBHOOK_PORTS:
        return BAD_PORT
    return None


def clean_webhook_url(value: Any) -> str:
    target = webhook_target(value)
    # We will POST to this URL from inside our network: never let it point back in.
    local_name = target.host == "localhost" or target.host.endswith(
        (".localhost", ".local", ".internal")
    )
    if local_name and not settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS:
        raise FieldError(NOT_PUBLIC)
    if target.literal is not None:
        refusal = address_refusal(target, target.literal)
        if refusal:
            raise FieldError(refusal)
        return target.url
    try:
        addresses = resolve_addresses(target.host, target.port)
    except (OSError, UnicodeError):
        # Not resolvable yet (its DNS may not be set up): the public rules apply now, and
        # delivery checks again the address it connects to.
        addresses = []
    refusals = [address_refusal(target, address) for address in addresses] or [
        public_target_refusal(target)
    ]
    if NOT_PUBLIC in refusals:
        # The address itself is not told: it could map out names only our network resolves.
        raise FieldError(NOT_PUBLIC + " This host name resolves to such an address.")
    refusal = next((refusal for refusal in refusals if refusal), None)
    if refusal:
        raise FieldError(refusal)
    return target.url


def resolve_addresses(host: str, port: int) -> list[IPAddress]:
    """The addresses `host` resolves to now; OSError or UnicodeError if it does not resolve.

    Saving checks them, but the name's owner can change its answer after that (DNS rebinding):
    what protects is delivery's own check, on the address it then connects to.
    """
    results = resolve(host, port, type=socket.SOCK_STREAM)
    # The address is the first item of sockaddr; IPv6 link-local ones may carry a %zone.
    return [ipaddress.ip_address(str(result[4][0]).split("%", 1)[0]) for result in results]


def is_public_address(address: IPAddress) -> bool:
    """Whether a webhook may be delivered to `address`."""
    return (
        address.is_global
        and not address.is_multicast
        and not address.is_reserved
        and not any(address in network for network in NON_PUBLIC_NETWORKS)
    )


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
