"""Leaked-key reports: a signed report revokes our active keys at once and labels each token;
anything unsigned, mis-signed or malformed changes nothing."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID
from django.core.mail import EmailMessage
from django.db import DataError
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from accounts.models import Account, Membership
from activity.models import ActivityEvent
from apikeys import secret_scanning
from apikeys.auth import ratelimit
from apikeys.keys import LIVE_PREFIX, generate_key
from apikeys.models import ApiKey
from apikeys.services import CreatedKey, create_key, revoke_key, revoke_leaked_key, roll_key
from tests.support.api import api_client
from tests.support.clock import FakeClock

pytestmark = pytest.mark.django_db

ENDPOINT = "/api/v1/secret-scanning/reports"
KEY_ID_HEADER = "Github-Public-Key-Identifier"
SIGNATURE_HEADER = "Github-Public-Key-Signature"
KEY_ID = "90a421169f0a406205f1563a953312f0be898d3c7b6c06b681aa86a874555f4a"
NEXT_KEY_ID = "bcb53661c06b4728e59d897fb6165d5c9cda0fd9cdf9d09ead458168deb7518c"
TOKEN_TYPE = "voxpria_api_key"
FOUND_AT = "https://github.com/octo-org/octo-repo/blob/4b825dc/deploy/settings.py"
# The scanner's signing key, the one it rotates to, and someone else's.
SCANNER = ec.generate_private_key(ec.SECP256R1())
NEXT_SCANNER = ec.generate_private_key(ec.SECP256R1())
IMPOSTOR = ec.generate_private_key(ec.SECP256R1())


def public_pem(private_key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey) -> str:
    return (
        private_key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def keys_document(*keys: tuple[str, Any]) -> bytes:
    """The scanner's published keys, as GitHub serves them; the first one is current."""
    entries = [
        {"key_identifier": key_id, "key": public_pem(key), "is_current": index == 0}
        for index, (key_id, key) in enumerate(keys)
    ]
    return json.dumps({"public_keys": entries}).encode()


