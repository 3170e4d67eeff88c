"""Probes (api/health.py, voxkeys/proxy.py): answered whatever the Host, readiness that fails
only for the database, and failures logged as a line, a count, and a line."""

from __future__ import annotations

import logging

import pytest
from django.test import Client
from django.urls import reverse
from pytest_django.fixtures import Settings

from accounts.models import Membership
from api import health
from tests.private_postgres import free_port
from tests.support.api import api_client, make_key
from tests.support.clock import FakeClock

LOGIN = reverse("login")
LOAD_BALANCER = "10.0.3.17"  # the instance's own address, as IP-based probes send it


@pytest.fixture
def redis_log(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> health.ProbeFailureLog:
    log = health.ProbeFailureLog("Redis", clock=clock)
    monkeypatch.setattr(health, "redis_probe_log", log)
    return log


def test_liveness_answers_a_probe_that_sends_an_ip_address_as_host(
    caplog: pytest.LogCaptureFixture,
) -> None:
    response = Client().get("/api/v1/health", HTTP_HOST=LOAD_BALANCER)

    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert caplog.records == []


@pytest.mark.django_db
def test_readiness_answers_a_probe_that_sends_an_ip_address_as_host(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.REDIS_URL = ""
    settings.API_KEY_CACHE = False

    response = Client().get("/api/v1/health/ready", HTTP_HOST=f"{LOAD_BALANCER}:8000")

    assert response.status_code == 200
    assert response.json()["database"] == "ok"
    assert caplog.records == []


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", LOGIN, "/api/v1/credits", "/api/v1/health/"])
def test_any_other_path_refuses_that_host_with_one_line_and_no_traceback(
    owner: Membership, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    client = api_client(make_key(owner))
    client.raise_request_exception = False

    response = client.get(path, HTTP_HOST=LOAD_BALANCER)

    assert response.status_code == 400
    assert [(r.name, r.exc_info, r.exc_text) for r in caplog.records] == [
        ("django.security.DisallowedHost", None, None)
    ]
    assert LOAD_BALANCER in caplog.records[0].getMessage()
    # The handler's output: one line, whatever formatter is configured.
    assert "Traceback" not in caplog.text


@pytest.mark.django_db
def test_an_allowed_host_is_still_required_for_pages() -> None:
    assert Client().get(LOGIN, HTTP_HOST="evil.example").status_code == 400
    assert Client().get(LOGIN, HTTP_HOST="localhost").status_code == 200


@pytest.mark.django_db
def test_readiness_with_redis_on_a_closed_port_is_ready_and_degraded(
    settings: Settings, redis_log: health.ProbeFailureLog, caplog: pytest.LogCaptureFixture
) -> None:
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    settings.API_KEY_CACHE = False

    responses = [Client().get("/api/v1/health/ready") for _ in range(5)]

    assert {response.status_code for response in responses} == {200}
    assert responses[0].json() == {
        "status": "ok",
        "database": "ok",
        "redis": "degraded",
        "auth_cache": "disabled",
    }
    assert [r.getMessage() for r in caplog.records] == [
        caplog.records[0].getMessage()  # one line for five failed probes
    ]
    assert caplog.records[0].getMessage().startswith("Readiness: Redis is unavailable")
    assert caplog.records[0].exc_info is None


@pytest.mark.django_db
def test_a_redis_outage_under_probes_logs_a_line_a_count_a_minute_and_its_end(
    settings: Settings,
    redis_log: health.ProbeFailureLog,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings.API_KEY_CACHE = False
    working_redis = settings.REDIS_URL
    settings.REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"
    for _ in range(13):  # one probe every 5 s
        assert Client().get("/api/v1/health/ready").status_code == 200
        clock.advance(5)
    if not working_redis:
        pytest.skip("the recovery needs a Redis (REDIS_URL)")
    settings.REDIS_URL = working_redis
    assert Client().get("/api/v1/health/ready").json()["redis"] == "ok"
    assert Client().get("/api/v1/health/ready").json()["redis"] == "ok"

    messages = [r.getMessage() for r in caplog.records if r.name == "api.health"]
    assert len(messages) == 3
    assert messages[0].startswith("Readiness: Redis is unavailable")
    assert messages[1] == "Readiness: Redis still unavailable: 12 failed probes in the last 60 s."
    assert messages[2] == "Readiness: Redis available again after 65 s (13 failed probes)."


def test_the_log_counts_failures_and_forgets_the_outage_once_redis_answers(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="api.health")
    log = health.ProbeFailureLog("Redis", clock=clock)
    log.answered()
    assert caplog.records == []
    for _ in range(3):
        log.failed(ConnectionError("refused"))
        clock.advance(30)
    log.answered()
    log.failed(ConnectionError("refused"))

    assert [r.getMessage().split(":")[1] for r in caplog.records] == [
        " Redis is unavailable (ConnectionError",
        " Redis still unavailable",
        " Redis available again after 90 s (3 failed probes).",
        " Redis is unavailable (ConnectionError",
    ]
