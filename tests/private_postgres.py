"""A throwaway PostgreSQL cluster for tests that need a database outage (DESIGN.md, "Fault
tests"): the shared server is never stopped or paused, this one is.

    with private_postgres() as (url, cluster):
        cluster.pause()   # SIGSTOP the postmaster and every backend: a hung database
        cluster.resume()
        cluster.stop()    # also done on leaving the block
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg

BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


# PostgreSQL refuses to run as root: as root, the cluster runs as this user instead.
SERVER_USER = "postgres"


def is_available() -> bool:
    """Whether this machine can start a private cluster (tests skip otherwise)."""
    return (BIN / "initdb").exists() and (os.geteuid() != 0 or _user_exists(SERVER_USER))


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _run_as() -> dict[str, str]:
    return {"user": SERVER_USER} if os.geteuid() == 0 else {}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            # "pid (comm) state ppid ...": comm may hold spaces, so split after its ")".
            fields = stat.read_text().rpartition(")")[2].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, pending = [], [root]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


class Cluster:
    """A running private cluster: a postmaster and the backends and helpers it forks."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                str(BIN / "postgres"),
                "-D",
                str(self.directory / "data"),
                "-p",
                str(self.port),
                "-k",
                str(self.directory),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=(self.directory / "postgres.log").open("ab"),
            # Out of the test's process group: a Ctrl-C reaches it only through stop().
            start_new_session=True,
            **_run_as(),
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "the private PostgreSQL did not start: "
                        + (self.directory / "postgres.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.1)

    def _signal(self, signum: int) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # Each backend calls setsid(): they are not in the postmaster's process group, so
        # they are found as its children instead.
        for pid in [self.process.pid, *_descendants(self.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def pause(self) -> None:
        """Freeze the postmaster and every backend: a database that accepts TCP and never
        answers."""
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        # A paused cluster cannot act on SIGINT (fast shutdown) until it runs again.
        self._signal(signal.SIGCONT)
        self._signal(signal.SIGINT)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._signal(signal.SIGKILL)
            self.process.wait(timeout=10)


@contextlib.contextmanager
def private_postgres() -> Iterator[tuple[str, Cluster]]:
    """Start a private cluster on a free port; yield its URL and the cluster; always stop it."""
    with tempfile.TemporaryDirectory(prefix="voxkeys-pg-") as name:
        directory = Path(name)
        if os.geteuid() == 0:
            shutil.chown(directory, SERVER_USER)
        subprocess.run(
            [
                str(BIN / "initdb"),
                "-D",
                str(directory / "data"),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
                "-E",
                "UTF8",
            ],
            check=True,
            capture_output=True,
            **_run_as(),
        )
        cluster = Cluster(directory, free_port())
        try:
            cluster.start()
            yield cluster.url, cluster
        finally:
            cluster.stop()
