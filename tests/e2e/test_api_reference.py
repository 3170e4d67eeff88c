"""The API reference (/api/v1/docs) renders the served document in Chromium, under the CSP.

The autouse `no_csp_violations` fixture already fails on a CSP console message; these tests also
listen for securitypolicyviolation events and fail on any console error at all.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from django.test import Client
from playwright.sync_api import Locator, Page, expect

from api.errors import ErrorCode

# Runs before the page's own scripts (Playwright injects it past the CSP).
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""
ERROR_CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")


@pytest.fixture
def document() -> dict:
    return json.loads(Client().get("/api/v1/openapi.json").content)


@pytest.fixture
def console_errors(page: Page) -> Iterator[list[str]]:
    errors: list[str] = []
    page.on("console", lambda message: message.type == "error" and errors.append(message.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.add_init_script(RECORD_VIOLATIONS)
    yield errors
    assert page.evaluate("window.cspViolations") == []
    assert errors == []


def requirement(operation: dict) -> str:
    """What the page says an operation needs (static/js/api-docs.js)."""
    if operation.get("x-required-scope"):
        return f"Scope: {operation['x-required-scope']}"
    if any(operation.get("security", [])):
        return "Any valid API key"
    return "No API key"


def error_codes(document: dict, response: dict) -> set[str]:
    """The error codes a response names in its description."""
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return set(ERROR_CODE.findall(response.get("description", ""))) & set(ErrorCode)


def summary_button(page: Page, method: str, path: str) -> Locator:
    # Swagger UI shows paths relative to the server (/api/v1); `\/` keeps Playwright's regex whole.
    escaped = re.escape(path).replace("/", r"\/")
    return page.get_by_role("button", name=re.compile(rf"^{method.upper()}\s*{escaped}\s"))


def test_credits_shows_the_key_it_needs_and_its_error_codes(
    page: Page,
    live_server,  # noqa: ANN001
    document: dict,
    console_errors: list[str],
) -> None:
    page.goto(f"{live_server.url}/api/v1/docs")
    credits = document["paths"]["/credits"]["get"]
    summary = summary_button(page, "get", "/credits")
    expect(summary).to_contain_text(requirement(credits))
    expect(summary).to_contain_text(credits["summary"])

    summary.click()
    operation = page.locator(".opblock").filter(has=summary)
    named = set()
    for status, response in credits["responses"].items():
        row = operation.get_by_role("row").filter(
            has=page.get_by_role("cell", name=status, exact=True)
        )
        expect(row).to_be_visible()
        for code in error_codes(document, response):
            expect(row).to_contain_text(code)
            named.add(code)
    assert {"missing_api_key", "invalid_api_key", "rate_limited"} <= named
    # Swagger UI puts "No parameters" in a wrapper of the same class, after the description.
    expect(operation.locator(".opblock-description-wrapper").first).to_contain_text(
        credits["description"]
    )


def test_every_operation_shows_what_it_needs(
    page: Page,
    live_server,  # noqa: ANN001
    document: dict,
    console_errors: list[str],
) -> None:
    page.goto(f"{live_server.url}/api/v1/docs")
    operations = [
        (method, path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
    ]
    assert any(operation.get("x-required-scope") for _, _, operation in operations)
    for method, path, operation in operations:
        expect(summary_button(page, method, path)).to_contain_text(requirement(operation))