def sign(body: bytes, private_key: ec.EllipticCurvePrivateKey = SCANNER) -> str:
    return base64.b64encode(private_key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


def signed(
    body: bytes, key_id: str = KEY_ID, private_key: ec.EllipticCurvePrivateKey = SCANNER
) -> dict[str, str]:
    return {KEY_ID_HEADER: key_id, SIGNATURE_HEADER: sign(body, private_key)}


def report(*tokens: str, url: str = FOUND_AT) -> bytes:
    return json.dumps(
        [{"token": token, "type": TOKEN_TYPE, "url": url, "source": "content"} for token in tokens]
    ).encode()


def post(body: bytes, headers: dict[str, str] | None = None, **kwargs: Any) -> HttpResponse:
    """Send a report as the scanner does; signed with SCANNER unless `headers` say otherwise."""
    kwargs.setdefault("content_type", "application/json")
    return Client().post(
        ENDPOINT, body, headers=signed(body) if headers is None else headers, **kwargs
    )


def labels(response: HttpResponse) -> list[tuple[str, str]]:
    return [(item["token_raw"], item["label"]) for item in response.json()]


def state() -> tuple[list[tuple[Any, ...]], int]:
    """Everything a report may change: each key's revocation, and the activity log."""
    keys = list(ApiKey.objects.order_by("pk").values_list("pk", "revoked_at", "revoked_by"))
    return keys, ActivityEvent.objects.count()


def make_key(owner: Membership, environment: str = ApiKey.Environment.LIVE) -> CreatedKey:
    return create_key(
        account=owner.account,
        user=owner.user,
        name=f"{environment} server {ApiKey.objects.count()}",
        scopes=["calls:read"],
        environment=environment,
    )


def assert_no_secret(message: EmailMessage, secret: str) -> None:
    # The masked form shows 4 characters at each end; no 8 characters in a row may appear.
    text = message.subject + message.body
    body = secret[len(LIVE_PREFIX) :]
    for start in range(len(body) - 7):
        assert body[start : start + 8] not in text


@pytest.fixture(autouse=True)
def fetched_keys(monkeypatch: pytest.MonkeyPatch) -> secret_scanning.FetchedPublicKeys:
    fetched = secret_scanning.FetchedPublicKeys()
    monkeypatch.setattr(secret_scanning, "fetched_public_keys", fetched)
    return fetched


@pytest.fixture
def keys_file(tmp_path: Path, settings: Any) -> Path:
    path = tmp_path / "secret-scanning-keys.json"
    path.write_bytes(keys_document((KEY_ID, SCANNER), (NEXT_KEY_ID, NEXT_SCANNER)))
    settings.SECRET_SCANNING_PUBLIC_KEYS = str(path)
    return path


@pytest.fixture
def live_key(owner: Membership) -> CreatedKey:
    return make_key(owner)


# A valid report -------------------------------------------------------------------------------


def test_a_signed_report_revokes_live_and_test_keys_and_tells_owners_and_admins(
    owner: Membership,
    admin_member: Membership,
    member: Membership,
    keys_file: Path,
    django_capture_on_commit_callbacks: Callable[..., Any],
    mailoutbox: list[EmailMessage],
) -> None:
    live, test = make_key(owner), make_key(owner, ApiKey.Environment.TEST)
    mailoutbox.clear()  # the creations'

    with django_capture_on_commit_callbacks(execute=True):
        response = post(report(live.secret, test.secret))

    assert response.status_code == 200
    assert response.json() == [
        {"token_raw": live.secret, "token_type": TOKEN_TYPE, "label": "true_positive"},
        {"token_raw": test.secret, "token_type": TOKEN_TYPE, "label": "true_positive"},
    ]
    for created in (live, test):
        key = ApiKey.objects.get(pk=created.api_key.pk)
        assert key.is_revoked
        assert key.revoked_by is None
        assert [event.event_type for event in ActivityEvent.objects.for_key(key)] == [
            "leaked",
            "created",
        ]
        leaked = ActivityEvent.objects.get(api_key=key, event_type=ActivityEvent.Type.LEAKED)
        assert leaked.details == {"url": FOUND_AT, "source": "content"}
        assert leaked.actor_label == "system"
        refused = api_client(created.secret).get("/api/v1/credits")
        assert refused.json()["error"]["code"] == "revoked_api_key"

    # One message per owner or admin per key; the member gets none.
    assert sorted(message.to for message in mailoutbox) == [
        ["admin@acme.test"],
        ["admin@acme.test"],
        ["owner@acme.test"],
        ["owner@acme.test"],
    ]
    for message in mailoutbox:
        created = live if live.api_key.masked_key in message.body else test
        assert message.subject == (
            f"[VoxPria] API key “{created.api_key.name}” in Acme Voice was found in public "
            "and revoked"
        )
        assert "was found in public and was revoked automatically" in message.body
        assert f"{FOUND_AT} (source: content)" in message.body
        assert "Create a new key" in message.body
        assert "rotate it in wherever this key was deployed" in message.body
        for secret in (live.secret, test.secret):
            assert_no_secret(message, secret)


def test_any_listed_key_verifies_not_only_the_current_one(
    live_key: CreatedKey, keys_file: Path
) -> None:
    body = report(live_key.secret)

    response = post(body, signed(body, NEXT_KEY_ID, NEXT_SCANNER))

    assert response.status_code == 200
    assert labels(response) == [(live_key.secret, "true_positive")]


# Refused reports change nothing ---------------------------------------------------------------

Tamper = Callable[[bytes], tuple[bytes, dict[str, str]]]
REFUSALS: list[Any] = [
    pytest.param(lambda body: (body, {}), id="unsigned"),
    pytest.param(lambda body: (body, {KEY_ID_HEADER: KEY_ID}), id="no signature header"),
    pytest.param(lambda body: (body, {SIGNATURE_HEADER: sign(body)}), id="no key identifier"),
    pytest.param(lambda body: (body, signed(body, "an-unknown-key")), id="unknown key identifier"),
    pytest.param(
        lambda body: (body, signed(body, key_id=NEXT_KEY_ID)), id="another listed key named"
    ),
    pytest.param(
        lambda body: (body, signed(body, private_key=IMPOSTOR)), id="signed by a stranger"
    ),
    pytest.param(lambda body: (body, signed(b"[]")), id="signature of another body"),
    pytest.param(
        lambda body: (body, {**signed(body), SIGNATURE_HEADER: "not base64!"}), id="not base64"
    ),
    pytest.param(
        lambda body: (body.replace(b"content", b"commits"), signed(body)), id="tampered body"
    ),
]


@pytest.mark.parametrize("tamper", REFUSALS)
def test_a_report_that_is_not_signed_by_the_scanner_is_refused(
    live_key: CreatedKey, keys_file: Path, tamper: Tamper
) -> None:
    before = state()
    body, headers = tamper(report(live_key.secret))

    response = post(body, headers)

    assert response.status_code == 401
    assert response.json()["error"]["code"] == "invalid_signature"
    assert state() == before


def item(token: str, **changes: Any) -> dict[str, Any]:
    return {"token": token, "type": TOKEN_TYPE, "url": FOUND_AT, "source": "content", **changes}


# Each is signed, and reports our live key first: refusing must leave it working.
MALFORMED: list[Any] = [
    pytest.param(lambda secret: b"not json", id="not JSON"),
    pytest.param(lambda secret: json.dumps(item(secret)).encode(), id="an object, not a list"),
    pytest.param(lambda secret: json.dumps([item(secret), "junk"]).encode(), id="not an object"),
    pytest.param(
        lambda secret: json.dumps([item(secret), {"token": "vxp_live_x"}]).encode(), id="no type"
    ),
    pytest.param(
        lambda secret: json.dumps([item(secret), item(12345)]).encode(), id="token not a string"
    ),
    pytest.param(
        lambda secret: json.dumps([item(secret), item("x", url=["a"])]).encode(),
        id="url not a string",
    ),
    pytest.param(
        lambda secret: json.dumps([item(secret)] + [item(generate_key())] * 1000).encode(),
        id="over 1000 tokens",
    ),
]


@pytest.mark.parametrize("make_body", MALFORMED)
def test_a_signed_report_in_another_shape_is_refused(
    live_key: CreatedKey, keys_file: Path, make_body: Callable[[str], bytes]
) -> None:
    before = state()

    response = post(make_body(live_key.secret))

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert state() == before


def test_a_report_over_the_size_limit_is_refused_even_if_signed(
    live_key: CreatedKey, keys_file: Path
) -> None:
    body = json.dumps([item(live_key.secret, padding="x" * secret_scanning.MAX_BODY_BYTES)])
    before = state()

    response = post(body.encode())

    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert state() == before


def test_a_report_that_is_not_json_is_refused(live_key: CreatedKey, keys_file: Path) -> None:
    body = report(live_key.secret)
    before = state()

    response = post(body, content_type="text/plain")

    assert response.status_code == 415
    assert state() == before


def test_without_public_keys_configured_reports_are_not_taken(
    live_key: CreatedKey, settings: Any
) -> None:
    settings.SECRET_SCANNING_PUBLIC_KEYS = ""
    before = state()

    response = post(report(live_key.secret))

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_configured"
    assert state() == before


def test_only_post_is_allowed(keys_file: Path) -> None:
    response = Client().get(ENDPOINT)

    assert response.status_code == 405
    assert response["Allow"] == "POST"


# Labels -----------------------------------------------------------------------------------------


def test_tokens_that_are_not_our_keys_are_false_positives(
    live_key: CreatedKey, keys_file: Path
) -> None:
    well_formed_unknown = generate_key()
    bad_checksum = live_key.secret[:-1] + ("A" if live_key.secret[-1] != "A" else "B")
    others = [
        well_formed_unknown,
        bad_checksum,
        "vxp_live_tooshort",
        "ghp_0123456789abcdefghijklmnopqrstuvwxyzAB",
        "vxp_live_" + "é" * 38,
        "",
    ]
    before = state()

    response = post(report(*others))

    assert response.status_code == 200
    assert response.json() == [
        {"token_raw": token, "token_type": TOKEN_TYPE, "label": "false_positive"}
        for token in others
    ]
    assert state() == before


def test_a_key_that_already_stopped_working_is_a_true_positive_and_left_alone(
    owner: Membership, keys_file: Path
) -> None:
    revoked = make_key(owner)
    revoke_key(key=revoked.api_key, user=owner.user)
    now = timezone.now()
    with time_machine.travel(now - dt.timedelta(days=31), tick=False):
        expired = create_key(
            account=owner.account,
            user=owner.user,
            name="Old server",
            scopes=["calls:read"],
            expiration="30",
        )
    before = state()

    response = post(report(revoked.secret, expired.secret))

    assert labels(response) == [
        (revoked.secret, "true_positive"),
        (expired.secret, "true_positive"),
    ]
    assert state() == before
    assert not ActivityEvent.objects.filter(event_type=ActivityEvent.Type.LEAKED).exists()


def test_a_token_reported_twice_is_handled_once(live_key: CreatedKey, keys_file: Path) -> None:
    body = json.dumps(
        [
            item(live_key.secret),
            item(live_key.secret, url="https://gist.github.com/octocat/1"),
            item(live_key.secret),
        ]
    ).encode()

    response = post(body)

    assert labels(response) == [(live_key.secret, "true_positive")]
    event = ActivityEvent.objects.get(event_type=ActivityEvent.Type.LEAKED)
    assert event.details["url"] == FOUND_AT


def test_a_rolled_key_in_its_grace_period_and_a_suspended_accounts_key_are_revoked(
    owner: Membership, keys_file: Path
) -> None:
    rolled = make_key(owner)
    successor = roll_key(key=rolled.api_key, user=owner.user, grace=dt.timedelta(hours=1))
    suspended = make_key(owner)
    Account.objects.filter(pk=owner.account.pk).update(status=Account.Status.SUSPENDED)

    response = post(report(rolled.secret, suspended.secret))

    assert labels(response) == [
        (rolled.secret, "true_positive"),
        (suspended.secret, "true_positive"),
    ]
    assert ApiKey.objects.get(pk=rolled.api_key.pk).is_revoked
    assert ApiKey.objects.get(pk=suspended.api_key.pk).is_revoked
    # The successor was not found in public: it keeps working.
    assert not ApiKey.objects.get(pk=successor.api_key.pk).is_revoked


def test_revoke_leaked_key_leaves_a_key_that_stopped_working_meanwhile(owner: Membership) -> None:
    revoked, expiring = make_key(owner), make_key(owner)
    # The report looked the keys up; then one was revoked by its owner, and one expired.
    stale = list(ApiKey.objects.filter(pk__in=[revoked.api_key.pk, expiring.api_key.pk]))
    revoke_key(key=revoked.api_key, user=owner.user)
    ApiKey.objects.filter(pk=expiring.api_key.pk).update(expires_at=timezone.now())
    before = state()

    assert [revoke_leaked_key(key=key, url=FOUND_AT, source="content") for key in stale] == [
        False,
        False,
    ]
    assert state() == before


# Reading the database once ---------------------------------------------------------------------

# One query finds every reported key; each revocation is its own transaction (BEGIN and COMMIT),
# an UPDATE, the event's INSERT, its email job's INSERT, and whether the account has a webhook
# endpoint for its api_key.* events.
LOOKUP_QUERIES = 1
QUERIES_PER_REVOCATION = 7


def test_a_hundred_tokens_are_looked_up_in_one_query(
    owner: Membership, keys_file: Path, django_assert_max_num_queries: Callable[..., Any]
) -> None:
    active = [make_key(owner).secret for _ in range(2)]
    revoked = make_key(owner)
    revoke_key(key=revoked.api_key, user=owner.user)
    unknown = [generate_key() for _ in range(97)]
    body = report(*active, revoked.secret, *unknown)

    with django_assert_max_num_queries(LOOKUP_QUERIES + 2 * QUERIES_PER_REVOCATION):
        response = post(body)

    assert len(response.json()) == 100
    assert [label for _, label in labels(response)].count("true_positive") == 3
    assert ActivityEvent.objects.filter(event_type=ActivityEvent.Type.LEAKED).count() == 2


# Where the public keys come from ---------------------------------------------------------------


@dataclass
class KeysServer:
    """GitHub's public-keys endpoint, served from a thread on 127.0.0.1."""

    document: bytes
    status: int = 200
    location: str = ""  # sent with a redirect status
    fetches: list[str] = field(default_factory=list)
    url: str = ""


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_path, key_path = directory / "server.pem", directory / "server-key.pem"
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certificate_path, key_path


@contextmanager
def serving(served: KeysServer, certificate: tuple[Path, Path] | None) -> Iterator[KeysServer]:
    """Serve `served` over https with `certificate`, or over plain http without one."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.fetches.append(self.path)
            self.send_response(served.status)
            if served.location:
                self.send_header("Location", served.location)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(served.document)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if certificate is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*certificate)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    served.url = f"{scheme}://127.0.0.1:{server.server_address[1]}/meta/public_keys/secret_scanning"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def keys_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> Iterator[KeysServer]:
    certificate = self_signed_certificate(tmp_path)
    # OpenSSL reads SSL_CERT_FILE whenever urllib makes a TLS context: the production code
    # verifies the certificate as it would GitHub's, against this one trusted root.
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))
    with serving(KeysServer(document=keys_document((KEY_ID, SCANNER))), certificate) as served:
        settings.SECRET_SCANNING_PUBLIC_KEYS = served.url
        yield served


def test_public_keys_are_fetched_from_an_https_url_and_refreshed_before_the_hour(
    owner: Membership, keys_server: KeysServer, fetched_keys: secret_scanning.FetchedPublicKeys
) -> None:
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        leaked = make_key(owner)
        response = post(report(leaked.secret))
        assert labels(response) == [(leaked.secret, "true_positive")]
        assert ApiKey.objects.get(pk=leaked.api_key.pk).is_revoked
        assert keys_server.fetches == ["/meta/public_keys/secret_scanning"]

        # The scanner rotates its key: until the refresh, our copy does not know the new one.
        keys_server.document = keys_document((NEXT_KEY_ID, NEXT_SCANNER))
        body = report(generate_key())
        clock.shift(secret_scanning.KEYS_REFRESH_AFTER - dt.timedelta(seconds=1))
        assert post(body).status_code == 200
        assert post(body, signed(body, NEXT_KEY_ID, NEXT_SCANNER)).status_code == 401
        assert len(keys_server.fetches) == 1

        # Past the refresh time, a report still uses the copy it has and refreshes it behind.
        clock.shift(dt.timedelta(seconds=1))
        assert post(body).status_code == 200
        assert fetched_keys.refresh is not None
        fetched_keys.refresh.join(timeout=10)
        assert len(keys_server.fetches) == 2
        assert post(body, signed(body, NEXT_KEY_ID, NEXT_SCANNER)).status_code == 200
        assert post(body).status_code == 401
        assert len(keys_server.fetches) == 2


def test_a_failed_refresh_keeps_the_copy_until_the_hour(
    live_key: CreatedKey, keys_server: KeysServer, fetched_keys: secret_scanning.FetchedPublicKeys
) -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert post(report(generate_key())).status_code == 200
        keys_server.status = 500
        clock.shift(secret_scanning.KEYS_REFRESH_AFTER)
        assert post(report(generate_key())).status_code == 200
        assert fetched_keys.refresh is not None
        fetched_keys.refresh.join(timeout=10)
        assert len(keys_server.fetches) == 2

        # Not retried on every report while it fails; the old copy verifies reports until the hour.
        assert post(report(generate_key())).status_code == 200
        assert len(keys_server.fetches) == 2
        clock.shift(secret_scanning.KEYS_CACHE_TTL - secret_scanning.KEYS_REFRESH_AFTER)
        assert post(report(live_key.secret)).status_code == 503
        assert not ApiKey.objects.get(pk=live_key.api_key.pk).is_revoked


def closed_port_url(server: KeysServer, tmp_path: Path) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"https://127.0.0.1:{port}/keys"


def serve(status: int = 200, document: bytes = b"") -> Callable[[KeysServer, Path], str]:
    def source(server: KeysServer, tmp_path: Path) -> str:
        server.status, server.document = status, document
        return server.url

    return source


def key_file(document: bytes) -> Callable[[KeysServer, Path], str]:
    def source(server: KeysServer, tmp_path: Path) -> str:
        path = tmp_path / "keys.json"
        path.write_bytes(document)
        return str(path)

    return source


UNAVAILABLE: list[Any] = [
    pytest.param(serve(status=500, document=b"{}"), id="server error"),
    pytest.param(serve(document=b"<html>rate limited</html>"), id="not JSON"),
    pytest.param(serve(document=b'{"public_keys": [{"key": "x"}]}'), id="not a key"),
    pytest.param(
        serve(document=b" " * (secret_scanning.MAX_KEYS_DOCUMENT_BYTES + 1)), id="too large"
    ),
    pytest.param(
        serve(document=keys_document((KEY_ID, ed25519.Ed25519PrivateKey.generate()))),
        id="not an ECDSA key",
    ),
    pytest.param(closed_port_url, id="connection refused"),
    pytest.param(lambda server, tmp_path: server.url.replace("https", "http"), id="plain http"),
    pytest.param(lambda server, tmp_path: str(tmp_path / "missing.json"), id="missing file"),
    pytest.param(key_file(b"[]"), id="file in another format"),
]


@pytest.mark.parametrize("source", UNAVAILABLE)
def test_when_the_public_keys_are_unavailable_reports_wait_and_change_nothing(
    live_key: CreatedKey,
    keys_server: KeysServer,
    tmp_path: Path,
    settings: Any,
    source: Callable[[KeysServer, Path], str],
) -> None:
    settings.SECRET_SCANNING_PUBLIC_KEYS = source(keys_server, tmp_path)
    before = state()

    response = post(report(live_key.secret))

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response["Retry-After"]
    assert state() == before


def test_a_failed_fetch_is_kept_for_30_seconds(
    live_key: CreatedKey, keys_server: KeysServer
) -> None:
    good_document, keys_server.status = keys_server.document, 500
    with time_machine.travel(timezone.now(), tick=False) as clock:
        assert post(report(live_key.secret)).status_code == 503
        keys_server.status, keys_server.document = 200, good_document

        response = post(report(live_key.secret))
        assert response.status_code == 503  # at once, without asking the key server again
        assert int(response["Retry-After"]) == 30
        assert len(keys_server.fetches) == 1

        clock.shift(secret_scanning.FAILED_FETCH_TTL)
        assert labels(post(report(live_key.secret))) == [(live_key.secret, "true_positive")]
        assert len(keys_server.fetches) == 2


def test_a_redirect_away_from_https_is_not_followed(
    live_key: CreatedKey, keys_server: KeysServer
) -> None:
    with serving(KeysServer(document=keys_server.document), certificate=None) as plain:
        keys_server.status, keys_server.location = 302, plain.url
        before = state()

        response = post(report(live_key.secret))

        assert plain.fetches  # urllib followed it, and the answer was still refused
    assert response.status_code == 503
    assert state() == before


# Under attack ----------------------------------------------------------------------------------


@contextmanager
def hanging_key_server() -> Iterator[tuple[str, list[socket.socket]]]:
    """A key server that accepts connections and never answers (not even the TLS handshake)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.1)
    accepted: list[socket.socket] = []
    stopping = threading.Event()

    def accept() -> None:
        while not stopping.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{listener.getsockname()[1]}/keys", accepted
    finally:
        stopping.set()
        thread.join()
        for connection in accepted:
            connection.close()
        listener.close()


