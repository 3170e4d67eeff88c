"""A client generated from the served OpenAPI document drives every operation in it.

openapi-python-client turns /api/v1/openapi.json, as the running server serves it, into a Python
package. Every operation in the document is then called through that package against
`live_server`, once with a live key and once with a test key (all scopes): each must answer its
documented success status with a body that the generated model parses back unchanged. The
operations come from the document, so a new one is driven without a change here; one that needs a
request body or header this module does not know fails, naming what to add.
"""

from __future__ import annotations

import base64
import datetime as dt
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.models import Membership
from apikeys.keys import key_digest
from apikeys.models import ApiKey
from apikeys.scopes import SCOPE_NAMES
from tests.support.api import make_key

pytest.importorskip(
    "openapi_python_client",
    reason="openapi-python-client is not installed: pip install -e '.[dev]'",
)
httpx = pytest.importorskip("httpx", reason="httpx (openapi-python-client's) is not installed")

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "voxpria_client"
# The generator would run ruff over its output; this test only imports it.
GENERATOR_CONFIG = "post_hooks: []\n"
HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Creates first, so that reads, updates and deletes have ids to use; deletes last.
METHOD_ORDER = {"post": 0, "put": 2, "patch": 2, "delete": 3}

# What each operation with a request body sends, by operationId (JSON, before the generated
# model takes it). `LEAKED` stands for a key made to be reported.
LEAKED = "<leaked key>"
BODIES: dict[str, Any] = {
    "createCall": {"phone": "+14155550100"},
    "createCampaign": {"name": "Spring follow-ups"},
    "updateCampaign": {"status": "active"},
    "createContacts": {"name": "Ada Lovelace", "phone": "+14155550101"},
    "updateContact": {"name": "Ada L."},
    "createWebhook": {"url": "https://example.com/hook", "events": ["call.completed"]},
    "updateWebhook": {"events": ["call.completed", "call.failed"]},
    "reportLeakedTokens": [{"token": LEAKED, "type": "voxpria_api_key", "source": "content"}],
}
# The scanner that signs leaked-key reports (its public key is configured for the test).
SCANNER = ec.generate_private_key(ec.SECP256R1())
SCANNER_KEY_ID = "scanner-key-1"
SIGNATURE_HEADER = "Github-Public-Key-Signature"
# Header parameters, by name. The signature is made by `sign_reports` from the bytes sent.
HEADERS = {"Github-Public-Key-Identifier": SCANNER_KEY_ID, SIGNATURE_HEADER: "signed when sent"}


@dataclass(frozen=True, slots=True)
class Generated:
    document: dict[str, Any]
    base_url: str
    package: types.ModuleType
    operations: dict[str, types.ModuleType]


def squashed(name: str) -> str:
    return name.replace("_", "").replace("-", "").lower()


