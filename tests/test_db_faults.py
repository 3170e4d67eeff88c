"""The database misbehaving: schema changes under prepared statements, outages, restarts, and a
hung server (README "Health checks"; voxkeys/db/backends/postgresql/base.py)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from pytest_django.fixtures import Settings

from accounts.models import Membership
from tests.private_postgres import free_port, is_available, private_postgres
from tests.support.api import api_client, make_key

ROOT = Path(__file__).resolve().parent.parent
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="prepared statements and backends: PostgreSQL only"
)


def signed_in(membership: Membership) -> Client:
    # A plain client: SignedInClient writes the session before each request, from the test.
    client = Client(raise_request_exception=False)
    client.force_login(membership.user)
    return client


def other_connection() -> psycopg.Connection:
    """A connection to the test database that is not the one the requests use."""
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


@contextlib.contextmanager
def unreachable_database() -> Iterator[None]:
    """Point the requests' connection at a database that is not there, then restore it."""
    settings_dict = connection.settings_dict
    saved = dict(settings_dict)
    connection.close()
    if connection.vendor == "postgresql":
        settings_dict["PORT"] = str(free_port())
    else:
        settings_dict["NAME"] = str(ROOT / "no-such-directory" / "db.sqlite3")
    try:
        yield
    finally:
        connection.close()
        settings_dict.update(saved)


@pytest.fixture
def database_down() -> Iterator[None]:
    with unreachable_database():
        yield


def assert_unavailable_page(response: HttpResponse) -> None:
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    content = response.content.decode()
    assert "VoxPria is briefly unavailable" in content
    assert "nothing was changed" in content


# Schema changes --------------------------------------------------------------------------------


@postgresql_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("table", "column", "changed", "original"),
    [
        ("apikeys_apikey", "scopes", "varchar(300)", "varchar(200)"),
        ("accounts_account", "name", "varchar(200)", "varchar(120)"),
    ],
)
def test_the_key_lookup_survives_a_migration_of_a_column_it_reads(
    owner: Membership, table: str, column: str, changed: str, original: str
) -> None:
    client = api_client(make_key(owner))
    assert client.get("/api/v1/credits").status_code == 200
    pid = connection.connection.info.backend_pid
    # From another connection, as a migration would: psycopg drops its prepared statements
    # when it sees an ALTER on its own connection, but cannot see this one.
    with other_connection() as migration:
        migration.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {changed}")
    try:
        response = client.get("/api/v1/credits")
        assert response.status_code == 200, response.content
        assert response.json()["account"] == owner.account.name
        # The statement was replaced by way of a new connection.
        assert connection.connection.info.backend_pid != pid
        assert client.get("/api/v1/credits").status_code == 200
    finally:
        with other_connection() as migration:
            migration.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {original}")
        # The next test's statement must not meet the change back.
        connection.close()


# Pages during an outage ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_page_is_a_503_when_the_session_cannot_be_loaded(owner: Membership) -> None:
    client = signed_in(owner)
    assert client.get("/").status_code == 200
    with unreachable_database():
        response = client.get("/")
    assert_unavailable_page(response)
    assert "text/html" in response["Content-Type"]


@pytest.mark.django_db(transaction=True)
def test_a_post_during_an_outage_says_nothing_was_changed(owner: Membership) -> None:
    client = signed_in(owner)
    with unreachable_database():
        assert_unavailable_page(client.post("/logout/"))
    # Nothing was: the member is still signed in.
    assert client.get("/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_sign_in_page_is_a_503_when_the_database_is_down(database_down: None) -> None:
    response = Client(raise_request_exception=False).post(
        "/login/", {"username": "someone@example.test", "password": "wrong password"}
    )
    assert_unavailable_page(response)


@pytest.mark.django_db(transaction=True)
def test_the_api_answers_json_503_when_the_database_is_down(owner: Membership) -> None:
    client = api_client(make_key(owner), raise_request_exception=False)
    with unreachable_database():
        response = client.get("/api/v1/credits")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"


# A database restart: the connection this process kept is dead ----------------------------------


def kill_the_requests_connection() -> int:
    pid = connection.connection.info.backend_pid
    with other_connection() as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
    return pid


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_get_is_retried_once_on_a_new_connection(owner: Membership) -> None:
    client = signed_in(owner)
    assert client.get("/").status_code == 200
    pid = kill_the_requests_connection()
    response = client.get("/")
    assert response.status_code == 200
    assert connection.connection.info.backend_pid != pid


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_post_is_not_retried(owner: Membership) -> None:
    client = signed_in(owner)
    assert client.get("/").status_code == 200
    kill_the_requests_connection()
    assert_unavailable_page(client.post("/logout/"))
    # Only that request: the next one has a new connection, and the session survived.
    assert client.get("/").status_code == 200


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_the_api_key_lookup_is_retried_after_a_restart(owner: Membership) -> None:
    client = api_client(make_key(owner))
    assert client.get("/api/v1/credits").status_code == 200
    kill_the_requests_connection()
    assert client.get("/api/v1/credits").status_code == 200


# Readiness -------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_ready_runs_the_key_lookup(settings: Settings) -> None:
    settings.REDIS_URL = ""
    settings.API_KEY_CACHE = False
    response = Client().get("/api/v1/health/ready")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "redis": "not configured",
        "auth_cache": "disabled",
    }


