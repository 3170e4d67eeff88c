"""gunicorn.conf.py: with LOG_FORMAT=json every line gunicorn and the app write is JSON."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.private_postgres import free_port
from tests.support.processes import (
    deployment_env,
    get,
    kill_group,
    port_of,
    start,
    terminate,
    wait_for_http,
)
from tests.support.production import ROOT, run

GUNICORN = [sys.executable, "-m", "gunicorn", "--config", str(ROOT / "gunicorn.conf.py")]
APP = "voxkeys.wsgi:application"


@pytest.fixture(scope="module")
def static_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Pages (a 404 page too) need collectstatic's manifest, as in production.
    directory = tmp_path_factory.mktemp("static")
    collected = run(
        ["manage.py", "collectstatic", "--noinput", "-v", "0"],
        deployment_env(directory, STATIC_ROOT=str(directory)),
        timeout=300,
    )
    assert collected.returncode == 0, collected.stderr
    return directory


def serve_and_log(env: dict[str, str], log: Path, *extra: str) -> list[str]:
    """Serve with gunicorn.conf.py, ask a few paths, stop it; return every line it wrote."""
    server = start([*GUNICORN, *extra, APP], env, log)
    try:
        port = port_of(env)
        wait_for_http(server, port, log)
        assert get(port, "/api/v1/health")[0] == 200
        assert get(port, "/no-such-page/")[0] == 404
        assert get(port, "/api/v1/no-such-endpoint")[0] == 404
        assert terminate(server) == 0
    finally:
        kill_group(server)
    return log.read_text().splitlines()


def parsed(lines: list[str]) -> list[dict[str, object]]:
    entries = []
    for line in lines:
        entry = json.loads(line)  # a line that is not JSON fails the test here
        assert isinstance(entry, dict), line
        assert {"timestamp", "level", "logger", "message"} <= entry.keys(), line
        entries.append(entry)
    return entries


def test_every_line_gunicorn_and_the_app_write_is_one_json_object(
    tmp_path: Path, static_root: Path
) -> None:
    env = deployment_env(tmp_path, LOG_FORMAT="json", STATIC_ROOT=str(static_root))
    lines = serve_and_log(env, tmp_path / "gunicorn.log")
    entries = parsed(lines)

    messages = [(e["logger"], e["message"]) for e in entries]
    assert ("gunicorn.error", "Starting gunicorn " + gunicorn_version()) in messages
    assert any(lg == "gunicorn.error" and str(m).startswith("Booting worker") for lg, m in messages)
    assert ("gunicorn.error", "Shutting down: Master") in messages
    assert ("django.request", "Not Found: /no-such-page/") in messages
    # The app's access line, one a request; gunicorn's own access log is off.
    access = [e for e in entries if e["logger"] == "voxkeys.access"]
    assert [(e["path"], e["status"]) for e in access] == [
        ("/api/v1/health", 200),  # wait_for_http's
        ("/api/v1/health", 200),
        ("/no-such-page/", 404),
        ("/api/v1/no-such-endpoint", 404),
    ]
    assert not [e for e in entries if e["logger"] == "gunicorn.access"]


def test_gunicorns_access_log_asked_for_on_the_command_line_is_json_too(
    tmp_path: Path, static_root: Path
) -> None:
    env = deployment_env(tmp_path, LOG_FORMAT="json", ACCESS_LOG="0", STATIC_ROOT=str(static_root))
    entries = parsed(serve_and_log(env, tmp_path / "gunicorn.log", "--access-logfile", "-"))

    access = [str(e["message"]) for e in entries if e["logger"] == "gunicorn.access"]
    assert len(access) == 4
    assert '"GET /no-such-page/ HTTP/1.1" 404' in access[2]
    assert not [e for e in entries if e["logger"] == "voxkeys.access"]


def test_settings_that_cannot_load_stop_gunicorn_at_once_with_their_message() -> None:
    # Not a worker exiting at boot, replaced, and exiting again, forever.
    env = {"LOG_FORMAT": "json", "SECRET_KEY": "", "GUNICORN_BIND": f"127.0.0.1:{free_port()}"}
    result = run(["-m", "gunicorn", APP], env, timeout=60)
    assert result.returncode == 1
    entries = parsed(result.stderr.splitlines())
    assert entries[-1]["level"] == "ERROR"
    assert entries[-1]["message"] == (
        "VoxKeys: set the SECRET_KEY environment variable (it is required when DEBUG is off)."
    )
    assert not [e for e in entries if str(e["message"]).startswith("Booting worker")]


def test_the_config_imports_neither_django_nor_the_project_so_a_reload_loads_new_code() -> None:
    # gunicorn's master runs the config and its logging setup; a worker forked after
    # `kill -HUP` inherits every module the master has imported, old code and all.
    code = (
        "import logging.config, runpy, sys;"
        "config = runpy.run_path('gunicorn.conf.py');"
        "logging.config.dictConfig(config['logconfig_dict']);"
        "logging.getLogger('gunicorn.error').info('configured');"
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'django', 'voxkeys', 'api', 'accounts', 'apikeys', 'activity', 'voice'}))"
    )
    result = run(["-c", code], {"LOG_FORMAT": "json"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert json.loads(result.stderr)["message"] == "configured"


def test_text_mode_leaves_gunicorns_own_logging_alone() -> None:
    code = "import runpy; print('logconfig_dict' in runpy.run_path('gunicorn.conf.py'))"
    result = run(["-c", code], {"LOG_FORMAT": ""})
    assert result.stdout.strip() == "False", result.stderr


@pytest.mark.parametrize(
    ("name", "value", "minimum"),
    # A WEB_CONCURRENCY that is not a number gunicorn itself refuses, before reading the config.
    [("WEB_CONCURRENCY", "0", 1), ("GUNICORN_THREADS", "four", 1), ("GUNICORN_TIMEOUT", "-5", 1)],
)
def test_a_bad_number_stops_gunicorn_with_one_line(name: str, value: str, minimum: int) -> None:
    result = run(["-m", "gunicorn", "--check-config", APP], {name: value})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        f"VoxKeys: the environment variable {name} must be a whole number >= {minimum}."
    ]


def gunicorn_version() -> str:
    import gunicorn

    return str(gunicorn.__version__)
