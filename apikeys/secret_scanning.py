"""Leaked-key reports from secret scanners, in GitHub's secret scanning partner format.

A scanner that finds strings matching our key pattern in public POSTs them here, signed with
ECDSA. We check the signature against the public keys the operator configured
(SECRET_SCANNING_PUBLIC_KEYS), revoke every active key among the tokens at once, and answer
whether each token was one of ours. README.md, "Leaked-key reports", describes the set-up.

The endpoint is public, so it must hold up under junk: everything that can be checked without
the scanner's public keys (the address's throttle, the headers, the body) is checked before
they are fetched; one request at a time fetches them (the others answer 503 at once rather than
wait), with a short timeout; a failed fetch is remembered for a while; and a copy is refreshed
in the background before it expires, so a report never waits for the fetch in normal running.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import urllib.request
from base64 import b64decode
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Literal, NotRequired
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from api.body import LIMITED_BODY_ERRORS, read_limited_body
from api.errors import ApiError, ErrorCode, api_error, rate_limited
from api.routes import api_route, operation, public
from apikeys.auth import ratelimit
from apikeys.keys import is_well_formed, key_digest
from apikeys.models import ApiKey
from apikeys.services import revoke_leaked_key
from voxkeys.safetext import unsafe_character

logger = logging.getLogger(__name__)

KEY_IDENTIFIER_HEADER = "Github-Public-Key-Identifier"
SIGNATURE_HEADER = "Github-Public-Key-Signature"
MAX_BODY_BYTES = 1024 * 1024
MAX_TOKENS = 1000
# Cut before they reach the activity log and the email; the token itself is never cut.
URL_MAX_LENGTH = 2000
SOURCE_MAX_LENGTH = 100
# The longest a worker waits for the key document (per socket operation): the one request that
# fetches it holds its worker that long at most, and only when no copy is fresh.
FETCH_TIMEOUT_SECONDS = 2
MAX_KEYS_DOCUMENT_BYTES = 64 * 1024
# Scanners list a new key before they sign with it, so an hour-old copy still verifies reports.
KEYS_CACHE_TTL = timedelta(hours=1)
# A copy this old is refreshed in the background by the next report, which still uses it.
KEYS_REFRESH_AFTER = timedelta(minutes=50)
# After a failed fetch, reports answer 503 at once for this long instead of trying again.
FAILED_FETCH_TTL = timedelta(seconds=30)
# GitHub's identifiers are 64 hex digits; anything far from a short token is not one.
KEY_IDENTIFIER = re.compile(r"[A-Za-z0-9._:-]{1,200}")
# A DER ECDSA signature is about 70 (P-256) to 140 (P-521) bytes.
MAX_SIGNATURE_BYTES = 256
REPORT_URL_SCHEMES = frozenset({"http", "https"})

PublicKeys = dict[str, ec.EllipticCurvePublicKey]


class PublicKeysUnavailable(Exception):
    """The configured public keys could not be read, fetched or understood (or are being
    fetched by another request); `retry_after` is when to ask again, in seconds."""

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = retry_after


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


@dataclass(slots=True)
class _Copy:
    keys: PublicKeys
    fetched_at: datetime


class FetchedPublicKeys:
    """The public keys fetched from an https URL, per process: single flight, failures
    remembered for FAILED_FETCH_TTL, refreshed in the background before KEYS_CACHE_TTL.

    Allowed to be lost: the worst a cold process costs is one fetch.
    """

    def __init__(self) -> None:
        self._fetching = threading.Lock()  # held by the one request (or thread) fetching
        self._copies: dict[str, _Copy] = {}
        self._failed: dict[str, datetime] = {}  # url -> when the last fetch failed
        # The background refresh in progress, if any (tests wait for it).
        self.refresh: threading.Thread | None = None

    def get(self, url: str) -> PublicKeys:
        now = timezone.now()
        copy = self._copies.get(url)
        failure_wait = self._failure_wait(url, now)
        if copy is not None and now - copy.fetched_at < KEYS_CACHE_TTL:
            if now - copy.fetched_at >= KEYS_REFRESH_AFTER and failure_wait is None:
                self._refresh_in_background(url)
            return copy.keys
        if failure_wait is not None:
            raise PublicKeysUnavailable("The last fetch failed moments ago.", failure_wait)
        if not self._fetching.acquire(blocking=False):
            raise PublicKeysUnavailable("Another request is fetching them.", retry_after=5)
        try:
            return self._fetch(url)
        finally:
            self._fetching.release()

    def _failure_wait(self, url: str, now: datetime) -> int | None:
        """Return the seconds until the URL may be fetched again after a failure, or None."""
        failed_at = self._failed.get(url)
        if failed_at is None or now - failed_at >= FAILED_FETCH_TTL:
            return None
        return max(1, round((FAILED_FETCH_TTL - (now - failed_at)).total_seconds()))

    def _fetch(self, url: str) -> PublicKeys:
        """Fetch and keep the keys (the caller holds the fetching lock)."""
        try:
            keys = fetch_public_keys(url)
        except PublicKeysUnavailable as error:
            self._failed[url] = timezone.now()
            # One line per failed fetch (at most one per FAILED_FETCH_TTL), not per report.
            logger.warning(
                "Leaked-key reports: the scanner's public keys are unavailable: %s", error
            )
            raise
        self._copies[url] = _Copy(keys, timezone.now())
        self._failed.pop(url, None)
        return keys

    def _refresh_in_background(self, url: str) -> None:
        if not self._fetching.acquire(blocking=False):
            return  # already being fetched

        def refresh() -> None:
            try:
                self._fetch(url)
            except PublicKeysUnavailable:
                pass  # logged; the current copy serves until it expires
            finally:
                self._fetching.release()

        self.refresh = threading.Thread(target=refresh, name="secret-scanning-keys", daemon=True)
        self.refresh.start()


fetched_public_keys = FetchedPublicKeys()


def public_keys() -> PublicKeys:
    """Return the scanner's public keys by identifier, from SECRET_SCANNING_PUBLIC_KEYS.

    An https URL is fetched at most about once per KEYS_REFRESH_AFTER (FetchedPublicKeys); a
    file is read on every report, so an operator's edit counts at once.
    """
    source = settings.SECRET_SCANNING_PUBLIC_KEYS
    if source.startswith("https://"):
        return fetched_public_keys.get(source)
    if "://" in source:
        raise PublicKeysUnavailable(f"{source} is neither an https URL nor a file path")
    try:
        document = Path(source).read_bytes()
    except OSError as error:
        raise PublicKeysUnavailable(f"Could not read {source}: {error}") from error
    return parse_public_keys(document)


def signature_bytes(signature: str) -> bytes | None:
    """Return the signature header decoded from base64, or None if it cannot be a signature."""
    try:
        decoded = b64decode(signature, validate=True)
    except ValueError:  # binascii.Error is one
        return None
    return decoded if 0 < len(decoded) <= MAX_SIGNATURE_BYTES else None


def signature_is_valid(
    body: bytes, key_identifier: str, signature: bytes, keys: PublicKeys
) -> bool:
    """Return whether `signature` (DER ECDSA, SHA-256) signs `body` with that key."""
    key = keys.get(key_identifier)
    if key is None:
        return False
    try:
        key.verify(signature, body, ec.ECDSA(hashes.SHA256()))
    except (ValueError, InvalidSignature):
        return False
    return True


def clean_text(text: str, max_length: int) -> str:
    """Return `text` without the characters no stored text may hold (NUL, CR/LF and the other
    controls, invisible ones), cut to `max_length`: it reaches the activity log and email."""
    if text.isprintable():
        return text[:max_length]
    return "".join(char for char in text if unsafe_character(char) is None)[:max_length]


def clean_url(url: str) -> str:
    """Return the report's URL cleaned, or "" unless it is an http(s) URL."""
    url = clean_text(url, URL_MAX_LENGTH)
    try:
        parts = urlsplit(url)
    except ValueError:
        return ""
    return url if parts.scheme.lower() in REPORT_URL_SCHEMES and parts.netloc else ""


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
    `url` and `source` are cleaned (clean_url, clean_text), never refused: a leaked key is
    revoked whatever its report says about where it was found.
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
                url=clean_url(item.get("url", "")),
                source=clean_text(item.get("source", ""), SOURCE_MAX_LENGTH),
            ),
        )
    return list(tokens.values())


