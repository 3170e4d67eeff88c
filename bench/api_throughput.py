"""API throughput: GET /api/v1/credits (with a key) against GET /api/v1/health (no key).

Serves the app with gunicorn (2 sync workers, production settings) on 127.0.0.1 and drives it
with wrk. Both requests carry the same Authorization header and both responses have the same
size (the bench account's name is padded to make the credits body as long as the health body;
the script checks the whole raw responses, headers included, are equally long), so the only
difference measured is what authentication costs: parsing and checking the key, one indexed
query, building the account, and the rate limit (the key's limit is far above the load, and its
RateLimit-* headers are the one difference in size). A third target, health again, is the
control: its ratio to health says how noisy the machine was.

    make bench                                                   # throwaway SQLite file
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/voxkeys_bench make bench

Options: BENCH_DURATION (seconds per run, default 10), BENCH_ROUNDS (default 3),
BENCH_CONNECTIONS (default 8), BENCH_THREADS (default 1). The app's own variables pass through:
REDIS_URL shares the rate limits through Redis, API_RATE_LIMIT_ENABLED=0 turns them off.

Besides requests per second, it reports the server's CPU time per request (the gunicorn
workers, plus their PostgreSQL backends when there are any), read from /proc: on a shared,
noisy machine that figure moves much less than throughput does.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
GUNICORN = str(Path(PYTHON).with_name("gunicorn"))
WORKERS = 2
DURATION = int(os.environ.get("BENCH_DURATION", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
THREADS = int(os.environ.get("BENCH_THREADS", "1"))
WARMUP = 3
# Issue 10's targets for authentication with a warm cache, against the control target.
TARGET_RATIO = 0.90
TARGET_CPU = 0.92
# A round whose control runs differ by more than this share was noisy.
NOISE_BOUND = 0.95


@dataclass
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: str
    cpu_us_per_request: float = 0.0
    database_cpu_us_per_request: float = 0.0


def cpu_seconds(pids: list[int]) -> float:
    """Return the user + system CPU time the processes have used so far."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def server_pids(
    server: subprocess.Popen[bytes], database_url: str, application_name: str = ""
) -> tuple[list[int], list[int]]:
    """Return the gunicorn workers' pids and, on PostgreSQL, their backends' pids (those whose
    application_name is `application_name`, when given: one server's among several)."""
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    pids: list[int] = []
    if database_url.startswith(("postgres", "pgsql")):
        import psycopg

        name = urlsplit(database_url).path.lstrip("/")
        with psycopg.connect(database_url) as connection:
            rows = connection.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
                " AND (%s = '' OR application_name = %s)",
                (name, application_name, application_name),
            ).fetchall()
        pids += [row[0] for row in rows]
    return [int(pid) for pid in children], pids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def raw_get(port: int, path: str, headers: dict[str, str]) -> bytes:
    """Return the raw HTTP response (status line, headers, body) to one GET."""
    lines = [f"GET {path} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def split_response(raw: bytes) -> tuple[int, bytes, bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    # The Date header has a fixed width, so equal lengths stay equal from second to second.
    return status, head, body


def bench_environment(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "voxkeys.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "SECURE_SSL_REDIRECT": "0",
            "ALLOWED_HOSTS": "127.0.0.1",
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "WARNING",
            # whitenoise warns that collectstatic has not run; the API serves no static files.
            "PYTHONWARNINGS": "ignore:No directory at:UserWarning",
        }
    )
    # REDIS_URL passes through: with it the rate limits are shared through Redis (the shared case).
    return env


def prepare_postgres(database_url: str) -> None:
    """Create the database named in the URL if it does not exist yet."""
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    admin_url = parts._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def create_key(env: dict[str, str], account_name: str) -> tuple[str, int]:
    """Create a fresh account, owner and key through the services; return its secret and id."""
    script = (
        "from accounts.models import Account, Membership, User\n"
        "from apikeys.services import create_key\n"
        "import secrets, sys\n"
        "tag = secrets.token_hex(4)\n"
        # The admin's highest rate limit: the bench measures what limiting costs under the limit.
        f"account = Account.objects.create(name={account_name!r}, credit_balance=5000, "
        "api_rate_limit=100_000)\n"
        "user = User.objects.create_user(f'bench-{tag}@example.test', secrets.token_urlsafe())\n"
        "Membership.objects.create(user=user, account=account, role='owner')\n"
        "key = create_key(account=account, user=user, name=f'bench {tag}', scopes=['calls:read'])\n"
        "sys.stdout.write(f'{key.secret} {key.api_key.pk}')\n"
    )
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    secret, key_id = result.stdout.strip().splitlines()[-1].split()
    return secret, int(key_id)


