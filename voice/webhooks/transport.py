"""POST one delivery to a receiver, and only to an address checked at this moment.

The URL is read by voice.validation.webhook_target (urllib3's parser, as at save), its host is
resolved now, every address it resolves to must pass the save-time rules, and the connection
goes to the checked address itself: the Host header and TLS (SNI and certificate) use the
name. So a name whose DNS answer changes after it was saved (rebinding) cannot send a
delivery inside our network. No redirect is followed, the whole exchange has a time limit,
and at most RESPONSE_MAX_BYTES of the answer are read.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from django.conf import settings
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3.exceptions import HTTPError

from voice import validation
from voice.validation import FieldError, WebhookTarget

RESPONSE_MAX_BYTES = 64 * 1024
USER_AGENT = "VoxPria-Webhooks/1"


@dataclass(frozen=True, slots=True)
class PostResult:
    """What one POST came to: a status code and answer, or why there is none."""

    status_code: int | None
    body: bytes
    retry_after: str | None  # the Retry-After header, as sent
    error: str
    duration_ms: int


def post(*, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
    """POST `body` to `url` with `headers`; never raises for what the network or receiver does."""
    started = time.monotonic()

    def refused(error: str) -> PostResult:
        elapsed = round((time.monotonic() - started) * 1000)
        return PostResult(None, b"", None, error[:200], elapsed)

    try:
        target = validation.webhook_target(url)
    except FieldError as error:
        return refused(f"Refused URL: {error}")
    address, refusal = checked_address(target)
    if address is None:
        return refused(refusal)
    pool = connection_pool(target, address)
    try:
        response = pool.urlopen(
            "POST",
            target.request_target,
            body=body,
            headers={
                **headers,
                "Host": target.host_header,
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
            },
            redirect=False,
            retries=False,
            preload_content=False,
            timeout=Timeout(total=settings.WEBHOOK_TIMEOUT_SECONDS),
        )
        try:
            answer = response.read(RESPONSE_MAX_BYTES)
        finally:
            response.close()
    except (HTTPError, OSError) as error:
        return refused(describe(error))
    finally:
        pool.close()
    elapsed = round((time.monotonic() - started) * 1000)
    return PostResult(response.status, answer, response.headers.get("Retry-After"), "", elapsed)


def checked_address(target: WebhookTarget) -> tuple[str | None, str]:
    """The address to connect to, or None and why there is none."""
    if target.literal is not None:
        addresses = [target.literal]
    else:
        try:
            addresses = validation.resolve_addresses(target.host, target.port)
        except (OSError, UnicodeError):
            return None, f"Could not resolve {target.host}."
        if not addresses:
            return None, f"Could not resolve {target.host}."
    for address in addresses:
        refusal = validation.address_refusal(target, address)
        if refusal:
            # Every address, as at save: which one a client picks is not ours to decide. The
            # address itself is not told: it could map out names only our network resolves.
            named = " The host name resolves to such an address." if target.literal is None else ""
            return None, f"Refused: {refusal}{named}"
    return str(addresses[0]), ""


def connection_pool(target: WebhookTarget, address: str) -> HTTPConnectionPool:
    if target.scheme == "http":
        return HTTPConnectionPool(address, target.port, maxsize=1)
    server_name = None if target.literal is not None else target.host
    return HTTPSConnectionPool(
        address,
        target.port,
        maxsize=1,
        cert_reqs="CERT_REQUIRED",
        server_hostname=server_name,
        assert_hostname=target.host,
    )


def describe(error: Exception) -> str:
    """A line for the delivery log: what went wrong, without a traceback."""
    name = type(error).__name__
    if "Timeout" in name:
        return f"No answer within {settings.WEBHOOK_TIMEOUT_SECONDS} s."
    reason = getattr(error, "reason", None) or error
    return f"{name}: {reason}"[:200]