def handle_report(tokens: list[ReportedToken]) -> list[dict[str, str]] | None:
    """Revoke every active key among `tokens`; return the scanner's label for each token, or
    None if a revocation failed (the others are done; the scanner's retry finishes the job).

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
    failed = False
    for reported in tokens:
        key = keys.get(digests.get(reported.token, ""))
        # Each key in its own transaction: one that fails leaves the others revoked, and a
        # report resent after a failure finds them already revoked, and answers the same.
        if key is not None and key.is_active:
            try:
                # Atomic itself: a failure rolls back this key's revocation and nothing else.
                revoke_leaked_key(key=key, url=reported.url, source=reported.source)
            except DatabaseError:
                logger.exception(
                    "Could not revoke leaked API key %s; the scanner will retry.", key.pk
                )
                failed = True
                continue
            logger.warning("Revoked API key %s: found in public at %r.", key.pk, reported.url)
        labels.append(
            {
                "token_raw": reported.token,
                "token_type": reported.token_type,
                "label": "false_positive" if key is None else "true_positive",
            }
        )
    return None if failed else labels


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
        ErrorCode.RATE_LIMITED,
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
    # An address that keeps sending unsigned or mis-signed reports, as for unknown keys.
    wait = ratelimit.limits.auth_failures_retry_after(request, digest=None)
    if wait is not None:
        return rate_limited(wait, f"Too many refused reports from this address. Retry in {wait} s.")
    try:
        key_identifier, signature, tokens = check_report(request, body)
    except ApiError:
        ratelimit.limits.record_auth_failure(request, digest=None)
        raise
    try:
        keys = public_keys()
    except PublicKeysUnavailable as error:
        return api_error(
            ErrorCode.SERVICE_UNAVAILABLE,
            "The public keys to check the report's signature are unavailable; retry later.",
            headers={"Retry-After": str(error.retry_after)},
        )
    if not signature_is_valid(body, key_identifier, signature, keys):
        ratelimit.limits.record_auth_failure(request, digest=None)
        raise ApiError(
            ErrorCode.INVALID_SIGNATURE,
            f"The signature does not verify with the public key {KEY_IDENTIFIER_HEADER} names.",
        )
    labels = handle_report(tokens)
    if labels is None:
        return api_error(
            ErrorCode.SERVICE_UNAVAILABLE,
            "Some of the reported keys could not be revoked just now; send the report again.",
            headers={"Retry-After": "5"},
        )
    return JsonResponse(labels, safe=False)


def check_report(request: HttpRequest, body: bytes) -> tuple[str, bytes, list[ReportedToken]]:
    """Return the report's key identifier, signature and tokens, checked as far as they can be
    without the public keys; raise ApiError otherwise."""
    key_identifier = request.headers.get(KEY_IDENTIFIER_HEADER, "")
    signature = signature_bytes(request.headers.get(SIGNATURE_HEADER, ""))
    if not key_identifier or signature is None:
        raise ApiError(
            ErrorCode.INVALID_SIGNATURE,
            f"Sign the report: send the {KEY_IDENTIFIER_HEADER} and {SIGNATURE_HEADER} headers "
            "(the signature in base64).",
        )
    if not KEY_IDENTIFIER.fullmatch(key_identifier):
        raise ApiError(
            ErrorCode.INVALID_SIGNATURE,
            f"The {KEY_IDENTIFIER_HEADER} header is not a public key identifier.",
        )
    # A 404, not a 503: nothing to retry until an operator opts in.
    if not settings.SECRET_SCANNING_PUBLIC_KEYS:
        raise ApiError(
            ErrorCode.NOT_CONFIGURED,
            "This server does not take leaked-key reports (not configured).",
        )
    try:
        tokens = parse_report(body)
    except ValueError as error:
        raise ApiError(ErrorCode.BAD_REQUEST, str(error)) from None
    return key_identifier, signature, tokens


reports = api_route(POST=post_report)
