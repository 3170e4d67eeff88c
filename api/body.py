"""Reading request bodies: JSON only, size-limited before reading, validated by a pydantic schema,
with errors a developer can act on."""

from __future__ import annotations

import types
import typing
from typing import Any, Generic, TypeVar

from django.http import HttpRequest
from pydantic import Tag, TypeAdapter, ValidationError
from pydantic_core import ErrorDetails
from typing_extensions import is_typeddict

from api.errors import ApiError, ErrorCode

# 1 MiB: a 1,000-contact import is about 150 KB; anything much larger is a mistake or an attack.
MAX_BODY_BYTES = 1024 * 1024

FieldErrors = dict[str, list[str]]
Body = TypeVar("Body")

# What read_limited_body and parse_body can answer, for the operations that read a body.
LIMITED_BODY_ERRORS = (
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
    ErrorCode.BAD_REQUEST,
    ErrorCode.PAYLOAD_TOO_LARGE,
)
BODY_ERRORS = (*LIMITED_BODY_ERRORS, ErrorCode.INVALID_JSON, ErrorCode.VALIDATION_ERROR)
# pydantic's wording for its own checks, where a schema gives none of its own.
MESSAGES = {
    "missing": "This field is required.",
    "string_type": "Must be a string.",
    "dict_type": "Send a JSON object.",
}


class BodySchema(Generic[Body]):
    """A body's declared type and the pydantic validator built for it, once.

    parse_body reads the type to name a bad field by its path as clients see it.
    """

    def __init__(self, body_type: Any) -> None:
        self.type = body_type
        self.adapter: TypeAdapter[Body] = TypeAdapter(body_type)


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


def parse_body(request: HttpRequest, schema: BodySchema[Body], *, size_hint: str = "") -> Body:
    """Return the request's body validated by `schema`, or raise ApiError (400, 413 or 415).

    Strict, from the raw bytes: JSON types must match the schema's exactly. Every bad field is
    reported at once, by path (`name`, `[3].phone`, `body` for the body itself); an error of a
    whole object may name the field it is about in its context's `field`.
    """
    body = read_limited_body(request, max_bytes=MAX_BODY_BYTES, size_hint=size_hint)
    if not body.strip():
        raise ApiError(ErrorCode.INVALID_JSON, "The body is empty; send a JSON object.")
    try:
        return schema.adapter.validate_json(body, strict=True)
    except ValidationError as error:
        errors = error.errors()
        if errors[0]["type"] == "json_invalid":
            detail = errors[0].get("ctx", {}).get("error", "")
            raise ApiError(
                ErrorCode.INVALID_JSON, f"The body is not valid JSON ({detail})."
            ) from None
        fields: FieldErrors = {}
        for item in errors:
            path, container = describe(schema, item)
            fields.setdefault(path, []).append(message(item, container))
        raise validation_error(fields) from None


def message(error: ErrorDetails, container: Any) -> str:
    """Return what the user should fix, in the schema's words where it has some."""
    kind, context = error["type"], error.get("ctx", {})
    if kind == "extra_forbidden" and container is not None:
        return f"Unknown field; the fields are {', '.join(typing.get_type_hints(container))}."
    if kind == "value_error":  # a ValueError raised by a validator: its message is for users
        return str(context["error"])
    return MESSAGES.get(kind, error["msg"])


def describe(schema: BodySchema[Any], error: ErrorDetails) -> tuple[str, Any]:
    """Return the error's path as clients see it, and the type that holds the bad field.

    Walks the schema's type along the error's location, so the tags that pick a member of a
    discriminated union stay out of the path.
    """
    node: Any = schema.type
    path, container = "", None
    location = [*error["loc"]]
    if "field" in error.get("ctx", {}):
        location.append(error["ctx"]["field"])
    for step in location:
        child, shown = member(node, step)
        if shown:
            container = unannotated(node)
            path += f"[{step}]" if isinstance(step, int) else f"{'.' if path else ''}{step}"
        node = child
    return path or "body", container


def member(node: Any, step: str | int) -> tuple[Any, bool]:
    """Return the type at `step` inside `node`, and whether the step is part of the path."""
    node = unannotated(node)
    if typing.get_origin(node) in (typing.Union, types.UnionType):
        for option in typing.get_args(node):
            metadata = getattr(option, "__metadata__", ())
            if any(isinstance(item, Tag) and item.tag == step for item in metadata):
                return option, False
    if is_typeddict(node):
        return typing.get_type_hints(node, include_extras=True).get(str(step)), True
    if typing.get_origin(node) is list:
        return typing.get_args(node)[0], True
    return None, True


def unannotated(node: Any) -> Any:
    while typing.get_origin(node) is typing.Annotated:
        node = node.__origin__
    return node


def raise_for_errors(errors: FieldErrors) -> None:
    """Raise the validation_error naming every field in `errors`, if there is any."""
    if errors:
        raise validation_error(errors)


def validation_error(errors: FieldErrors) -> ApiError:
    count = len(errors)
    return ApiError(
        ErrorCode.VALIDATION_ERROR,
        f"{count} field{'s are' if count > 1 else ' is'} not valid: {', '.join(errors)}.",
        fields=errors,
    )
