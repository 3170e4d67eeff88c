"""The one list envelope: {"data": [...], "has_more": bool, "next_cursor": str | null}.

Cursors are opaque to clients (base64 of the last id seen) so the ordering can change later
without breaking them; lists are newest first.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Generic, TypeVar

from django.db.models import Model, QuerySet
from django.http import HttpRequest, JsonResponse
from pydantic import ConfigDict, with_config
from typing_extensions import TypedDict

from api.body import FieldErrors, raise_for_errors
from api.errors import ErrorCode
from api.routes import MAX_ID

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
CURSOR_RE = re.compile(r"[A-Za-z0-9_-]{1,40}")
DECODED_CURSOR_RE = re.compile(r"id:([1-9][0-9]{0,18})")
# A bad limit or cursor, or an unknown query parameter.
PAGE_ERRORS = (ErrorCode.VALIDATION_ERROR,)
PAGE_PARAMETERS = (
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": f"How many items per page, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
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
        "schema": {"type": "string", "pattern": f"^{CURSOR_RE.pattern}$"},
    },
)
Row = TypeVar("Row", bound=Model)
Item = TypeVar("Item")


@with_config(ConfigDict(extra="forbid"))
class Page(TypedDict, Generic[Item]):
    data: list[Item]
    has_more: bool
    next_cursor: str | None


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"id:{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int | None:
    """Return the id a cursor points after, or None if it is not one of ours."""
    if not CURSOR_RE.fullmatch(cursor):
        return None
    try:
        decoded = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    match = DECODED_CURSOR_RE.fullmatch(decoded)
    if match is None or int(match[1]) > MAX_ID:
        return None
    return int(match[1])


def paginate(
    request: HttpRequest, queryset: QuerySet[Row], serialize: Callable[[Row], Item]
) -> JsonResponse:
    """Return one page of `queryset`, newest first, as the list envelope."""
    errors: FieldErrors = {}
    # Strict, like unknown body fields: a typo such as ?limt=5 should not pass silently.
    for name in request.GET:
        if name not in ("limit", "cursor"):
            errors[name] = ["Unknown query parameter; lists take limit and cursor."]
    limit = DEFAULT_LIMIT
    raw_limit = request.GET.get("limit")
    if raw_limit is not None:
        if re.fullmatch(r"[0-9]{1,3}", raw_limit) and 1 <= int(raw_limit) <= MAX_LIMIT:
            limit = int(raw_limit)
        else:
            errors["limit"] = [f"Must be a whole number from 1 to {MAX_LIMIT}."]
    after_id = None
    raw_cursor = request.GET.get("cursor")
    if raw_cursor is not None:
        after_id = decode_cursor(raw_cursor)
        if after_id is None:
            errors["cursor"] = ["Not a valid cursor; pass next_cursor from the previous page."]
    raise_for_errors(errors)
    if after_id is not None:
        queryset = queryset.filter(pk__lt=after_id)
    rows = list(queryset.order_by("-pk")[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    page: Page[Item] = {
        "data": [serialize(row) for row in rows],
        "has_more": has_more,
        "next_cursor": encode_cursor(rows[-1].pk) if has_more else None,
    }
    return JsonResponse(page)