def parse_duration_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()  # type: ignore[union-attr]  # wrk prints it
    return float(number) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def run_wrk(
    url: str,
    headers: dict[str, str],
    duration: int,
    pids: tuple[list[int], list[int]] = ([], []),
) -> WrkResult:
    app_pids, database_pids = pids
    app_before, database_before = cpu_seconds(app_pids), cpu_seconds(database_pids)
    command = ["wrk", f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], check=True, capture_output=True, text=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output)[1])  # type: ignore[index]  # wrk prints it
    p50 = parse_duration_ms(re.search(r"\s50%\s+(\S+)", output)[1])  # type: ignore[index]  # wrk prints it
    p99 = parse_duration_ms(re.search(r"\s99%\s+(\S+)", output)[1])  # type: ignore[index]  # wrk prints it
    requests = int(re.search(r"(\d+) requests in", output)[1])  # type: ignore[index]  # wrk prints it
    errors = "; ".join(
        line.strip() for line in output.splitlines() if "Non-2xx" in line or "Socket errors" in line
    )
    app_us = (cpu_seconds(app_pids) - app_before) / max(requests, 1) * 1e6
    database_us = (cpu_seconds(database_pids) - database_before) / max(requests, 1) * 1e6
    return WrkResult(rps, p50, p99, requests, errors, app_us + database_us, database_us)


