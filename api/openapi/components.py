"""components.schemas, generated from the types the operations declare (pydantic schemas)."""

from __future__ import annotations

import re
import typing
from typing import Any

from pydantic import TypeAdapter

from api.body import BodySchema
from api.errors import Error, ErrorCode
from api.pagination import Page

REF = "#/components/schemas/{model}"
COMPONENT_NAME = re.compile(r"[A-Za-z0-9._-]+")


class Schemas:
    """The document's named schemas, collected as operations refer to them."""

    def __init__(self) -> None:
        self.named: dict[str, Any] = {}

    def schema(self, declared: Any) -> dict[str, Any]:
        """Return the JSON schema of `declared`: a $ref if it is named, the schema if not.

        Named schemas (a TypedDict's, a list envelope's, one given a title) and the definitions
        they use are hoisted into components.schemas.
        """
        if isinstance(declared, BodySchema):
            declared = declared.type
        adapter = TypeAdapter(declared)
        schema = adapter.json_schema(ref_template=REF)
        self.hoist(schema.pop("$defs", {}))
        if typing.get_origin(declared) is Page:  # a list envelope: ContactList, CallList, ...
            (item,) = typing.get_args(declared)
            schema["title"] = f"{item.__name__}List"
        title = schema.get("title")
        if isinstance(title, str) and COMPONENT_NAME.fullmatch(title):
            self.hoist({title: schema})
            return {"$ref": REF.format(model=title)}
        return schema

    def hoist(self, definitions: dict[str, Any]) -> None:
        for name, schema in definitions.items():
            if self.named.setdefault(name, schema) != schema:
                raise ValueError(f"Two different schemas are both named {name}.")

    def error(self) -> dict[str, Any]:
        """The error envelope, with the catalogue of codes in its ErrorCode schema."""
        reference = self.schema(Error)
        self.named["ErrorCode"] = error_code_schema()
        return reference


def error_code_schema() -> dict[str, Any]:
    return {
        "type": "string",
        "title": "ErrorCode",
        "description": "Every code the API answers with; x-enum-statuses and "
        "x-enum-descriptions give each one's HTTP status and meaning.",
        "enum": [code.value for code in ErrorCode],
        "x-enum-statuses": [code.status for code in ErrorCode],
        "x-enum-descriptions": [code.meaning for code in ErrorCode],
    }


def error_catalogue() -> str:
    """Every ErrorCode as a Markdown table, for the document's introduction."""
    rows = [f"| `{code.value}` | {code.status} | {cell(code.meaning)} |" for code in ErrorCode]
    return "\n".join(["| Code | Status | Meaning |", "| --- | --- | --- |", *rows])


def cell(text: str) -> str:
    return text.replace("|", "\\|")