@pytest.fixture(scope="module")
def generated(live_server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Generated]:  # noqa: ANN001
    """Generate the client from the served document and import it."""
    document_response = httpx.get(f"{live_server.url}/api/v1/openapi.json")
    assert document_response.status_code == 200
    directory = tmp_path_factory.mktemp("openapi_client")
    (directory / "openapi.json").write_bytes(document_response.content)
    (directory / "config.yaml").write_text(GENERATOR_CONFIG)
    result = subprocess.run(
        [
            *(sys.executable, "-m", "openapi_python_client", "generate"),
            *("--path", str(directory / "openapi.json")),
            *("--output-path", str(directory / PACKAGE)),
            *("--meta", "none", "--config", str(directory / "config.yaml")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # Anything the generator had to leave out would go undriven.
    assert "Warning" not in result.stdout + result.stderr, result.stdout + result.stderr
    sys.path.insert(0, str(directory))
    try:
        package = importlib.import_module(PACKAGE)
        api = importlib.import_module(f"{PACKAGE}.api")
        operations = {
            squashed(info.name.rsplit(".", 1)[1]): importlib.import_module(info.name)
            for info in pkgutil.walk_packages(api.__path__, f"{PACKAGE}.api.")
            if not info.ispkg
        }
        document = document_response.json()
        server = document.get("servers", [{"url": "/"}])[0]["url"]
        yield Generated(document, live_server.url + server.rstrip("/"), package, operations)
    finally:
        sys.path.remove(str(directory))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


@dataclass(slots=True)
class Run:
    """One pass over the document with one key, and the ids its creates returned."""

    generated: Generated
    secret: str
    leaked: str
    livemode: bool
    ids: dict[str, int] = field(default_factory=dict)


def operations_in_order(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every operation in the document, in METHOD_ORDER."""
    operations = [
        (method, path, operation)
        for path, methods in document["paths"].items()
        for method, operation in methods.items()
        if method in HTTP_METHODS
    ]
    return sorted(operations, key=lambda item: METHOD_ORDER.get(item[0], 1))


def success(operation: dict[str, Any]) -> tuple[int, dict[str, Any] | None]:
    """The operation's documented success status and its JSON schema (None if it has none)."""
    status = min(code for code in operation["responses"] if code.startswith("2"))
    content = operation["responses"][status].get("content", {})
    return int(status), content.get("application/json", {}).get("schema")


def model_for(annotation: Any, data: Any) -> Any:
    """Turn JSON into what the generated function's `body` annotation asks for."""
    if annotation is Any:
        # A schema the generator cannot model (CallCreate's oneOf of required fields): raw JSON.
        return data
    arms = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else [annotation]
    for arm in arms:
        if typing.get_origin(arm) is list and isinstance(data, list):
            (item,) = typing.get_args(arm)
            return [item.from_dict(entry) for entry in data]
        if hasattr(arm, "from_dict") and isinstance(data, dict):
            return arm.from_dict(data)
    raise AssertionError(f"{data!r} does not fit {annotation}")


def arguments(run: Run, path: str, operation: dict[str, Any], function: Callable) -> dict:
    """The keyword arguments for the generated function: path ids, headers and the body."""
    operation_id = operation["operationId"]
    parameters = inspect.signature(function).parameters
    by_name = {squashed(name): name for name in parameters}
    kwargs: dict[str, Any] = {}
    for parameter in operation.get("parameters", []):
        name = by_name[squashed(parameter["name"])]
        if parameter["in"] == "path":
            collection = path.split("/{", 1)[0]
            assert collection in run.ids, f"{operation_id}: no create gave an id for {collection}"
            kwargs[name] = run.ids[collection]
        elif parameter["in"] == "header" and parameter.get("required"):
            assert parameter["name"] in HEADERS, (
                f"{operation_id}: add {parameter['name']} to HEADERS"
            )
            kwargs[name] = HEADERS[parameter["name"]]
        else:
            assert not parameter.get("required"), (
                f"{operation_id}: no value for {parameter['name']}"
            )
    if "body" in parameters:
        assert operation_id in BODIES, f"{operation_id}: add the body it sends to BODIES"
        body = json.loads(json.dumps(BODIES[operation_id]).replace(LEAKED, run.leaked))
        kwargs["body"] = model_for(parameters["body"].annotation, body)
    return kwargs


def plain(value: Any) -> Any:
    """JSON as values: timestamps as datetimes, so `...Z` and `...+00:00` compare equal."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, str) and len(value) >= 20 and value[4:5] == "-" and value[10:11] == "T":
        return dt.datetime.fromisoformat(value)
    return value


def dumped(parsed: Any) -> Any:
    return [item.to_dict() for item in parsed] if isinstance(parsed, list) else parsed.to_dict()


def livemodes(value: Any) -> set[bool]:
    if isinstance(value, dict):
        # A bool: the document itself has a "livemode" property too.
        found = {value["livemode"]} if isinstance(value.get("livemode"), bool) else set()
        return found.union(*(livemodes(item) for item in value.values()))
    if isinstance(value, list):
        return set().union(*(livemodes(item) for item in value))
    return set()


def drive(run: Run, method: str, path: str, operation: dict[str, Any]) -> None:
    """Call one operation through the generated client and check what came back."""
    generated = run.generated
    operation_id = operation["operationId"]
    module = generated.operations.get(squashed(operation_id))
    assert module is not None, f"{operation_id}: the generator made no function for it"
    options = {
        "base_url": generated.base_url,
        "raise_on_unexpected_status": True,
        "httpx_args": {"event_hooks": {"request": [sign_reports]}},
    }
    needs_key = operation.get("security", generated.document.get("security", []))
    client = (
        generated.package.AuthenticatedClient(token=run.secret, **options)
        if any(needs_key)
        else generated.package.Client(**options)
    )
    response = module.sync_detailed(
        client=client, **arguments(run, path, operation, module.sync_detailed)
    )
    status, schema = success(operation)
    where = f"{method.upper()} {path} ({operation_id})"
    assert response.status_code == status, f"{where}: {response.status_code} {response.content!r}"
    is_json = response.headers.get("Content-Type", "").startswith("application/json")
    raw = json.loads(response.content) if is_json else None
    if schema is None:
        # No model to parse into (the document itself, a 204): the body is what it says.
        assert response.parsed is None, where
        assert bool(response.content) == (status != 204), where
    else:
        models = importlib.import_module(f"{PACKAGE}.models")
        assert not isinstance(response.parsed, models.Error), where
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[1]
            array = generated.document["components"]["schemas"][name].get("type") == "array"
            model = list if array else getattr(models, name)
            assert isinstance(response.parsed, model), f"{where}: {response.parsed!r}"
        assert plain(dumped(response.parsed)) == plain(raw), where
    assert livemodes(raw) <= {run.livemode}, f"{where}: {raw}"
    if method == "post" and hasattr(response.parsed, "id"):
        run.ids[path] = response.parsed.id


def sign_reports(request: httpx.Request) -> None:
    # A scanner signs the exact bytes it sends, so the signature is made once they are known.
    if SIGNATURE_HEADER in request.headers:
        signature = SCANNER.sign(request.content, ec.ECDSA(hashes.SHA256()))
        request.headers[SIGNATURE_HEADER] = base64.b64encode(signature).decode()


@pytest.fixture
def scanner_keys(settings, tmp_path: Path) -> None:  # noqa: ANN001
    public_key = SCANNER.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    entry = {"key_identifier": SCANNER_KEY_ID, "key": public_key.decode(), "is_current": True}
    (tmp_path / "keys.json").write_text(json.dumps({"public_keys": [entry]}))
    settings.SECRET_SCANNING_PUBLIC_KEYS = str(tmp_path / "keys.json")


def test_the_bodies_here_are_for_operations_in_the_document(generated: Generated) -> None:
    operation_ids = {op["operationId"] for _, _, op in operations_in_order(generated.document)}
    assert set(BODIES) <= operation_ids


@pytest.mark.parametrize("environment", [ApiKey.Environment.LIVE, ApiKey.Environment.TEST])
def test_the_generated_client_drives_every_operation(
    generated: Generated, owner: Membership, scanner_keys: None, environment: str
) -> None:
    run = Run(
        generated,
        secret=make_key(owner, SCOPE_NAMES, environment),
        leaked=make_key(owner, ["calls:read"], environment),
        livemode=environment == ApiKey.Environment.LIVE,
    )
    operations = operations_in_order(generated.document)
    assert len(operations) >= 19
    for method, path, operation in operations:
        drive(run, method, path, operation)
    assert ApiKey.objects.get(key_digest=key_digest(run.leaked)).revoked_at is not None