def timed(send: Callable[[], HttpResponse]) -> tuple[HttpResponse, float]:
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_with_a_hanging_key_server_concurrent_reports_answer_503_within_the_timeout(
    live_key: CreatedKey, settings: Any
) -> None:
    body = report(live_key.secret)
    with hanging_key_server() as (url, accepted):
        settings.SECRET_SCANNING_PUBLIC_KEYS = url
        results: list[tuple[HttpResponse, float]] = []
        senders = [
            threading.Thread(target=lambda: results.append(timed(lambda: post(body))))
            for _ in range(6)
        ]
        for sender in senders:
            sender.start()
        time.sleep(0.3)  # the reports are in, one of them fetching
        health, health_seconds = timed(lambda: Client().get("/api/v1/health"))
        for sender in senders:
            sender.join(timeout=10)

        assert health.status_code == 200
        assert health_seconds < 1
        assert sorted(response.status_code for response, _ in results) == [503] * 6
        # One fetch at a time: the others did not wait for it, and none took past the timeout.
        assert len(accepted) == 1
        seconds = sorted(elapsed for _, elapsed in results)
        assert seconds[-1] < secret_scanning.FETCH_TIMEOUT_SECONDS + 1.5
        assert seconds[-2] < 1
        # The failure is remembered: the next report answers at once and asks no one.
        response, elapsed = timed(lambda: post(body))
        assert response.status_code == 503
        assert elapsed < 1
        assert len(accepted) == 1
    assert not ApiKey.objects.get(pk=live_key.api_key.pk).is_revoked


