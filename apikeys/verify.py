"""Step 6 of the guide, "Verify it works": one request, GET /api/v1/credits with the new key as
a Bearer token, written for each tool the reveal offers: the guide's curl command, Python
(`requests`), Node (`fetch`) and PHP for WordPress (`wp_remote_get`).

The URL comes from `request.build_absolute_uri`, whose host Django has checked against
ALLOWED_HOSTS, and the key is base62: neither can break out of the quoted strings below.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.views.decorators.debug import sensitive_variables

# The endpoint belongs to the API; any key may call it, whatever its scopes.
VERIFY_PATH = "/api/v1/credits"


@dataclass(frozen=True)
class VerifySnippet:
    slug: str
    label: str
    code: str
    how_to_run: str
    # What its Copy button says: the guide calls curl's a command.
    copy_label: str = "Copy code"
    copied_label: str = "Code copied"


@sensitive_variables("secret")
def verify_snippets(url: str, secret: str) -> list[VerifySnippet]:
    """Return the Verify it works snippets for `url` (the credits endpoint) and the new key."""
    return [
        VerifySnippet(
            slug="curl",
            label="curl",
            code=(
                f'curl -X GET "{url}" \\\n'
                f'  -H "Authorization: Bearer {secret}" \\\n'
                '  -H "Content-Type: application/json"'
            ),
            how_to_run="Run this command in a terminal: it asks the API for your credit balance "
            "with the new key.",
            copy_label="Copy command",
            copied_label="Command copied",
        ),
        VerifySnippet(
            slug="python",
            label="Python",
            code=(
                "import requests\n"
                "\n"
                "response = requests.get(\n"
                f'    "{url}",\n'
                f'    headers={{"Authorization": "Bearer {secret}"}},\n'
                "    timeout=10,\n"
                ")\n"
                "print(response.status_code, response.json())"
            ),
            how_to_run="Needs the requests package (pip install requests). It prints 200 and "
            "your credit balance.",
        ),
        VerifySnippet(
            slug="node",
            label="Node",
            code=(
                f'fetch("{url}", {{\n'
                f'  headers: {{ Authorization: "Bearer {secret}" }},\n'
                "})\n"
                "  .then(async (response) => console.log(response.status, await response.json()));"
            ),
            how_to_run="Node.js 18 or later, where fetch is built in. It prints 200 and your "
            "credit balance.",
        ),
        VerifySnippet(
            slug="php",
            label="PHP",
            code=(
                f"$response = wp_remote_get( '{url}', array(\n"
                f"    'headers' => array( 'Authorization' => 'Bearer {secret}' ),\n"
                ") );\n"
                "echo wp_remote_retrieve_response_code( $response ), ' ', "
                "wp_remote_retrieve_body( $response );"
            ),
            how_to_run="For WordPress integrations: wp_remote_get is WordPress's HTTP API, so "
            "this runs in a plugin or theme. It prints 200 and your credit balance.",
        ),
    ]