def start_server(env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            GUNICORN,
            "voxkeys.wsgi:application",
            "--workers",
            str(WORKERS),
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,  # its own process group, so stopping it stops every worker
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with status {server.returncode}")
        try:
            if split_response(raw_get(port, "/api/v1/health", {}))[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not answer /api/v1/health within 30 s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


@dataclass
class Server:
    """One gunicorn serving the app one way (with the key cache, without it, or the control)."""

    name: str
    env: dict[str, str]
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    pids: tuple[list[int], list[int]] = ([], [])

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@dataclass
class Target:
    name: str
    server: Server
    path: str
    results: list[WrkResult] = field(default_factory=list)


def servers_for(env: dict[str, str], engine: str) -> dict[str, Server]:
    """The servers to compare. Each has its own application_name, so its PostgreSQL backends'
    CPU is counted for it alone."""
    variants = {
        "cache": {"API_KEY_CACHE": "1"},
        "direct": {"API_KEY_CACHE": "0"},
        "control": {"DJANGO_SETTINGS_MODULE": "bench.control_settings"},
    }
    if engine != "PostgreSQL":
        del variants["cache"]  # the cache needs LISTEN/NOTIFY: SQLite keeps the direct lookup
    return {
        name: Server(name, {**env, **extra, "PGAPPNAME": f"voxkeys-bench-{name}"})
        for name, extra in variants.items()
    }


def median_of(results: list[WrkResult], attribute: str) -> float:
    return statistics.median(getattr(result, attribute) for result in results)


def report(targets: dict[str, Target], rounds: list[dict[str, WrkResult]]) -> None:
    print()
    for target in targets.values():
        results = [r[target.name] for r in rounds]
        print(
            f"{target.name:15} {median_of(results, 'requests_per_second'):8.0f} req/s   "
            f"p50 {median_of(results, 'p50_ms'):6.2f} ms   p99 {median_of(results, 'p99_ms'):6.2f}"
            f" ms   server CPU {median_of(results, 'cpu_us_per_request'):5.0f} µs/request"
            f" (database {median_of(results, 'database_cpu_us_per_request'):3.0f})   (medians)"
        )
    print()
    for name, target in (("credits cache", TARGET_RATIO), ("credits direct", None)):
        if name not in targets:
            continue
        rps = [(r[name].requests_per_second, r["control"].requests_per_second) for r in rounds]
        throughput = [mine / control for mine, control in rps]
        cpu = [r["control"].cpu_us_per_request / r[name].cpu_us_per_request for r in rounds]
        health = [r[name].requests_per_second / r["health"].requests_per_second for r in rounds]
        verdict = ""
        if target is not None:
            met = statistics.median(throughput) >= target and statistics.median(cpu) >= TARGET_CPU
            verdict = f"  ({'meets' if met else 'misses'} {target} and {TARGET_CPU})"
        print(
            f"{name:15} / control: throughput {statistics.median(throughput):.3f}, CPU "
            f"{statistics.median(cpu):.3f}{verdict}   (rounds: "
            f"{', '.join(f'{t:.3f}' for t in throughput)} / {', '.join(f'{c:.3f}' for c in cpu)})"
        )
        print(f"{name:15} / health:  throughput {statistics.median(health):.3f}")
    print(
        f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"({os.cpu_count()} CPUs)"
    )


def main() -> int:
    if shutil.which("wrk") is None:
        print("wrk is missing: apt-get install wrk (make bench does it).", file=sys.stderr)
        return 1
    workdir = Path(tempfile.mkdtemp(prefix="voxkeys-bench-"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{workdir / 'bench.sqlite3'}"
    engine = "PostgreSQL" if database_url.startswith(("postgres", "pgsql")) else "SQLite"
    if engine == "PostgreSQL":
        prepare_postgres(database_url)
    env = bench_environment(database_url)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    servers = servers_for(env, engine)
    # SIGTERM/SIGINT still run the finally block below, so gunicorn never outlives the bench.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        first = next(iter(servers.values()))
        first.port = free_port()
        first.process = start_server(first.env, first.port)
        _, _, health_body = split_response(raw_get(first.port, "/api/v1/health", {}))
        # Pad the account's name so the credits body is exactly as long as the health body.
        bare = len(b'{"balance": 5000, "account": "", "livemode": true}')
        account_name = ("Bench " + "x" * 200)[: len(health_body) - bare]
        secret, key_id = create_key(env, account_name)
        for server in servers.values():
            server.env["BENCH_CONTROL_KEY_ID"] = str(key_id)
            if server.process is None:
                server.port = free_port()
                server.process = start_server(server.env, server.port)
        headers = {"Authorization": f"Bearer {secret}"}
        check_same_size(first.port, headers)

        main_server = servers.get("cache", servers["direct"])
        targets = {
            "health": Target("health", main_server, "/api/v1/health"),
            **{
                f"credits {name}": Target(f"credits {name}", servers[name], "/api/v1/credits")
                for name in ("cache", "direct")
                if name in servers
            },
            "control": Target("control", servers["control"], "/api/v1/credits"),
        }
        print(
            f"\n{engine}, gunicorn {WORKERS} sync workers per server, {os.cpu_count()} CPUs, "
            f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; each run: "
            f"wrk -t{THREADS} -c{CONNECTIONS} -d{DURATION}s --latency "
            '-H "Authorization: Bearer <key>" <url>'
        )
        for target in targets.values():
            run_wrk(target.server.url(target.path), headers, WARMUP)
        for server in servers.values():  # after the warm-up: connections are open
            assert server.process is not None
            server.pids = server_pids(server.process, database_url, server.env["PGAPPNAME"])

        rounds = measure_rounds(targets, headers)
        report(targets, rounds)
        return 0
    finally:
        for server in servers.values():
            if server.process is not None:
                stop_server(server.process)
        shutil.rmtree(workdir, ignore_errors=True)


def check_same_size(port: int, headers: dict[str, str]) -> None:
    """The credits and health answers must be equally long (apart from RateLimit-* headers,
    which are part of what is measured)."""
    health_status, health_head, health_body = split_response(
        raw_get(port, "/api/v1/health", headers)
    )
    credits_status, credits_head, credits_body = split_response(
        raw_get(port, "/api/v1/credits", headers)
    )
    if (health_status, credits_status) != (200, 200):
        raise SystemExit(f"unexpected statuses: health {health_status}, credits {credits_status}")
    head_lines = credits_head.split(b"\r\n")
    credits_head = b"\r\n".join(line for line in head_lines if not line.startswith(b"RateLimit-"))
    print(f"health  {len(health_head)} + {len(health_body)} bytes: {health_body.decode()}")
    print(f"credits {len(credits_head)} + {len(credits_body)} bytes: {credits_body.decode()}")
    if (len(health_head), len(health_body)) != (len(credits_head), len(credits_body)):
        raise SystemExit("the two responses differ in size; adjust the padding")


def measure_rounds(
    targets: dict[str, Target], headers: dict[str, str]
) -> list[dict[str, WrkResult]]:
    """ROUNDS clean rounds. Each runs the control first and again last; a round whose second
    control run differs from its first by more than 5 % was noisy, is reported and repeated
    (up to ROUNDS extra times)."""
    order = ["control", *(name for name in targets if name != "control"), "control again"]
    rounds: list[dict[str, WrkResult]] = []
    attempts = 0
    while len(rounds) < ROUNDS and attempts < 2 * ROUNDS:
        attempts += 1
        results: dict[str, WrkResult] = {}
        for name in order:
            target = targets[name.removesuffix(" again")]
            result = run_wrk(target.server.url(target.path), headers, DURATION, target.server.pids)
            results[name] = result
            print(
                f"  round {attempts} {name:15} {result.requests_per_second:8.0f} req/s"
                f"  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:6.2f} ms"
                f"  server CPU {result.cpu_us_per_request:5.0f} µs/request"
                f" (database {result.database_cpu_us_per_request:3.0f})"
                + (f"  ({result.errors})" if result.errors else "")
            )
            if result.errors:
                raise SystemExit(f"wrk saw errors on {name}: {result.errors}")
        again, control = results["control again"], results["control"]
        drift = again.requests_per_second / control.requests_per_second
        if not NOISE_BOUND <= drift <= 1 / NOISE_BOUND:
            print(f"  round {attempts} NOISY: control again / control = {drift:.3f}; repeated")
            continue
        rounds.append(results)
    if len(rounds) < ROUNDS:
        print(f"NOISY RUN: only {len(rounds)} of {ROUNDS} rounds were clean; run it again later")
    if not rounds:
        raise SystemExit("no clean round")
    return rounds


if __name__ == "__main__":
    sys.exit(main())