JUNK: list[Any] = [
    pytest.param(lambda body: (body, {}), id="unsigned"),
    pytest.param(lambda body: (body, {**signed(body), SIGNATURE_HEADER: "%%%"}), id="not base64"),
    pytest.param(
        lambda body: (body, {**signed(body), SIGNATURE_HEADER: "QUFB" * 200}), id="too long"
    ),
    pytest.param(lambda body: (body, signed(body, "x" * 500)), id="not a key identifier"),
    pytest.param(lambda body: (body, signed(body, "key id\r\nx")), id="identifier with CR/LF"),
    pytest.param(lambda body: (b"junk", signed(b"junk")), id="body not a report"),
]


@pytest.mark.parametrize("junk", JUNK)
def test_junk_is_refused_before_the_public_keys_are_fetched(
    live_key: CreatedKey, keys_server: KeysServer, junk: Tamper
) -> None:
    body, headers = junk(report(live_key.secret))

    response = post(body, headers)

    assert response.status_code in (400, 401)
    assert response.json()["error"]["code"] in ("bad_request", "invalid_signature")
    assert keys_server.fetches == []


def test_refused_reports_from_one_address_are_throttled_like_failed_keys(
    live_key: CreatedKey, keys_file: Path, monkeypatch: pytest.MonkeyPatch, clock: FakeClock
) -> None:
    # This process's own buckets on a clock that stands still (Redis refills by its own clock).
    local = ratelimit.RateLimits.from_settings(redis_url="", clock=clock)
    monkeypatch.setattr(ratelimit, "limits", local)
    body = report(live_key.secret)
    for _ in range(60):
        assert post(body, signed(body, private_key=IMPOSTOR)).status_code == 401

    response = post(body, signed(body, private_key=IMPOSTOR))

    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert response["Retry-After"]
    elsewhere = Client(REMOTE_ADDR="198.51.100.40").post(
        ENDPOINT, body, content_type="application/json", headers=signed(body)
    )
    assert labels(elsewhere) == [(live_key.secret, "true_positive")]