@pytest.mark.django_db(transaction=True)
def test_ready_is_503_naming_the_database(database_down: None, settings: Settings) -> None:
    settings.REDIS_URL = ""
    settings.API_KEY_CACHE = False
    response = Client().get("/api/v1/health/ready")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "status": "unavailable",
        "database": "unavailable",
        "redis": "not configured",
        "auth_cache": "disabled",
    }


def test_health_needs_no_database() -> None:
    # Liveness: not marked django_db, so any query here would fail the test.
    assert Client().get("/api/v1/health").status_code == 200


# A hung database: a real server, a real paused cluster -----------------------------------------

SETUP_SCRIPT = """
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone
from accounts.idle import LAST_SEEN_SESSION_KEY
from tests.support.api import make_key
from tests.factories import MembershipFactory
from accounts.models import Membership
owner = MembershipFactory(role=Membership.Role.OWNER)
client = Client()
client.force_login(owner.user)
session = SessionStore(client.cookies["sessionid"].value)
session[LAST_SEEN_SESSION_KEY] = timezone.now().timestamp()
session.save()
print("SETUP", session.session_key, make_key(owner))
"""
# The documented bounds (README "Configuration"), with room for a loaded 2-core machine.
SLACK = 1.5
API_BOUND = 3  # API_AUTH_STATEMENT_TIMEOUT (2 s), or DATABASE_CONNECT_TIMEOUT (3 s) to reconnect
PAGE_BOUND = 6  # DATABASE_QUERY_TIMEOUT (statement timeout 5 s + 1 s)
RECOVERY_BOUND = 2


def timed_get(url: str, **kwargs: Any) -> tuple[requests.Response, float]:
    started = time.monotonic()
    response = requests.get(url, timeout=30, allow_redirects=False, **kwargs)
    return response, time.monotonic() - started


@pytest.mark.skipif(not is_available(), reason="needs PostgreSQL's initdb to start a cluster")
def test_a_hung_database_is_a_503_within_seconds_and_recovery_is_immediate() -> None:
    with private_postgres() as (database_url, cluster):
        env = {
            **{name: value for name, value in os.environ.items() if name != "REDIS_URL"},
            "DATABASE_URL": database_url,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        }
        manage = [sys.executable, str(ROOT / "manage.py")]
        subprocess.run(
            [*manage, "migrate", "--noinput"], env=env, cwd=ROOT, check=True, capture_output=True
        )
        setup = subprocess.run(
            [*manage, "shell", "-c", SETUP_SCRIPT],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        setup_line = next(line for line in setup.stdout.splitlines() if line.startswith("SETUP"))
        _, session_key, secret = setup_line.split()
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "voxkeys.wsgi:application",
                "--workers",
                "1",
                "--bind",
                f"127.0.0.1:{port}",
                "--timeout",
                "30",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        base = f"http://127.0.0.1:{port}"
        page = {"cookies": {"sessionid": session_key}}
        api = {"headers": {"Authorization": f"Bearer {secret}"}}
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    requests.get(f"{base}/api/v1/health", timeout=5)
                    break
                except (requests.ConnectionError, requests.Timeout):
                    assert time.monotonic() < deadline, "gunicorn did not start"
                    time.sleep(0.1)
            # Both kinds of request have a connection to lose.
            assert timed_get(f"{base}/", **page)[0].status_code == 200
            assert timed_get(f"{base}/api/v1/credits", **api)[0].status_code == 200

            cluster.pause()
            response, elapsed = timed_get(f"{base}/", **page)
            assert response.status_code == 503
            assert "nothing was changed" in response.text
            assert elapsed < PAGE_BOUND + SLACK
            # No connection now: this one waits for the connect timeout instead.
            response, elapsed = timed_get(f"{base}/api/v1/credits", **api)
            assert response.status_code == 503
            assert response.json()["error"]["code"] == "service_unavailable"
            assert elapsed < API_BOUND + SLACK
            response, elapsed = timed_get(f"{base}/api/v1/health/ready")
            assert response.status_code == 503
            assert elapsed < API_BOUND + SLACK

            cluster.resume()
            resumed = time.monotonic()
            assert timed_get(f"{base}/api/v1/credits", **api)[0].status_code == 200
            assert timed_get(f"{base}/", **page)[0].status_code == 200
            assert time.monotonic() - resumed < RECOVERY_BOUND

            # On a connection that was open when the database hung, authentication's own
            # (shorter) deadline.
            cluster.pause()
            response, elapsed = timed_get(f"{base}/api/v1/credits", **api)
            assert response.status_code == 503
            assert elapsed < 2 + SLACK
            cluster.resume()
            assert timed_get(f"{base}/api/v1/credits", **api)[0].status_code == 200
        finally:
            # Resumed first: a worker waiting on the database would hold up the shutdown.
            cluster.resume()
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
