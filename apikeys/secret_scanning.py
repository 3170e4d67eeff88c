"""Leaked-key reports from secret scanners, in GitHub's secret scanning partner format.

A scanner that finds strings matching our key pattern in public POSTs them here, signed with
ECDSA. We check the signature against the public keys the operator configured
(SECRET_SCANNING_PUBLIC_KEYS), revoke every active key among the tokens at once, and answer
whether each token was one of ours. README.md, "Leaked-key reports", describes the set-up.
"""

from __future__ import annotations

import http.client
import json
import logging
import urllib.request
from base64 import b64decode
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal, NotRequired

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from api.body import LIMITED_BODY_ERRORS, read_limited_body
from api.errors import ApiError, ErrorCode, api_error
from api.routes import api_route, operation, public
from apikeys.keys import is_well_formed, key_digest
from apikeys.models import ApiKey
from apikeys.services import revoke_leaked_key

logger = logging.getLogger(__name__)

KEY_IDENTIFIER_HEADER = "Github-Public-Key-Identifier"
SIGNATURE_HEADER = "Github-Public-Key-Signature"
MAX_BODY_BYTES = 1024 * 1024
MAX_TOKENS = 1000
# Cut before they reach the activity log and the email; the token itself is never cut.
URL_MAX_LENGTH = 2000
SOURCE_MAX_LENGTH = 100
# A sync worker waits this long at most for the key document, once per KEYS_CACHE_TTL.
FETCH_TIMEOUT_SECONDS = 5
MAX_KEYS_DOCUMENT_BYTES = 64 * 1024
# Scanners list a new key before they sign with it, so an hour-old copy still verifies reports.
KEYS_CACHE_TTL = timedelta(hours=1)

PublicKeys = dict[str, ec.EllipticCurvePublicKey]

# Fetched key documents by URL, with when they were fetched. Per process, and allowed to be
# lost: the worst a cold cache costs is one fetch.
_fetched: dict[str, tuple[datetime, PublicKeys]] = {}


class PublicKeysUnavailable(Exception):
    """The configured public keys could not be read, fetched or understood."""


def parse_public_keys(document: bytes) -> PublicKeys:
    """Return the ECDSA keys of a `{"public_keys": [{"key_identifier", "key"}]}` document."""
    try:
        keys = {}
        for entry in json.loads(document)["public_keys"]:
            key = load_pem_public_key(entry["key"].encode())
            if not isinstance(key, ec.EllipticCurvePublicKey):
                raise ValueError(f"{entry['key_identifier']} is not an ECDSA key")
            keys[str(entry["key_identifier"])] = key
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise PublicKeysUnavailable(
            f"Not a secret-scanning public-keys document: {error}"
        ) from error
    return keys


def fetch_public_keys(url: str) -> PublicKeys:
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_SECONDS) as response:
            # urllib follows redirects, including to plain http, where anyone could swap the keys.
            if not response.url.startswith("https://"):
                raise PublicKeysUnavailable(f"{url} redirected to {response.url}, not https")
            document = response.read(MAX_KEYS_DOCUMENT_BYTES + 1)
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise PublicKeysUnavailable(f"Could not fetch {url}: {error}") from error
    if len(document) > MAX_KEYS_DOCUMENT_BYTES:
        raise PublicKeysUnavailable(f"{url} is larger than {MAX_KEYS_DOCUMENT_BYTES} bytes")
    return parse_public_keys(document)


def public_keys() -> PublicKeys:
    """Return the scanner's public keys by identifier, from SECRET_SCANNING_PUBLIC_KEYS.

    An https URL is fetched at most once per KEYS_CACHE_TTL; a file is read on every report,
    so an operator's edit counts at once.
    """
    source = settings.SECRET_SCANNING_PUBLIC_KEYS
    if source.startswith("https://"):
        now = timezone.now()
        cached = _fetched.get(source)
        if cached is not None and now - cached[0] < KEYS_CACHE_TTL:
            return cached[1]
        keys = fetch_public_keys(source)
        _fetched[source] = (now, keys)
        return keys
    if "://" in source:
        raise PublicKeysUnavailable(f"{source} is neither an https URL nor a file path")
    try:
        document = Path(source).read_bytes()
    except OSError as error:
        raise PublicKeysUnavailable(f"Could not read {source}: {error}") from error
    return parse_public_keys(document)


def signature_is_valid(body: bytes, key_identifier: str, signature: str, keys: PublicKeys) -> bool:
    """Return whether `signature` (base64 DER ECDSA, SHA-256) signs `body` with that key."""
    key = keys.get(key_identifier)
    if key is None:
        return False
    try:
        key.verify(b64decode(signature, validate=True), body, ec.ECDSA(hashes.SHA256()))
    # ValueError: not base64 (binascii.Error is one), or not even ASCII.
    except (ValueError, InvalidSignature):
        return False
    return True


@dataclass(frozen=True)
class ReportedToken:
    token: str
    token_type: str
    url: str
    source: str


def parse_report(body: bytes) -> list[ReportedToken]:
    """Return the report's distinct tokens in order; raise ValueError if it is not the format.

    The format is a list of `{"token", "type", "url", "source"}`; a token reported twice is
    handled once, with its first URL. Unknown fields are ignored, so a scanner may add some.
    """
    try:
        items = json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError("The body is not valid JSON.") from None
    if not isinstance(items, list) or len(items) > MAX_TOKENS:
        raise ValueError(f"Send a JSON list of at most {MAX_TOKENS} reported tokens.")
    tokens: dict[str, ReportedToken] = {}
    for index, item in enumerate(items):
        if not (
            isinstance(item, dict)
            and isinstance(item.get("token"), str)
            and isinstance(item.get("type"), str)
            and isinstance(item.get("url", ""), str)
            and isinstance(item.get("source", ""), str)
        ):
            raise ValueError(
                f"Item {index} is not an object with string fields token and type "
                "(and optionally url and source)."
            )
        tokens.setdefault(
            item["token"],
            ReportedToken(
                token=item["token"],
                token_type=item["type"],
                url=item.get("url", "")[:URL_MAX_LENGTH],
                source=item.get("source", "")[:SOURCE_MAX_LENGTH],
            ),
        )
    return list(tokens.values())


