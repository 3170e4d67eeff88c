"""The OpenAPI 3.1 document served at /api/v1/openapi.json, generated on first request.

Paths come from the URLconf (api.urls) and each handler's declarations (api.routes: Access and
Operation), schemas from the pydantic types those declare, the error catalogue from ErrorCode.
Only prose is written by hand (api/openapi/prose.py).
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from django.http import HttpRequest, HttpResponse

from api.openapi import prose
from api.openapi.components import Schemas, error_catalogue
from api.openapi.paths import paths
from api.routes import api_route, operation, public


@cache
def openapi_document() -> dict[str, Any]:
    """Return the document (built once per process: the URLconf does not change)."""
    from api import urls  # here, not at import time: api.urls imports this module

    schemas = Schemas()
    tags: list[str] = []
    document_paths = paths(urls.urlpatterns, schemas, tags)
    schemas.error()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": prose.TITLE,
            "version": prose.VERSION,
            "description": f"{prose.INTRO}\n\n**Error codes.**\n\n{error_catalogue()}",
        },
        "servers": [{"url": prose.SERVER}],
        "security": [{"bearerAuth": []}],
        "tags": [
            {
                "name": tag,
                **(
                    {"description": prose.TAG_DESCRIPTIONS[tag]}
                    if tag in prose.TAG_DESCRIPTIONS
                    else {}
                ),
            }
            for tag in tags
        ],
        "paths": document_paths,
        "components": {
            "securitySchemes": {"bearerAuth": prose.BEARER_SCHEME},
            "schemas": dict(sorted(schemas.named.items())),
        },
    }


@cache
def openapi_json() -> bytes:
    return json.dumps(openapi_document(), indent=2, ensure_ascii=False).encode()


@operation("This document: OpenAPI 3.1.", tag="Service")
@public
def get_open_api(request: HttpRequest) -> HttpResponse:
    return HttpResponse(openapi_json(), content_type="application/json")


document = api_route(GET=get_open_api)
