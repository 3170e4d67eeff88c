"""The OpenAPI document's prose: what no declaration can say. Everything else is generated."""

from __future__ import annotations

from typing import Any

from api.errors import REALM, ErrorCode
from apikeys.scopes import SCOPES
from voice.services import CALL_COST, SIMULATED_FAILURE_NUMBER

TITLE = "VoxPria API"
VERSION = "1.0.0"
SERVER = "/api/v1"

SCOPE_LIST = "\n".join(f"- `{scope.name}`: {scope.allows}" for scope in SCOPES)
INTRO = (
    "Send your API key as `Authorization: Bearer <key>`. Each operation needs the scope it "
    "lists (`x-required-scope`); `/credits` works with any valid key. Scopes:\n\n"
    f"{SCOPE_LIST}\n\nErrors are always JSON: "
    '`{"error": {"code": "...", "message": "..."}}`. Unknown paths are a 404 and wrong '
    "methods a 405 with an `Allow` header, both in the same shape. A `validation_error` lists "
    "every bad field at once in `fields`, by path (`name`, `[3].phone`, `body`).\n\n"
    "**Test mode.** Keys are live (`vxp_live_`) or test (`vxp_test_`). Test mode is a separate "
    "world: what a test key creates only test keys see, and live keys never see it (nor test "
    "keys live objects). Every object says which world it is in with `livemode`, as does "
    "`/credits` for the key. A test key's calls are simulated: nobody is dialled, they "
    "spend no credits, and each is `queued`, then `completed` seconds later (with its "
    f"`call.completed` webhook event; a test call to {SIMULATED_FAILURE_NUMBER} ends "
    "`failed` instead, with `call.failed`). Live calls stay `queued` until a telephony "
    f"provider dials them. A live call spends {CALL_COST} credit; with too few, it is a 402 "
    "`insufficient_credits` and nothing is created.\n\n"
    "**Rate limits.** Every authenticated response carries `RateLimit-Limit`, "
    "`RateLimit-Remaining` and `RateLimit-Reset`."
)
BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "vxp_live_ or vxp_test_, then 38 characters",
    "description": "An API key from Settings → API Keys.",
}
TAG_DESCRIPTIONS = {
    "Service": "Health, readiness and this document: no key needed.",
    "Secret scanning": "For secret scanners: signed by the scanner, not authenticated by a key.",
}

SCOPE_SENTENCES = {
    "public": "No API key needed.",
    "key": "Any valid API key.",
    "scope": "Needs an API key with the `{scope}` scope.",
}

RETRY_AFTER = {"description": "Seconds to wait before retrying.", "schema": {"type": "integer"}}
WWW_AUTHENTICATE = {
    "description": f'Bearer realm="{REALM}", plus error="invalid_token" if a key was sent, or '
    'error="insufficient_scope", scope="..." naming the scope needed.',
    "schema": {"type": "string"},
}
# The headers an error answer comes with, by code.
ERROR_HEADERS: dict[ErrorCode, dict[str, Any]] = {
    **{
        code: {"WWW-Authenticate": WWW_AUTHENTICATE}
        for code in ErrorCode
        if code.status == 401 and code != ErrorCode.INVALID_SIGNATURE
    },
    ErrorCode.INSUFFICIENT_SCOPE: {"WWW-Authenticate": WWW_AUTHENTICATE},
    ErrorCode.RATE_LIMITED: {
        "Retry-After": RETRY_AFTER,
        "RateLimit-Limit": {"schema": {"type": "integer"}},
        "RateLimit-Remaining": {"schema": {"type": "integer"}},
        "RateLimit-Reset": {"schema": {"type": "integer"}},
    },
    ErrorCode.SERVICE_UNAVAILABLE: {"Retry-After": RETRY_AFTER},
}
SUCCESS = {
    200: "OK.",
    201: "Created.",
    202: "Accepted: queued, and done in the background.",
    204: "Done; no content.",
}