def handle_report(tokens: list[ReportedToken]) -> list[dict[str, str]]:
    """Revoke every active key among `tokens`; return the scanner's label for each token.

    A token that is one of our keys is a true positive whatever its state: the scanner asks
    whether it found a real secret, not whether the secret still worked. Anything else
    (malformed, or no such key) is a false positive. The answer says nothing more.
    """
    digests = {
        reported.token: key_digest(reported.token)
        for reported in tokens
        if is_well_formed(reported.token)
    }
    keys = {key.key_digest: key for key in ApiKey.objects.filter(key_digest__in=digests.values())}
    labels = []
    for reported in tokens:
        key = keys.get(digests.get(reported.token, ""))
        # Each key in its own transaction: a report resent after a failure finds the keys
        # already revoked, and answers the same.
        if key is not None and key.is_active:
            revoke_leaked_key(key=key, url=reported.url, source=reported.source)
            logger.warning("Revoked API key %s: found in public at %s.", key.pk, reported.url)
        labels.append(
            {
                "token_raw": reported.token,
                "token_type": reported.token_type,
                "label": "false_positive" if key is None else "true_positive",
            }
        )
    return labels


def read_body(request: HttpRequest) -> bytes:
    return read_limited_body(
        request, max_bytes=MAX_BODY_BYTES, size_hint=f"Send at most {MAX_TOKENS} tokens."
    )


# The format, for the OpenAPI document; parse_report reads it leniently (see its docstring).
@with_config(ConfigDict(extra="allow"))
class LeakedToken(TypedDict):
    token: Annotated[str, Field(description="The string found in public.")]
    type: Annotated[str, Field(description="The token type we registered.")]
    url: NotRequired[Annotated[str, Field(description="Where it was found.")]]
    source: NotRequired[Annotated[str, Field(examples=["content", "commit"])]]


@with_config(ConfigDict(extra="forbid"))
class LeakedTokenLabel(TypedDict):
    token_raw: str
    token_type: Annotated[str, Field(description="The report's type, echoed.")]
    label: Annotated[
        Literal["true_positive", "false_positive"],
        Field(
            description="true_positive: one of our keys (now revoked, or already revoked or "
            "expired); false_positive: not one of our keys."
        ),
    ]


LeakedTokenReport = Annotated[
    list[LeakedToken], Field(max_length=MAX_TOKENS, title="LeakedTokenReport")
]


@operation(
    "For secret scanners (GitHub's partner program): report tokens found in public.",
    operation_id="reportLeakedTokens",
    description="Every active key among them is revoked at once and its account told; the "
    "answer labels each distinct token (a token reported twice is handled once). Signed by "
    "the scanner, not authenticated with a key.",
    request=LeakedTokenReport,
    response=list[LeakedTokenLabel],
    errors=[
        *LIMITED_BODY_ERRORS,
        ErrorCode.INVALID_SIGNATURE,
        ErrorCode.NOT_CONFIGURED,
        ErrorCode.SERVICE_UNAVAILABLE,
    ],
    parameters=[
        {
            "name": KEY_IDENTIFIER_HEADER,
            "in": "header",
            "required": True,
            "description": "The key_identifier of the public key that signed the body.",
            "schema": {"type": "string"},
        },
        {
            "name": SIGNATURE_HEADER,
            "in": "header",
            "required": True,
            "description": "Base64 of the DER ECDSA signature (SHA-256) of the raw body, at "
            f"most {MAX_BODY_BYTES} bytes.",
            "schema": {"type": "string"},
        },
    ],
)
@public
def post_report(request: HttpRequest) -> HttpResponse:
    """Check a scanner's signed report of leaked tokens, revoke ours, and label each token."""
    body = read_body(request)
    key_identifier = request.headers.get(KEY_IDENTIFIER_HEADER, "")
    signature = request.headers.get(SIGNATURE_HEADER, "")
    if not key_identifier or not signature:
        raise ApiError(
            ErrorCode.INVALID_SIGNATURE,
            f"Sign the report: send the {KEY_IDENTIFIER_HEADER} and {SIGNATURE_HEADER} headers.",
        )
    # A 404, not a 503: nothing to retry until an operator opts in.
    if not settings.SECRET_SCANNING_PUBLIC_KEYS:
        raise ApiError(
            ErrorCode.NOT_CONFIGURED,
            "This server does not take leaked-key reports (not configured).",
        )
    try:
        keys = public_keys()
    except PublicKeysUnavailable:
        logger.exception("Leaked-key report refused: the scanner's public keys are unavailable.")
        return api_error(
            ErrorCode.SERVICE_UNAVAILABLE,
            "The public keys to check the report's signature are unavailable; retry later.",
            headers={"Retry-After": "60"},
        )
    if not signature_is_valid(body, key_identifier, signature, keys):
        raise ApiError(
            ErrorCode.INVALID_SIGNATURE,
            f"The signature does not verify with the public key {KEY_IDENTIFIER_HEADER} names.",
        )
    try:
        tokens = parse_report(body)
    except ValueError as error:
        raise ApiError(ErrorCode.BAD_REQUEST, str(error)) from None
    return JsonResponse(handle_report(tokens), safe=False)


reports = api_route(POST=post_report)
