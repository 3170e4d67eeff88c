"""Start the app's own processes (gunicorn, the worker) as a deployment would, and stop them."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.private_postgres import free_port
from tests.support.production import PRODUCTION_ENV, ROOT

ENTRYPOINT = ROOT / "bin" / "voxkeys-entrypoint"


def deployment_env(directory: Path, **overrides: str) -> dict[str, str]:
    """Return a production-like environment on a SQLite database in `directory`."""
    dropped = {"DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE", "LOG_FORMAT", "ACCESS_LOG"}
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    return {
        **base,
        **PRODUCTION_ENV,
        "ALLOWED_HOSTS": "127.0.0.1",
        "SECURE_SSL_REDIRECT": "0",
        "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
        "REDIS_URL": "",
        "STATIC_ROOT": str(directory / "static"),
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        "PYTHON": sys.executable,
        "GUNICORN_BIND": f"127.0.0.1:{free_port()}",
        "WEB_CONCURRENCY": "1",
        **overrides,
    }


def port_of(env: dict[str, str]) -> int:
    return int(env["GUNICORN_BIND"].rsplit(":", 1)[1])


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Start `args` from the checkout, stdout and stderr both into `log`."""
    with log.open("wb") as output:
        return subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a process group of its own, to clean up after a failure
        )


def get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_for_http(
    process: subprocess.Popen[bytes], port: int, log: Path, timeout: float = 60
) -> None:
    """Wait until /api/v1/health answers 200 (the process must not exit meanwhile)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"exited {process.returncode}:\n{log.read_text()}"
        try:
            if get(port, "/api/v1/health")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no answer on :{port} within {timeout} s:\n{log.read_text()}")


def wait_for_line(
    process: subprocess.Popen[bytes], log: Path, text: str, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while text not in log.read_text():
        assert process.poll() is None, f"exited {process.returncode}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"no {text!r} within {timeout} s:\n{log.read_text()}"
        time.sleep(0.2)


def terminate(process: subprocess.Popen[bytes], timeout: float = 40) -> int:
    """Send SIGTERM to the process alone (as a container runtime does) and return its status."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=timeout)
    finally:
        kill_group(process)


def kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill whatever is left of the process's group (after a failed test)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    process.wait()
