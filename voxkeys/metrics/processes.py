"""gunicorn's side of multiprocess mode: the shared directory's files, kept and removed.

Every process that counts writes files named after its pid in PROMETHEUS_MULTIPROC_DIR, and a
scrape sums every file there. So when gunicorn starts, the files of processes that have ended
(an earlier run's workers) must go, and when a worker exits its per-worker gauges must go with
it (its counts stay in the sums). A task worker (`manage.py db_worker`) on the same machine and
directory keeps its files across a restart of gunicorn, since it is still running.

gunicorn.conf.py calls these from `on_starting` and `child_exit`; without the variable they do
nothing. Importing this module (through voxkeys.metrics) gives the master its own files too,
all zeros, which add nothing to the sums.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from prometheus_client import multiprocess

VARIABLE = "PROMETHEUS_MULTIPROC_DIR"


def is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process: running
    return True


def remove_ended_processes_files(directory: str | None = None) -> list[Path]:
    """Create the directory if needed, delete the files of processes no longer running, and
    return the deleted paths."""
    directory = directory or os.environ.get(VARIABLE)
    if not directory:
        return []
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    removed = []
    for path in folder.glob("*.db"):
        # counter_123.db, gauge_liveall_123.db, histogram_123.db: the pid is the last part.
        pid = path.stem.rpartition("_")[2]
        if pid.isdigit() and is_running(int(pid)):
            continue
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed


def mark_worker_ended(pid: int, directory: str | None = None) -> None:
    """Drop an exited worker's per-worker gauges (its counts stay in the sums)."""
    directory = directory or os.environ.get(VARIABLE)
    if directory:
        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]