def test_nul_and_line_breaks_in_a_signed_report_are_stripped_and_both_keys_revoked(
    owner: Membership,
    keys_file: Path,
    django_capture_on_commit_callbacks: Callable[..., Any],
    mailoutbox: list[EmailMessage],
) -> None:
    first, second = make_key(owner), make_key(owner)
    body = json.dumps(
        [
            item(first.secret, url=f"{FOUND_AT}\x00#nul", source="con\x00tent"),
            item(second.secret, url=f"{FOUND_AT}\r\nBcc: victim@example.com\u202e", source="\n"),
        ]
    ).encode()

    with django_capture_on_commit_callbacks(execute=True):
        response = post(body)

    assert response.status_code == 200
    assert labels(response) == [(first.secret, "true_positive"), (second.secret, "true_positive")]
    details = [
        ActivityEvent.objects.get(api_key__pk=created.api_key.pk, event_type="leaked").details
        for created in (first, second)
    ]
    assert details == [
        {"url": f"{FOUND_AT}#nul", "source": "content"},
        {"url": f"{FOUND_AT}Bcc: victim@example.com", "source": ""},
    ]
    assert mailoutbox
    for message in mailoutbox:
        for line in message.body.splitlines():
            assert not line.startswith("Bcc:")
        assert "\x00" not in message.body
        assert "\u202e" not in message.body


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "file:///etc/passwd", "ftp://example.com/x", "https://", "x"]
)
def test_a_url_that_is_not_http_is_not_kept(owner: Membership, keys_file: Path, url: str) -> None:
    leaked = make_key(owner)

    response = post(json.dumps([item(leaked.secret, url=url)]).encode())

    assert labels(response) == [(leaked.secret, "true_positive")]
    event = ActivityEvent.objects.get(api_key__pk=leaked.api_key.pk, event_type="leaked")
    assert event.details["url"] == ""


def test_one_key_that_cannot_be_revoked_does_not_stop_the_others(
    owner: Membership, keys_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stuck, other = make_key(owner), make_key(owner)
    real_revoke = secret_scanning.revoke_leaked_key

    def revoke_failing_for_the_first(*, key: ApiKey, url: str, source: str) -> bool:
        if key.pk == stuck.api_key.pk:
            raise DataError("invalid byte sequence")
        return real_revoke(key=key, url=url, source=source)

    monkeypatch.setattr(secret_scanning, "revoke_leaked_key", revoke_failing_for_the_first)
    body = report(stuck.secret, other.secret)

    response = post(body)

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert ApiKey.objects.get(pk=other.api_key.pk).is_revoked
    assert not ApiKey.objects.get(pk=stuck.api_key.pk).is_revoked
    # The scanner resends; this time the first goes through, and the answer is the full one.
    monkeypatch.setattr(secret_scanning, "revoke_leaked_key", real_revoke)
    assert labels(post(body)) == [(stuck.secret, "true_positive"), (other.secret, "true_positive")]
    assert ApiKey.objects.get(pk=stuck.api_key.pk).is_revoked
