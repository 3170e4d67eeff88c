"""Reading JSON bodies and checking their fields, with errors a developer can act on.

Hand-written rather than a form library: the rules are few, and each message names its field.
The OpenAPI document (voice/openapi.py) states the same rules; schemathesis checks they agree.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator

from api.body import FieldErrors, raise_for_errors
from api.routes import MAX_ID
from voice.models import NAME_MAX_LENGTH, URL_MAX_LENGTH, WEBHOOK_EVENTS, Campaign

MAX_IMPORT = 1000
EMAIL_MAX_LENGTH = 254

# [0-9], not \d: \d also matches other scripts' digits.
PHONE_RE = re.compile(r"\+[1-9][0-9]{1,14}")

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

# How webhook hosts are resolved: replaced in tests, so no test depends on real DNS. It waits
# as long as the system resolver's timeouts allow (resolv.conf), which bounds a slow name.
resolve = socket.getaddrinfo

Cleaner = Callable[[Any], Any]


class FieldError(Exception):
    """One field's value is not acceptable; the message says why."""


def validate_object(
    data: Any,
    cleaners: dict[str, Cleaner],
    *,
    required: Iterable[str] = (),
    path: str = "",
) -> tuple[dict[str, Any], FieldErrors]:
    """Return the cleaned fields of the JSON object `data` and the errors, keyed by field path."""
    errors: FieldErrors = {}
    if not isinstance(data, dict):
        errors[path.rstrip(".") or "body"] = ["Send a JSON object."]
        return {}, errors
    for name in data:
        if name not in cleaners:
            errors[f"{path}{name}"] = [f"Unknown field; the fields are {', '.join(cleaners)}."]
    for name in required:
        if name not in data:
            errors[f"{path}{name}"] = ["This field is required."]
    cleaned: dict[str, Any] = {}
    for name, cleaner in cleaners.items():
        if name in data:
            try:
                cleaned[name] = cleaner(data[name])
            except FieldError as error:
                errors[f"{path}{name}"] = [str(error)]
    return cleaned, errors


def validate_fields(
    data: Any, cleaners: dict[str, Cleaner], *, required: Iterable[str] = ()
) -> dict:
    cleaned, errors = validate_object(data, cleaners, required=required)
    raise_for_errors(errors)
    return cleaned


# Field cleaners: each returns the clean value or raises FieldError ---------------------------


def has_control_characters(value: str) -> bool:
    # Control characters and lone surrogates break logs, CSV exports and the database drivers
    # (PostgreSQL refuses NUL in text).
    return any(unicodedata.category(char) in ("Cc", "Cs") for char in value)


def clean_text(value: Any, max_length: int) -> str:
    if not isinstance(value, str):
        raise FieldError("Must be a string.")
    if has_control_characters(value):
        raise FieldError("Must not contain control characters.")
    value = value.strip()
    if not value:
        raise FieldError("Must not be blank.")
    if len(value) > max_length:
        raise FieldError(f"Must be at most {max_length} characters (it has {len(value)}).")
    return value


def clean_name(value: Any) -> str:
    return clean_text(value, NAME_MAX_LENGTH)


def clean_phone(value: Any) -> str:
    if not isinstance(value, str) or not PHONE_RE.fullmatch(value):
        raise FieldError(
            "Must be an E.164 phone number: + then country code and number, e.g. +14155550100."
        )
    return value


def clean_email(value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or len(value) > EMAIL_MAX_LENGTH:
        raise FieldError(f"Must be an email address of at most {EMAIL_MAX_LENGTH} characters.")
    try:
        EmailValidator()(value)
    except ValidationError:
        raise FieldError("Must be a valid email address, e.g. ada@example.com.") from None
    return value


def clean_id(value: Any) -> int:
    # bool is an int in Python; `true` is not an id.
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ID:
        raise FieldError("Must be the integer id of a resource in your account.")
    return value


def clean_optional_id(value: Any) -> int | None:
    return None if value is None else clean_id(value)


def clean_campaign_status(value: Any) -> str:
    if value not in Campaign.Status.values:
        raise FieldError(f"Must be one of {', '.join(Campaign.Status.values)}.")
    return value


def clean_webhook_url(value: Any) -> str:
    if not isinstance(value, str) or len(value) > URL_MAX_LENGTH:
        raise FieldError(f"Must be an https URL of at most {URL_MAX_LENGTH} characters.")
    if has_control_characters(value):  # URLValidator lets them through in the path
        raise FieldError("Must not contain control characters.")
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
