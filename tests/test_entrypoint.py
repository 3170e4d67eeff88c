"""bin/voxkeys-entrypoint, run as the image runs it: migrate, the web server, the worker."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.processes import (
    ENTRYPOINT,
    deployment_env,
    get,
    kill_group,
    port_of,
    start,
    terminate,
    wait_for_http,
    wait_for_line,
)
from tests.support.production import ROOT


def entrypoint(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENTRYPOINT), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory whose SQLite database `entrypoint migrate` has migrated."""
    directory = tmp_path_factory.mktemp("deployment")
    result = entrypoint("migrate", env=deployment_env(directory))
    assert result.returncode == 0, result.stderr
    assert "Applying accounts.0001_initial... OK" in result.stdout
    return directory


def test_web_serves_the_api_through_gunicorn_and_stops_on_sigterm(migrated: Path) -> None:
    env = deployment_env(migrated)
    log = migrated / "web.log"
    server = start([str(ENTRYPOINT), "web"], env, log)
    try:
        wait_for_http(server, port_of(env), log)
        status, body = get(port_of(env), "/api/v1/health/ready")
        # The entry point replaced itself with gunicorn, so a container's SIGTERM reaches it.
        command = Path(f"/proc/{server.pid}/cmdline").read_bytes().split(b"\0")
        assert terminate(server) == 0
    finally:
        kill_group(server)
    assert status == 200
    assert json.loads(body)["database"] == "ok"
    assert command[:3] == [sys.executable.encode(), b"-m", b"gunicorn"], command
    assert "Shutting down: Master" in log.read_text()


def test_worker_runs_a_queued_job_and_stops_on_sigterm(migrated: Path) -> None:
    env = deployment_env(migrated)
    log = migrated / "worker.log"
    marker = migrated / "marker.txt"
    worker = start([str(ENTRYPOINT), "worker"], env, log)
    try:
        wait_for_line(worker, log, "Starting worker")
        enqueue = (
            "from tests.support.tasks import write_marker;"
            f"write_marker.using(queue_name='email').enqueue(path={str(marker)!r}, text='ran')"
        )
        result = entrypoint("manage", "shell", "-c", enqueue, env=env)
        assert result.returncode == 0, result.stderr
        wait_for_line(worker, log, "state=SUCCESSFUL")
        assert terminate(worker) == 0
    finally:
        kill_group(worker)
    assert marker.read_text() == "ran"


def workers_of(master: int) -> set[int]:
    children = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            children.add(int(stat.parent.name))
    return children


def working_directories(pids: set[int]) -> set[Path]:
    return {Path(os.readlink(f"/proc/{pid}/cwd")) for pid in pids}


def test_a_reload_after_the_release_symlink_moves_runs_the_new_release(
    migrated: Path, tmp_path: Path
) -> None:
    skipped = shutil.ignore_patterns(
        ".git", ".venv", "*_cache", "__pycache__", "staticfiles", "build", "*.egg-info", "docs"
    )
    old, new = tmp_path / "release-1", tmp_path / "release-2"
    for release in (old, new):
        shutil.copytree(ROOT, release, ignore=skipped, symlinks=True)
    current = tmp_path / "current"
    current.symlink_to(old)
    env = deployment_env(migrated, WEB_CONCURRENCY="2")
    log = migrated / "reload.log"
    server = start([str(current / "bin" / "voxkeys-entrypoint"), "web"], env, log)
    try:
        wait_for_http(server, port_of(env), log)
        before = workers_of(server.pid)
        assert working_directories(before) == {old}

        (tmp_path / "next").symlink_to(new)
        (tmp_path / "next").replace(current)
        server.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while True:
            after = workers_of(server.pid)
            if len(after) == 2 and not after & before and working_directories(after) == {new}:
                break
            assert time.monotonic() < deadline, (after, working_directories(after))
            time.sleep(0.2)
        assert get(port_of(env), "/api/v1/health")[0] == 200
        assert terminate(server) == 0
    finally:
        kill_group(server)


def test_manage_runs_a_periodic_command(migrated: Path) -> None:
    result = entrypoint("manage", "prune_key_usage", env=deployment_env(migrated))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()


@pytest.mark.parametrize("args", [[], ["serve"], ["manage"]])
def test_an_unknown_or_missing_subcommand_prints_the_usage(args: list[str]) -> None:
    result = entrypoint(*args, env=deployment_env(Path("/nonexistent")))
    assert result.returncode == 64
    assert result.stderr.startswith("usage: voxkeys-entrypoint web | worker | migrate | manage")
