"""Verify it works: every snippet the reveal offers makes the same request, and the ones this
machine can run return the balance (tests/e2e/test_reveal.py drives the tabs)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from accounts.models import Membership
from apikeys.services import create_key
from apikeys.verify import VERIFY_PATH, verify_snippets

URL = "https://app.voxpria.com/api/v1/credits"
SECRET = "vxp_live_" + "A" * 38
RUNNERS = {
    "curl": ["bash", "-c"],
    "python": [sys.executable, "-c"],
    "node": ["node", "-e"],
}


def snippet(slug: str, url: str = URL, secret: str = SECRET) -> str:
    return next(s.code for s in verify_snippets(url, secret) if s.slug == slug)


def test_four_snippets_in_the_reveals_order() -> None:
    assert [(s.slug, s.label) for s in verify_snippets(URL, SECRET)] == [
        ("curl", "curl"),
        ("python", "Python"),
        ("node", "Node"),
        ("php", "PHP"),
    ]
    assert VERIFY_PATH == "/api/v1/credits"


def test_curl_is_the_guides_command() -> None:
    assert snippet("curl") == (
        'curl -X GET "https://app.voxpria.com/api/v1/credits" \\\n'
        f'  -H "Authorization: Bearer {SECRET}" \\\n'
        '  -H "Content-Type: application/json"'
    )


def test_php_uses_wordpress_http_api() -> None:
    code = snippet("php")
    assert code.startswith(f"$response = wp_remote_get( '{URL}', array(")
    assert f"'headers' => array( 'Authorization' => 'Bearer {SECRET}' )," in code
    assert "wp_remote_retrieve_body( $response )" in code


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("slug", list(RUNNERS))
def test_the_snippet_returns_the_balance(live_server, owner: Membership, slug: str) -> None:  # noqa: ANN001
    if shutil.which(RUNNERS[slug][0]) is None:
        pytest.skip(f"{RUNNERS[slug][0]} is not installed")
    secret = create_key(
        account=owner.account, user=owner.user, name="Verify", scopes=["calls:read"]
    ).secret
    code = snippet(slug, f"{live_server.url}{VERIFY_PATH}", secret)
    if slug == "curl":
        code += " --silent --show-error"
    output = subprocess.run(
        [*RUNNERS[slug], code], check=True, capture_output=True, text=True, timeout=30
    ).stdout
    if slug == "curl":
        assert json.loads(output) == {"balance": 5000, "account": "Acme Voice", "livemode": True}
    else:
        # Python and Node print the status, then the body (Node's console.log inspects it).
        status, _, body = output.strip().partition(" ")
        assert status == "200"
        assert "5000" in body and "Acme Voice" in body
