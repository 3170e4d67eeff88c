"""The OpenAPI 3.1 document served at /api/v1/openapi.json.

Written out by hand, next to the views it describes; tests/test_openapi.py checks it against
the URLconf (every route, method and scope) and schemathesis checks the server against it.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django.http import HttpRequest, HttpResponse

from api.body import MAX_BODY_BYTES
from api.errors import ErrorCode
from api.pagination import MAX_LIMIT
from api.routes import MAX_ID, api_route, public
from apikeys import secret_scanning
from apikeys.scopes import SCOPES
from voice.models import NAME_MAX_LENGTH, URL_MAX_LENGTH, WEBHOOK_EVENTS, Call, Campaign
from voice.schemas import EMAIL_MAX_LENGTH, MAX_IMPORT
from voice.services import CALL_COST

ERROR_CODES = [code.value for code in ErrorCode]

# Text a person typed: no control characters, and not blank.
TEXT_CHAR = r"[^\u0000-\u001f\u007f-\u009f]"
VISIBLE_CHAR = r"[^\s\u0000-\u001f\u007f-\u009f]"
NAME = {
    "type": "string",
    "minLength": 1,
    "maxLength": NAME_MAX_LENGTH,
    "pattern": f"^{TEXT_CHAR}*{VISIBLE_CHAR}{TEXT_CHAR}*$",
    "description": "Leading and trailing spaces are trimmed.",
}
PHONE = {
    "type": "string",
    "pattern": r"^\+[1-9][0-9]{1,14}$",
    "description": "E.164: + then country code and number.",
    "examples": ["+14155550100"],
}
EMAIL_INPUT = {
    "anyOf": [
        {"type": "string", "format": "email", "maxLength": EMAIL_MAX_LENGTH},
        {"type": "string", "const": ""},
        {"type": "null"},
    ],
    "description": "Empty or null for none.",
}
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
TIMESTAMP = {"type": "string", "format": "date-time"}
LIVEMODE = {
    "type": "boolean",
    "description": "true if made with a live key, false if made with a test key (test mode).",
}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def response_ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    return schema


def list_of(item: str) -> dict[str, Any]:
    return obj(
        {
            "data": {"type": "array", "items": ref(item)},
            "has_more": {"type": "boolean"},
            "next_cursor": {"type": ["string", "null"]},
        },
        ["data", "has_more", "next_cursor"],
    )


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def ok(schema_name: str, status: str = "200", description: str = "OK") -> dict[str, Any]:
    return {
        status: {
            "description": description,
            "content": {"application/json": {"schema": ref(schema_name)}},
        }
    }


PAGE_PARAMETERS = [
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"How many items per page, 1 to {MAX_LIMIT} (default 20).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
    },
    {
        "name": "cursor",
        "in": "query",
        "required": False,
        "description": (
            "The next_cursor of the previous page (opaque). Any other value is a 400 "
            "validation_error."
        ),
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,40}$"},
    },
]


def id_parameter(what: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "id",
            "in": "path",
            "required": True,
            "description": f"The {what}'s id.",
            "schema": ID,
        }
    ]


def operation(
    operation_id: str,
    summary: str,
    responses: dict[str, Any],
    *,
    scope: str | None = None,
    any_key: bool = False,
    body: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    not_found: bool = False,
    tag: str,
) -> dict[str, Any]:
    """Return an operation; key-protected ones get the error responses every such call can get."""
    result: dict[str, Any] = {"operationId": operation_id, "summary": summary, "tags": [tag]}
    if parameters:
        result["parameters"] = parameters
    if body is not None:
        result["requestBody"] = body
    responses = dict(responses)
    if scope or any_key:
        # For http schemes OpenAPI 3.1 lists "role names" here; ours are the key's scopes.
        result["security"] = [{"bearerAuth": [scope] if scope else []}]
        result["x-required-scope"] = scope
        responses["401"] = response_ref("Unauthorized")
        responses["403"] = response_ref("Forbidden")
        responses["429"] = response_ref("TooManyRequests")
        responses["503"] = response_ref("ServiceUnavailable")
    else:
        result["security"] = []
    if body is not None or parameters == PAGE_PARAMETERS:
        responses["400"] = response_ref("BadRequest")
    if body is not None:
        responses["413"] = response_ref("PayloadTooLarge")
        responses["415"] = response_ref("UnsupportedMediaType")
    if not_found:
        responses["404"] = response_ref("NotFound")
    result["responses"] = responses
    return result


def error_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": ref("Error")}},
    }
    if headers:
        response["headers"] = headers
    return response


NO_CONTENT = {"204": {"description": "Deleted."}}

SCHEMAS: dict[str, Any] = {
    "Error": obj(
        {
            "error": obj(
                {
                    "code": {"type": "string", "enum": ERROR_CODES},
                    "message": {"type": "string"},
                    "fields": {
                        "type": "object",
                        "description": "validation_error only: the messages for each bad field.",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                    "required_scope": {
                        "type": "string",
                        "description": "insufficient_scope only: the scope the key lacks.",
                    },
                },
                ["code", "message"],
            )
        },
        ["error"],
    ),
    "Health": obj(
        {
            "status": {"type": "string", "const": "ok"},
            "service": {"type": "string"},
            "version": {"type": "string"},
        },
        ["status"],
    ),
    "Ready": obj(
        {
            "status": {"type": "string", "enum": ["ok", "unavailable"]},
            "database": {"type": "string", "enum": ["ok", "unavailable"]},
            "redis": {"type": "string", "enum": ["ok", "unavailable", "not configured"]},
            "auth_cache": {
                "type": "string",
                "enum": ["on", "off", "disabled"],
                "description": "This worker's key cache: off while its listener is not in "
                "touch with the database (authentication then queries it); not a readiness "
                "condition.",
            },
        },
        ["status", "database", "redis", "auth_cache"],
    ),
    "Credits": obj(
        {
            "balance": {"type": "integer", "description": "Calling credits left."},
            "account": {"type": "string", "description": "The account's name."},
            "livemode": {
                "type": "boolean",
                "description": "true for a live key, false for a test key.",
            },
        },
        ["balance", "account", "livemode"],
    ),
    "Call": obj(
        {
            "id": ID,
            "livemode": LIVEMODE,
            "to": PHONE,
            "status": {
                "type": "string",
                "enum": Call.Status.values,
                "description": "simulated for every call made with a test key.",
            },
            "contact_id": {"type": ["integer", "null"]},
            "campaign_id": {"type": ["integer", "null"]},
            "created_at": TIMESTAMP,
        },
        ["id", "livemode", "to", "status", "contact_id", "campaign_id", "created_at"],
    ),
    "CallCreate": {
        **obj(
            {
                "contact_id": {**ID, "description": "Call this contact of yours..."},
                "phone": {**PHONE, "description": "...or this E.164 number (not both)."},
                "campaign_id": {**ID, "type": ["integer", "null"]},
            }
        ),
        "oneOf": [{"required": ["contact_id"]}, {"required": ["phone"]}],
    },
    "CallList": list_of("Call"),
    "Campaign": obj(
        {
            "id": ID,
            "livemode": LIVEMODE,
            "name": {"type": "string"},
            "status": {"type": "string", "enum": Campaign.Status.values},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
        ["id", "livemode", "name", "status", "created_at", "updated_at"],
    ),
    "CampaignCreate": obj(
        {"name": NAME, "status": {"type": "string", "enum": Campaign.Status.values}}, ["name"]
    ),
    "CampaignUpdate": obj(
        {"name": NAME, "status": {"type": "string", "enum": Campaign.Status.values}}
    ),
    "CampaignList": list_of("Campaign"),
    "Contact": obj(
        {
            "id": ID,
            "livemode": LIVEMODE,
            "name": {"type": "string"},
            "phone": PHONE,
            "email": {"type": ["string", "null"]},
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
        ["id", "livemode", "name", "phone", "email", "created_at", "updated_at"],
    ),
    "ContactCreate": obj(
        {
            "name": NAME,
            "phone": PHONE,
            "email": EMAIL_INPUT,
        },
        ["name", "phone"],
    ),
    "ContactUpdate": obj(
        {
            "name": NAME,
            "phone": PHONE,
            "email": EMAIL_INPUT,
        }
    ),
    "ContactImport": {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_IMPORT,
        "items": ref("ContactCreate"),
        "description": "All or nothing: one bad contact and none is created.",
    },
    "ContactImported": obj(
        {"data": {"type": "array", "items": ref("Contact")}},
        ["data"],
    ),
    "ContactList": list_of("Contact"),
    "Webhook": obj(
        {
            "id": ID,
            "livemode": LIVEMODE,
            "url": {"type": "string", "format": "uri"},
            "events": {"type": "array", "items": {"type": "string", "enum": list(WEBHOOK_EVENTS)}},
            "created_at": TIMESTAMP,
        },
        ["id", "livemode", "url", "events", "created_at"],
    ),
    "WebhookCreate": obj(
        {
            "url": {
                "type": "string",
                "format": "uri",
                "pattern": "^https://",
                "maxLength": URL_MAX_LENGTH,
                "description": "An https URL on a public host.",
            },
            "events": {
                "type": "array",
                "minItems": 1,
                "items": {"type": "string", "enum": list(WEBHOOK_EVENTS)},
            },
        },
        ["url", "events"],
    ),
    "WebhookList": list_of("Webhook"),
    "LeakedTokenReport": {
        "type": "array",
        "maxItems": secret_scanning.MAX_TOKENS,
        "items": {
            "type": "object",
            "properties": {
                "token": {"type": "string", "description": "The string found in public."},
                "type": {"type": "string", "description": "The token type we registered."},
                "url": {"type": "string", "description": "Where it was found."},
                "source": {"type": "string", "examples": ["content", "commit"]},
            },
            "required": ["token", "type"],
        },
        "description": (
            "GitHub's secret scanning partner format. A token reported twice is handled once."
        ),
    },
    "LeakedTokenLabels": {
        "type": "array",
        "items": obj(
            {
                "token_raw": {"type": "string"},
                "token_type": {"type": "string", "description": "The report's type, echoed."},
                "label": {
                    "type": "string",
                    "enum": ["true_positive", "false_positive"],
                    "description": (
                        "true_positive: one of our keys (now revoked, or already revoked or "
                        "expired); false_positive: not one of our keys."
                    ),
                },
            },
            ["token_raw", "token_type", "label"],
        ),
    },
}

UNAUTHORIZED_HEADER = {
    "WWW-Authenticate": {
        "description": 'Bearer realm="VoxPria API", plus error="invalid_token" if a key was sent.',
        "schema": {"type": "string"},
    }
}

RESPONSES: dict[str, Any] = {
    "BadRequest": error_response("validation_error (listing each bad field) or invalid_json."),
    "Unauthorized": error_response(
        "missing_api_key, malformed_api_key, invalid_api_key, revoked_api_key or expired_api_key.",
        UNAUTHORIZED_HEADER,
    ),
    "Forbidden": error_response(
        "account_suspended; ip_not_allowed (the key has an IP allowlist and this client's "
        "address, given as client_ip, is not on it); https_required (the request came over plain "
        "HTTP); or insufficient_scope naming the scope needed "
        '(with WWW-Authenticate: Bearer error="insufficient_scope", scope="...").'
    ),
    "TooManyRequests": error_response(
        "rate_limited: the key made more requests per second than its account allows, or this "
        "address sent too many unknown, revoked or expired keys in a minute. Retry after "
        "Retry-After seconds. Every authenticated response also carries RateLimit-Limit, "
        "RateLimit-Remaining and RateLimit-Reset.",
        {
            "Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}},
            "RateLimit-Limit": {"schema": {"type": "integer"}},
            "RateLimit-Remaining": {"schema": {"type": "integer"}},
            "RateLimit-Reset": {"schema": {"type": "integer"}},
        },
    ),
    "PaymentRequired": error_response(
        f"insufficient_credits: a live call costs {CALL_COST} credit and the account has too "
        "few. Nothing was created."
    ),
    "NotFound": error_response("No such resource in this account's live or test data."),
    "PayloadTooLarge": error_response(f"The body is larger than {MAX_BODY_BYTES} bytes."),
    "UnsupportedMediaType": error_response("The body is not JSON."),
    "ServiceUnavailable": error_response("The service is temporarily unavailable; retry."),
    "InvalidSignature": error_response(
        f"invalid_signature: the {secret_scanning.KEY_IDENTIFIER_HEADER} or "
        f"{secret_scanning.SIGNATURE_HEADER} header is missing, names an unknown key, or does not "
        "sign this body. Nothing was changed."
    ),
    "NotConfigured": error_response(
        "not_configured: this server takes no leaked-key reports (SECRET_SCANNING_PUBLIC_KEYS "
        "is empty)."
    ),
}

SCOPE_LIST = "\n".join(f"- `{scope.name}`: {scope.allows}" for scope in SCOPES)

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "VoxPria API",
        "version": "1.0.0",
        "description": (
            "Send your API key as `Authorization: Bearer <key>`. Each operation needs the scope "
            "it lists (`x-required-scope`); `/credits` works with any valid key. Scopes:\n\n"
            f"{SCOPE_LIST}\n\nErrors are always JSON: "
            '`{"error": {"code": "...", "message": "..."}}`. Unknown paths are a 404 and '
            "wrong methods a 405 with an `Allow` header, both in the same shape.\n\n"
            "**Test mode.** Keys are live (`vxp_live_`) or test (`vxp_test_`). Test mode is a "
            "separate world: what a test key creates only test keys see, and live keys never "
            "see it (nor test keys live objects). Every object says which world it is in with "
            "`livemode`, as does `/credits` for the key. A test key's calls are `simulated`: "
            f"nobody is dialled and they spend no credits. A live call spends {CALL_COST} "
            "credit; with too few, it is a 402 `insufficient_credits` and nothing is created."
        ),
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "tags": [
        {"name": name}
        for name in (
            "Service",
            "Credits",
            "Calls",
            "Campaigns",
            "Contacts",
            "Webhooks",
            "Secret scanning",
        )
    ],
    "paths": {
        "/health": {
            "get": operation(
                "getHealth",
                "Is the process up? (Liveness: no database query.)",
                ok("Health"),
                tag="Service",
            )
        },
        "/health/ready": {
            "get": operation(
                "getReady",
                "Can this server answer API requests? It runs the key lookup and pings Redis; "
                "503 names what failed. For load balancers' routing decisions.",
                {
                    **ok("Ready"),
                    **ok("Ready", "503", "The database or Redis is unavailable; retry."),
                },
                tag="Service",
            )
        },
        "/openapi.json": {
            "get": operation(
                "getOpenApi",
                "This document.",
                {"200": {"description": "OpenAPI 3.1", "content": {"application/json": {}}}},
                tag="Service",
            )
        },
        "/credits": {
            "get": operation(
                "getCredits",
                "The account's credit balance (any valid key).",
                ok("Credits"),
                any_key=True,
                tag="Credits",
            )
        },
        "/calls": {
            "get": operation(
                "listCalls",
                "List calls, newest first.",
                ok("CallList"),
                scope="calls:read",
                parameters=PAGE_PARAMETERS,
                tag="Calls",
            ),
            "post": operation(
                "createCall",
                "Queue a call to a contact or an E.164 number, optionally in a campaign "
                f"(live: {CALL_COST} credit; test: simulated, free).",
                {
                    **ok("Call", "201", "Queued (live key) or simulated (test key)."),
                    "402": response_ref("PaymentRequired"),
                },
                scope="calls:write",
                body=json_body(ref("CallCreate")),
                tag="Calls",
            ),
        },
        "/campaigns": {
            "get": operation(
                "listCampaigns",
                "List campaigns, newest first.",
                ok("CampaignList"),
                scope="campaigns:read",
                parameters=PAGE_PARAMETERS,
                tag="Campaigns",
            ),
            "post": operation(
                "createCampaign",
                "Create a campaign.",
                ok("Campaign", "201", "Created."),
                scope="campaigns:write",
                body=json_body(ref("CampaignCreate")),
                tag="Campaigns",
            ),
        },
        "/campaigns/{id}": {
            "get": operation(
                "getCampaign",
                "Get a campaign.",
                ok("Campaign"),
                scope="campaigns:read",
                parameters=id_parameter("campaign"),
                not_found=True,
                tag="Campaigns",
            ),
            "patch": operation(
                "updateCampaign",
                "Change a campaign's name or status.",
                ok("Campaign"),
                scope="campaigns:write",
                parameters=id_parameter("campaign"),
                body=json_body(ref("CampaignUpdate")),
                not_found=True,
                tag="Campaigns",
            ),
        },
        "/contacts": {
            "get": operation(
                "listContacts",
                "List contacts, newest first.",
                ok("ContactList"),
                scope="contacts:read",
                parameters=PAGE_PARAMETERS,
                tag="Contacts",
            ),
            "post": operation(
                "createContacts",
                f"Create one contact, or import a list of up to {MAX_IMPORT} (all or nothing).",
                {
                    "201": {
                        "description": "Created: the contact, or {data: [...]} for a list.",
                        "content": {
                            "application/json": {
                                "schema": {"oneOf": [ref("Contact"), ref("ContactImported")]}
                            }
                        },
                    }
                },
                scope="contacts:write",
                body=json_body({"oneOf": [ref("ContactCreate"), ref("ContactImport")]}),
                tag="Contacts",
            ),
        },
        "/contacts/{id}": {
            "get": operation(
                "getContact",
                "Get a contact.",
                ok("Contact"),
                scope="contacts:read",
                parameters=id_parameter("contact"),
                not_found=True,
                tag="Contacts",
            ),
            "patch": operation(
                "updateContact",
                "Change a contact.",
                ok("Contact"),
                scope="contacts:write",
                parameters=id_parameter("contact"),
                body=json_body(ref("ContactUpdate")),
                not_found=True,
                tag="Contacts",
            ),
            "delete": operation(
                "deleteContact",
                "Delete a contact (its calls keep their number).",
                NO_CONTENT,
                scope="contacts:write",
                parameters=id_parameter("contact"),
                not_found=True,
                tag="Contacts",
            ),
        },
        "/webhooks": {
            "get": operation(
                "listWebhooks",
                "List webhooks, newest first.",
                ok("WebhookList"),
                scope="webhooks:manage",
                parameters=PAGE_PARAMETERS,
                tag="Webhooks",
            ),
            "post": operation(
                "createWebhook",
                "Send the account's events to an https URL.",
                ok("Webhook", "201", "Created."),
                scope="webhooks:manage",
                body=json_body(ref("WebhookCreate")),
                tag="Webhooks",
            ),
        },
        "/webhooks/{id}": {
            "delete": operation(
                "deleteWebhook",
                "Remove a webhook.",
                NO_CONTENT,
                scope="webhooks:manage",
                parameters=id_parameter("webhook"),
                not_found=True,
                tag="Webhooks",
            )
        },
        "/secret-scanning/reports": {
            "post": operation(
                "reportLeakedTokens",
                "For secret scanners (GitHub's partner program): report tokens found in public. "
                "Every active key among them is revoked at once and its account told; the answer "
                "labels each token. Signed, not authenticated with a key.",
                {
                    **ok("LeakedTokenLabels", description="One label per distinct token."),
                    "401": response_ref("InvalidSignature"),
                    "404": response_ref("NotConfigured"),
                    "503": {
                        **response_ref("ServiceUnavailable"),
                        "description": "The public keys could not be fetched; retry later.",
                    },
                },
                parameters=[
                    {
                        "name": secret_scanning.KEY_IDENTIFIER_HEADER,
                        "in": "header",
                        "required": True,
                        "description": "The key_identifier of the public key that signed the body.",
                        "schema": {"type": "string"},
                    },
                    {
                        "name": secret_scanning.SIGNATURE_HEADER,
                        "in": "header",
                        "required": True,
                        "description": (
                            "Base64 of the DER ECDSA signature (SHA-256) of the raw body, "
                            f"at most {secret_scanning.MAX_BODY_BYTES} bytes."
                        ),
                        "schema": {"type": "string"},
                    },
                ],
                body=json_body(ref("LeakedTokenReport")),
                tag="Secret scanning",
            )
        },
    },
    "components": {
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": "vxp_live_ or vxp_test_, then 38 characters",
                "description": "An API key from Settings → API Keys.",
            }
        },
        "schemas": SCHEMAS,
        "responses": RESPONSES,
    },
}


@cache
def openapi_json() -> bytes:
    return json.dumps(DOCUMENT, indent=2, ensure_ascii=False).encode()


@public
def get_document(request: HttpRequest) -> HttpResponse:
    return HttpResponse(openapi_json(), content_type="application/json")


document = api_route(GET=get_document)
