"""gunicorn's settings for VoxKeys, read from the environment (README "Production").

gunicorn reads this file from the directory it is started in (bin/voxkeys-entrypoint names it);
options given on the command line win over it.

This file imports neither Django nor the project, on purpose: it runs in the master, and a
module the master has imported is inherited by every worker it forks, so after an upgrade
`kill -HUP` would start new workers on the old copy of that module. That is also why the app is
not preloaded. So its JSON lines come from a formatter defined here, which writes the same
fields as the app's (voxkeys/logs.py).
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger


def _env_int(name: str, default: int, minimum: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        number = int(value) if value else default
    except ValueError:
        number = minimum - 1
    if number < minimum:
        sys.exit(f"VoxKeys: the environment variable {name} must be a whole number >= {minimum}.")
    return number


bind = [os.environ.get("GUNICORN_BIND", "").strip() or "0.0.0.0:8000"]
# Each worker holds a database connection per thread and one more for the authentication
# cache's LISTEN: count them against PostgreSQL's max_connections.
workers = _env_int("WEB_CONCURRENCY", 4, 1)
# 1: sync workers, one request at a time each. More: gthread workers with that many threads.
threads = _env_int("GUNICORN_THREADS", 1, 1)
# A worker silent this long is killed and replaced. The app answers within its own deadlines
# (a 503 within DATABASE_QUERY_TIMEOUT when the database hangs), so only a real hang gets here.
timeout = _env_int("GUNICORN_TIMEOUT", 30, 1)
# On SIGTERM or HUP a worker finishes the requests it holds for up to this long.
graceful_timeout = _env_int("GUNICORN_GRACEFUL_TIMEOUT", 30, 1)
# Idle seconds a keep-alive connection stays open (gthread only; sync workers close each one).
# Keep it above the load balancer's own idle timeout, so the balancer closes first.
keepalive = _env_int("GUNICORN_KEEPALIVE", 75, 0)
# A worker is replaced after about this many requests (0: never), bounding any slow leak. High,
# because a new worker starts with an empty authentication cache; the jitter keeps the workers
# from being replaced all at once.
max_requests = _env_int("GUNICORN_MAX_REQUESTS", 100_000, 0)
max_requests_jitter = max_requests // 10
# Not preloaded: `kill -HUP` then loads the new code in every new worker (see the docstring),
# and nothing opens a database connection or starts the cache's listener thread before the fork.
preload_app = False
# The heartbeat file on tmpfs: in a container /tmp may be an overlay whose writes can stall.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# gunicorn's access log is off: the app writes one line a request (voxkeys.access, ACCESS_LOG,
# on by default with LOG_FORMAT=json) with the request id, the key's id and the client address
# as TRUSTED_PROXY_COUNT decides, and never the query string, which gunicorn's would include.
# `--access-logfile -` on the command line still turns it on (as JSON with LOG_FORMAT=json).
accesslog = None
# gunicorn's control socket is one path per user: servers sharing a machine (tests, benchmarks)
# would take it from each other. Signals do what it offers (HUP, TERM, TTIN, TTOU).
control_socket_disable = True


class AccessLogOnlyWhenAsked(Logger):
    """gunicorn's logger, whose access log stays off unless --access-logfile asks for it.

    gunicorn turns its access log on whenever logconfig_dict is set; it would then build and
    write a second line for every request.
    """

    @property
    def access_log_enabled(self) -> bool:
        return self.cfg.accesslog is not None


logger_class = AccessLogOnlyWhenAsked


def _metrics_processes() -> Any:
    """voxkeys/metrics/processes.py, loaded from its file: importing it through its package would
    import Django and the project into the master (see the top of this file)."""
    path = Path(__file__).resolve().parent / "voxkeys" / "metrics" / "processes.py"
    spec = importlib.util.spec_from_file_location("gunicorn_metrics_processes", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def child_exit(server: Arbiter, worker: Any) -> None:
    # Prometheus' multiprocess mode: an exited worker's per-worker gauges go (README: Metrics).
    _metrics_processes().mark_worker_ended(worker.pid)


def on_starting(server: Arbiter) -> None:
    """Stop with the settings' own message when they cannot load (SECRET_KEY unset, ...).

    Otherwise every worker would exit with it at boot and be replaced, forever. Checked in a
    separate process, as the master must not import the project.
    """
    settings_module = os.environ.get("DJANGO_SETTINGS_MODULE", "voxkeys.settings")
    checked = subprocess.run(
        [sys.executable, "-c", f"import {settings_module}"],
        cwd=server.cfg.chdir,
        capture_output=True,
        text=True,
        check=False,
    )
    if checked.returncode != 0:
        server.log.error("%s", checked.stderr.strip())
        sys.exit(1)
    # Metrics files of processes that ended before this start (README: Metrics).
    _metrics_processes().remove_ended_processes_files()


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, exception (as the app's)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    # Every line the master and its workers write, on stderr like the app's. In a worker,
    # Django's LOGGING later replaces the root handler with its own JSON one and leaves these.
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonLineFormatter}},
        "handlers": {
            "json": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"level": "INFO", "handlers": ["json"]},
        "loggers": {
            "gunicorn.error": {"handlers": ["json"], "propagate": False},
            "gunicorn.access": {"handlers": ["json"], "propagate": False},
        },
    }
