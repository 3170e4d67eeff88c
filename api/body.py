"""Reading request bodies: JSON only, size-limited before reading, errors a developer can act on."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest

from api.errors import ApiError, ErrorCode

# 1 MiB: a 1,000-contact import is about 150 KB; anything much larger is a mistake or an attack.
MAX_BODY_BYTES = 1024 * 1024

FieldErrors = dict[str, list[str]]


def read_limited_body(request: HttpRequest, *, max_bytes: int, size_hint: str = "") -> bytes:
    """Return the request's body if it is JSON and at most `max_bytes`, else raise ApiError.

    The declared length is checked before the body is read, so a huge upload is refused unread.
    """
    content_type = request.content_type or ""
    if content_type and content_type != "application/json" and not content_type.endswith("+json"):
        raise ApiError(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"Send the body as JSON with `Content-Type: application/json`, not {content_type}.",
        )
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    if length < 0:
        raise ApiError(ErrorCode.BAD_REQUEST, "The Content-Length header is not a valid number.")
    if length > max_bytes:
        raise ApiError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"The body is {length} bytes; the limit is {max_bytes} bytes. {size_hint}".strip(),
        )
    return request.body


def read_json(request: HttpRequest, *, size_hint: str = "") -> Any:
    """Return the request's JSON body, or raise ApiError (400, 413 or 415)."""
    body = read_limited_body(request, max_bytes=MAX_BODY_BYTES, size_hint=size_hint)
    if not body.strip():
        raise ApiError(ErrorCode.INVALID_JSON, "The body is empty; send a JSON object.")
    try:
        return json.loads(body)
    # RecursionError: deeply nested arrays exhaust the parser's stack.
    except (ValueError, RecursionError) as error:
        detail = f" ({error})" if isinstance(error, json.JSONDecodeError) else ""
        raise ApiError(ErrorCode.INVALID_JSON, f"The body is not valid JSON{detail}.") from None


def raise_for_errors(errors: FieldErrors) -> None:
    """Raise the validation_error naming every field in `errors`, if there is any."""
    if errors:
        count = len(errors)
        raise ApiError(
            ErrorCode.VALIDATION_ERROR,
            f"{count} field{'s are' if count > 1 else ' is'} not valid: {', '.join(errors)}.",
            fields=errors,
        )
