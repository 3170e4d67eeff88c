"""Scale test: two gunicorn servers against one PostgreSQL, checked over real HTTP.

    make scale-test        # DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/voxkeys_scale

Starts two servers, A and B (2 sync workers each, production settings, as `make bench` does) on
free 127.0.0.1 ports against one PostgreSQL database (created and migrated if needed; REDIS_URL
passes through), then checks:

1. changes reach every worker: while both servers are asked with a key from 6 threads, the key
   is revoked on A's page, by the admin's action on A, by raw SQL; it expires; a scope is removed
   (edit_key); its account is suspended (the ORM). No request sent 50 ms or more after the
   commit (or the expiry) succeeds; the first refusal and the last success are reported.
   Then every worker's cache listener is terminated (pg_terminate_backend) and a key revoked at
   once: nothing stale is served, and the listeners come back;
2. key-limit race: 30 concurrent create submissions (15 sessions on each server) into an account
   with room for 3 keys create exactly 3;
3. mixed load (SCALE_LOAD_SECONDS, default 60) on both servers: no 5xx; p50/p99 and the
   workers' memory before and after;
4. kill -9 of one of A's workers mid-load: at most the requests in flight fail, A keeps answering;
5. the key table's column type changed mid-load (ALTER TABLE): no 5xx;
6. database paused (SIGSTOP of a private PostgreSQL cluster, never the shared one): the API and
   the pages answer 503 within the deadline, and both servers recover once it resumes;
7. webhooks, a worker killed with kill -9 mid-delivery (the local receiver holds each request
   KILL_HOLD s): every event is still delivered once the stalled job is recovered and the
   attempt's lease has passed, and the repeats carry the same webhook-id;
8. webhooks, two workers and a receiver answering at once: each event delivered exactly once
   (distinct webhook-ids and duplicates counted at the receiver).

It prints a table of the results and exits non-zero if any check failed. SCALE_CHECKS=changes,
listeners runs only the checks whose names contain one of those words.
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlencode, urlsplit

from api_throughput import (
    PYTHON,
    ROOT,
    bench_environment,
    free_port,
    prepare_postgres,
    start_server,
    stop_server,
)
from webhook_receiver import receiving

if TYPE_CHECKING:
    from tests.private_postgres import Cluster

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/voxkeys_scale"
LOAD_SECONDS = int(os.environ.get("SCALE_LOAD_SECONDS", "60"))
CLIENT_THREADS = 8
RACE_SUBMISSIONS = 30
RACE_KEY_LIMIT = 3
KILL_LOAD_SECONDS = 10
PAUSE_SECONDS = 8
# How soon both servers must answer 200 again once the paused database resumes.
RECOVERY_BUDGET = 2.0
REQUEST_TIMEOUT = 30


# -- HTTP ------------------------------------------------------------------------------------


@dataclass
class Sample:
    """One request of a load: what was asked, when, and the answer (status 0: no answer)."""

    kind: str
    port: int
    sent: float
    done: float
    status: int
    error: str = ""

    @property
    def failed(self) -> bool:
        return self.status == 0 or self.status >= 500


def http_request(
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> tuple[int, list[tuple[str, str]], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def timed_get(kind: str, port: int, path: str, headers: dict[str, str]) -> Sample:
    sent = time.monotonic()
    try:
        status, _, _ = http_request(port, "GET", path, headers)
    except (OSError, http.client.HTTPException) as error:
        return Sample(kind, port, sent, time.monotonic(), 0, type(error).__name__)
    return Sample(kind, port, sent, time.monotonic(), status)


class HiddenInputs(HTMLParser):
    """Collect a page's hidden form fields (CSRF token, creation token, account)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("type") == "hidden" and values.get("name"):
            self.fields[values["name"] or ""] = values.get("value") or ""


def hidden_fields(html: bytes) -> dict[str, str]:
    parser = HiddenInputs()
    parser.feed(html.decode())
    return parser.fields


class Browser:
    """A signed-in member's browser, as far as the pages care: cookies, CSRF tokens, forms."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, fields: dict[str, str | list[str]] | None = None
    ) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if fields is not None:
            body = urlencode(fields, doseq=True).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            headers["Origin"] = f"http://127.0.0.1:{self.port}"
        status, response_headers, content = http_request(self.port, method, path, headers, body)
        for name, value in response_headers:
            if name.lower() != "set-cookie":
                continue
            cookie_name, _, rest = value.partition("=")
            cookie_value, _, attributes = rest.partition(";")
            if cookie_value in ("", '""') or "max-age=0" in attributes.lower():
                self.cookies.pop(cookie_name, None)
            else:
                self.cookies[cookie_name] = cookie_value
        return status, content

    def submit(self, path: str, fields: dict[str, str | list[str]]) -> tuple[int, bytes]:
        """GET the form at `path`, then POST it with its hidden fields plus `fields`."""
        status, page = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}")
        return self.request("POST", path, {**hidden_fields(page), **fields})

    def log_in(self, email: str, password: str) -> None:
        status, _ = self.submit("/login/", {"username": email, "password": password})
        if status != 302 or "sessionid" not in self.cookies:
            raise RuntimeError(f"signing in as {email} answered {status}")


class Load:
    """Client threads that each send `targets` in turn, alternating between `ports`."""

    def __init__(
        self,
        ports: list[int],
        targets: list[tuple[str, str, dict[str, str]]],
        threads: int = CLIENT_THREADS,
        interval: float = 0.0,
    ) -> None:
        self.ports = ports
        self.targets = targets
        self.threads = [
            threading.Thread(target=self._run, args=(number,), daemon=True)
            for number in range(threads)
        ]
        self.interval = interval
        self.stopping = threading.Event()
        self.samples: list[Sample] = []
        self._lock = threading.Lock()

    def _run(self, number: int) -> None:
        samples = []
        turn = number
        while not self.stopping.is_set():
            kind, path, headers = self.targets[turn % len(self.targets)]
            port = self.ports[(turn // len(self.targets) + number) % len(self.ports)]
            samples.append(timed_get(kind, port, path, headers))
            turn += 1
            if self.interval:
                self.stopping.wait(self.interval)
        with self._lock:
            self.samples += samples

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def status_counts(samples: list[Sample]) -> str:
    counts = Counter(sample.status or sample.error for sample in samples)
    return ", ".join(f"{status}: {count}" for status, count in sorted(counts.items(), key=str))


# -- servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def worker_rss_mb(self) -> list[float]:
        sizes = []
        for pid in self.workers():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    sizes.append(int(line.split()[1]) / 1024)
        return sizes


def start_logged_server(name: str, env: dict[str, str], workdir: Path) -> Server:
    """Start gunicorn (bench's start_server) with its output in a log file, not on the table."""
    port = free_port()
    log = workdir / f"server-{name}.log"
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log.open("ab") as handle:
        os.dup2(handle.fileno(), 1)
        os.dup2(handle.fileno(), 2)
        try:
            process = start_server(env, port)
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
    return Server(name, port, process, log)


def scale_environment(database_url: str) -> dict[str, str]:
    env = bench_environment(database_url)
    env.update(
        {
            # Every failed-key request comes from 127.0.0.1: with the default of 60 a minute,
            # the mixed load would soon be answered 429 before any lookup.
            "API_AUTH_FAILURES_PER_MINUTE": "1000000",
            # Creating and revoking keys email the owners; no SMTP server here.
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
            # The webhook checks' receiver listens on 127.0.0.1.
            "WEBHOOK_ALLOW_PRIVATE_NETWORKS": "1",
            # The staff user that changes keys in the admin signs in with a password only: this
            # checks that the change reaches every worker, the admin's second factor has tests.
            "ADMIN_REQUIRE_2FA": "0",
        }
    )
    return env


def django_shell(env: dict[str, str], script: str) -> dict[str, object]:
    """Run `script` in `manage.py shell`; it prints one JSON object on its last line."""
    result = subprocess.run(
        [PYTHON, "manage.py", "shell", "-c", script],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def manage(env: dict[str, str], *arguments: str) -> None:
    subprocess.run(
        [PYTHON, "manage.py", *arguments, "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )


# Everything the checks need, made through the services as the bench does: an account with a
# key to revoke, a key for the load and a revoked one; an empty account with room for 3 keys.
FIXTURES = """
import json, secrets
from django.conf import settings
from accounts.models import Account, Membership, User
from apikeys.keys import generate_key
from apikeys.services import create_key, revoke_key
tag = secrets.token_hex(4)
password = secrets.token_urlsafe(16)
def owner(account, label):
    user = User.objects.create_user(f"scale-{label}-{tag}@example.test", password)
    Membership.objects.create(user=user, account=account, role="owner")
    return user
account = Account.objects.create(
    name=f"Scale {tag}", credit_balance=5000, api_rate_limit=100_000
)
user = owner(account, "owner")
def key(name):
    return create_key(account=account, user=user, name=name, scopes=["calls:read"])
load, doomed = key("load"), key("revoked")
revoke_key(key=doomed.api_key, user=user)
# One key per change the cache must see at once, and an account to suspend.
changing = {name: key(f"cache: {name}") for name in ("page", "admin", "sql", "expiry", "listener")}
changing["scope"] = create_key(
    account=account, user=user, name="cache: scope", scopes=["calls:read", "contacts:read"]
)
suspendable = Account.objects.create(name=f"Scale suspended {tag}", api_rate_limit=100_000)
changing["suspension"] = create_key(
    account=suspendable, user=owner(suspendable, "suspended"), name="cache", scopes=["calls:read"]
)
staff = User.objects.create_superuser(f"scale-staff-{tag}@example.test", password)
limited = Account.objects.create(
    name=f"Scale race {tag}", api_key_limit=%(limit)d, api_rate_limit=100_000
)
racer = owner(limited, "race")
print(json.dumps({
    "password": password,
    "owner": user.email,
    "racer": racer.email,
    "race_account": limited.pk,
    "valid": load.secret,
    "revoked": doomed.secret,
    "staff": staff.email,
    "changing": {
        name: {"secret": made.secret, "id": made.api_key.pk, "account": made.api_key.account_id}
        for name, made in changing.items()
    },
    "unknown": generate_key(),
    "deadlines": {
        name: getattr(settings, name, None)
        for name in (
            "API_AUTH_STATEMENT_TIMEOUT", "DATABASE_CONNECT_TIMEOUT", "DATABASE_QUERY_TIMEOUT"
        )
    },
}))
"""


# -- checks ----------------------------------------------------------------------------------


@dataclass
class Result:
    check: str
    passed: bool
    figures: str


@dataclass
class Context:
    env: dict[str, str]
    database_url: str
    workdir: Path
    a: Server
    b: Server
    fixtures: dict[str, object]

    def key(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.fixtures[name]}"}


# A change must reach every worker of every server: requests sent this long after its commit
# (or the expiry instant) may not succeed (DESIGN.md, issue 10).
CHANGE_GRACE = 0.050


def changed_key(ctx: Context, name: str) -> dict[str, object]:
    return dict(ctx.fixtures["changing"][name])  # type: ignore[index]  # JSON from the shell


def monotonic_of(wall: float) -> float:
    """The time.monotonic() of a time.time() instant (both clocks of this machine)."""
    return time.monotonic() - (time.time() - wall)


def post_form(browser: Browser, path: str, fields: dict[str, str | list[str]]) -> float:
    """GET the form, POST it; return when the POST's answer came (the commit is before)."""
    status, page = browser.request("GET", path)
    if status != 200:
        raise RuntimeError(f"GET {path} answered {status}")
    status, _ = browser.request("POST", path, {**hidden_fields(page), **fields})
    returned = time.monotonic()
    if status != 302:
        raise RuntimeError(f"POST {path} answered {status}")
    return returned


def revoke_on_the_page(ctx: Context, key: dict[str, object]) -> float:
    browser = Browser(ctx.a.port)
    browser.log_in(str(ctx.fixtures["owner"]), str(ctx.fixtures["password"]))
    return post_form(browser, f"/settings/api-keys/{key['id']}/revoke/", {})


def revoke_in_the_admin(ctx: Context, key: dict[str, object]) -> float:
    browser = Browser(ctx.a.port)
    browser.log_in(str(ctx.fixtures["staff"]), str(ctx.fixtures["password"]))
    fields: dict[str, str | list[str]] = {
        "action": "revoke_selected",
        "_selected_action": [str(key["id"])],
        "index": "0",
    }
    return post_form(browser, "/admin/apikeys/apikey/", fields)


def sql(ctx: Context, statement: str, *params: object) -> tuple[float, list[tuple]]:
    """Run one statement in its own transaction; return when its COMMIT returned, and rows."""
    import psycopg

    with psycopg.connect(ctx.database_url) as connection:
        rows = connection.execute(statement, params).fetchall()  # type: ignore[arg-type]  # our own SQL
        connection.commit()
        return time.monotonic(), rows


def revoke_with_sql(ctx: Context, key: dict[str, object]) -> float:
    committed, _ = sql(
        ctx, "UPDATE apikeys_apikey SET revoked_at = now() WHERE id = %s RETURNING id", key["id"]
    )
    return committed


def let_it_expire(ctx: Context, key: dict[str, object]) -> float:
    """Set an expiry 1.5 s away (a change the cache hears of), then let the clock pass it."""
    _, rows = sql(
        ctx,
        "UPDATE apikeys_apikey SET expires_at = now() + interval '1.5 seconds' WHERE id = %s "
        "RETURNING extract(epoch FROM expires_at)",
        key["id"],
    )
    expires = monotonic_of(float(rows[0][0]))
    time.sleep(max(0.0, expires - time.monotonic()))
    return expires


def remove_the_scope(ctx: Context, key: dict[str, object]) -> float:
    printed = django_shell(
        ctx.env,
        "import json, time\n"
        "from apikeys.models import ApiKey\n"
        "from apikeys.services import edit_key\n"
        f"key = ApiKey.objects.get(pk={key['id']})\n"
        "edit_key(key=key, user=key.created_by, name=key.name, description=key.description,"
        " scopes=['contacts:read'])\n"
        "print(json.dumps({'committed': time.time()}))",
    )
    return monotonic_of(float(printed["committed"]))  # type: ignore[arg-type]  # JSON: a number


def suspend_the_account(ctx: Context, key: dict[str, object]) -> float:
    printed = django_shell(
        ctx.env,
        "import json, time\n"
        "from accounts.models import Account\n"
        f"Account.objects.filter(pk={key['account']}).update(status='suspended')\n"
        "print(json.dumps({'committed': time.time()}))",
    )
    return monotonic_of(float(printed["committed"]))  # type: ignore[arg-type]  # JSON: a number


# name -> (how the change is made, the path asked, the refusal then expected)
CHANGES: dict[str, tuple[Callable[[Context, dict[str, object]], float], str, int]] = {
    "page": (revoke_on_the_page, "/api/v1/credits", 401),
    "admin": (revoke_in_the_admin, "/api/v1/credits", 401),
    "sql": (revoke_with_sql, "/api/v1/credits", 401),
    "expiry": (let_it_expire, "/api/v1/credits", 401),
    "scope": (remove_the_scope, "/api/v1/calls", 403),
    "suspension": (suspend_the_account, "/api/v1/calls", 403),
}
CHANGE_TITLES = {
    "page": "revoked on the page",
    "admin": "revoked by the admin action",
    "sql": "revoked by raw SQL",
    "expiry": "expiry reached",
    "scope": "scope removed",
    "suspension": "account suspended",
}


def cache_states(ctx: Context, asks: int = 12) -> str:
    """What the readiness check says of the answering worker's cache, asked on A and B."""
    counts: Counter[str] = Counter()
    for port in (ctx.a.port, ctx.b.port):
        for _ in range(asks):
            _, _, body = http_request(port, "GET", "/api/v1/health/ready")
            counts[json.loads(body).get("auth_cache", "?")] += 1
    return ", ".join(f"{state} {count}" for state, count in sorted(counts.items()))


def watch(
    ctx: Context, key: dict[str, object], path: str, refused: int, change: Callable[[], float]
) -> tuple[bool, str]:
    """Ask A and B with the key from 6 threads while `change()` runs; judge what came after."""
    headers = {"Authorization": f"Bearer {key['secret']}"}
    with Load([ctx.a.port, ctx.b.port], [("key", path, headers)], threads=6) as load:
        time.sleep(1.0)  # every worker has answered with the key: it is in their caches
        committed = change()
        time.sleep(1.0)
    samples = load.samples
    early = [s for s in samples if s.done < committed and s.status == 200]
    late = [s for s in samples if s.sent >= committed + CHANGE_GRACE]
    successes = [s for s in late if s.status == 200]
    wrong = [s for s in late if s.status != refused]
    refusals = sorted(s.sent for s in samples if s.status == refused)
    last_success = max((s.sent for s in samples if s.status == 200), default=committed)
    first_refusal = f"{1000 * (refusals[0] - committed):+.1f} ms" if refusals else "none"
    figures = (
        f"{len(early)} successes before; {len(late)} requests sent >= 50 ms after, "
        f"{len(successes)} succeeded ({status_counts(late)}); first refusal sent "
        f"{first_refusal}, last success sent {1000 * (last_success - committed):+.1f} ms"
    )
    return bool(early and late and not successes and not wrong), figures


def check_changes_reach_every_worker(ctx: Context) -> Result:
    """Six changes, each made while both servers are asked with the key it concerns."""
    states = cache_states(ctx)
    lines, passed = [], "on" in states
    for name, (make, path, refused) in CHANGES.items():
        key = changed_key(ctx, name)
        ok, figures = watch(ctx, key, path, refused, lambda make=make, key=key: make(ctx, key))
        passed = passed and ok
        lines.append(f"{CHANGE_TITLES[name]}: {'pass' if ok else 'FAIL'}, {figures}")
        print(f"   {lines[-1]}", flush=True)
    figures = f"caches before (readiness): {states}; " + "; ".join(lines)
    return Result("changes reach every worker", passed, figures)


def listener_pids(ctx: Context) -> list[int]:
    _, rows = sql(
        ctx,
        "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND datname = "
        "current_database()",
        "voxkeys auth cache listener",
    )
    return [row[0] for row in rows]


def cache_off_lines(ctx: Context) -> int:
    """How often the servers' logs say a worker's cache went off (its listener lost)."""
    return sum(s.log.read_text(errors="replace").count("API key cache off") for s in [ctx.a, ctx.b])


def check_listener_killed(ctx: Context) -> Result:
    """Terminate every listener's connection, then revoke a key at once: the caches are off
    (so the database answers) until their listeners are back, and come back empty."""
    key = changed_key(ctx, "listener")
    before = listener_pids(ctx)
    logs_before = cache_off_lines(ctx)

    def kill_then_revoke() -> float:
        sql(ctx, "SELECT pg_terminate_backend(pid) FROM unnest(%s::int[]) AS pid", before)
        return revoke_with_sql(ctx, key)

    ok, figures = watch(ctx, key, "/api/v1/credits", 401, kill_then_revoke)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and len(set(listener_pids(ctx)) - set(before)) < len(before):
        time.sleep(0.1)
    after = listener_pids(ctx)
    noticed = cache_off_lines(ctx)
    states = cache_states(ctx)
    figures = (
        f"{len(before)} listeners terminated, {noticed - logs_before} logged 'API key cache "
        f"off', {len(set(after) - set(before))} new listeners; {figures}; caches after: {states}"
    )
    passed = ok and len(before) >= 4 and not set(after) & set(before) and "off" not in states
    return Result("listeners killed", passed, figures)


def check_key_limit_race(ctx: Context) -> Result:
    """30 sessions, half on each server, submit the create form at once; the limit is 3."""
    browsers = [
        Browser(ctx.a.port if number % 2 == 0 else ctx.b.port) for number in range(RACE_SUBMISSIONS)
    ]
    forms: list[dict[str, str]] = [{} for _ in browsers]
    path = "/settings/api-keys/new/"

    def prepare(number: int) -> None:
        browser = browsers[number]
        browser.log_in(str(ctx.fixtures["racer"]), str(ctx.fixtures["password"]))
        status, page = browser.request("GET", path)
        if status != 200:
            raise RuntimeError(f"the create form answered {status}")
        forms[number] = hidden_fields(page)

    run_threads(prepare, len(browsers), concurrency=6)
    barrier = threading.Barrier(len(browsers))
    answers: list[tuple[int, bytes]] = [(0, b"")] * len(browsers)

    def submit(number: int) -> None:
        fields = {
            **forms[number],
            "name": f"race {number}",
            "scopes": ["calls:read"],
            "expiration": "90",
            "environment": "live",
        }
        barrier.wait(timeout=60)
        try:
            answers[number] = browsers[number].request("POST", path, fields)
        except (OSError, http.client.HTTPException) as error:
            answers[number] = (0, type(error).__name__.encode())

    started = time.monotonic()
    run_threads(submit, len(browsers), concurrency=len(browsers))
    elapsed = time.monotonic() - started
    created = sum(1 for status, body in answers if status == 200 and b"vxp_live_" in body)
    refused = sum(1 for status, body in answers if status == 403 and b"Key limit reached" in body)
    errors = sum(1 for status, _ in answers if status == 0 or status >= 500)
    import psycopg

    with psycopg.connect(ctx.database_url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM apikeys_apikey WHERE account_id = %s AND revoked_at IS NULL",
            (ctx.fixtures["race_account"],),
        ).fetchone()
    in_database = row[0] if row else -1
    statuses = Counter(status for status, _ in answers)
    figures = (
        f"{RACE_SUBMISSIONS} POSTs in {elapsed:.2f} s: {created} created, {refused} refused "
        f"(limit), {errors} 5xx/errors; statuses {dict(sorted(statuses.items()))}; "
        f"active keys in the database: {in_database}"
    )
    passed = (
        created == RACE_KEY_LIMIT
        and in_database == RACE_KEY_LIMIT
        and errors == 0
        and refused == RACE_SUBMISSIONS - RACE_KEY_LIMIT
    )
    return Result("key-limit race", passed, figures)


def run_threads(function: Callable[[int], None], count: int, concurrency: int) -> None:
    """Call function(0..count-1) on `concurrency` threads; re-raise the first error."""
    errors: list[BaseException] = []
    numbers = iter(range(count))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                number = next(numbers, None)
            if number is None:
                return
            try:
                function(number)
            except BaseException as error:  # noqa: BLE001 - re-raised in the caller
                errors.append(error)
                return

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    if errors:
        raise errors[0]


def mixed_targets(ctx: Context) -> tuple[list[tuple[str, str, dict[str, str]]], dict[str, int]]:
    """The mixed load's requests and the status each must get."""
    valid = ctx.key("valid")
    targets = [
        ("valid credits", "/api/v1/credits", valid),
        ("valid calls", "/api/v1/calls", valid),
        ("unknown key", "/api/v1/credits", ctx.key("unknown")),
        ("revoked key", "/api/v1/credits", ctx.key("revoked")),
        ("malformed key", "/api/v1/credits", {"Authorization": "Bearer vxp_live_nope"}),
        ("no key", "/api/v1/calls", {}),
        ("missing scope", "/api/v1/contacts", valid),
        ("health", "/api/v1/health", valid),
    ]
    expected = {
        "valid credits": 200,
        "valid calls": 200,
        "unknown key": 401,
        "revoked key": 401,
        "malformed key": 401,
        "no key": 401,
        "missing scope": 403,
        "health": 200,
    }
    return targets, expected


def rss(servers: list[Server]) -> str:
    return ", ".join(
        f"{server.name} " + "+".join(f"{size:.0f}" for size in server.worker_rss_mb()) + " MB"
        for server in servers
    )


def check_mixed_load(ctx: Context) -> Result:
    targets, expected = mixed_targets(ctx)
    servers = [ctx.a, ctx.b]
    rss_before = rss(servers)
    with Load([ctx.a.port, ctx.b.port], targets) as load:
        time.sleep(LOAD_SECONDS)
    rss_after = rss(servers)
    samples = load.samples
    failed = [sample for sample in samples if sample.failed]
    unexpected = [s for s in samples if not s.failed and s.status != expected[s.kind]]
    latencies = [1000 * (sample.done - sample.sent) for sample in samples]
    figures = (
        f"{len(samples)} requests in {LOAD_SECONDS} s ({len(samples) / LOAD_SECONDS:.0f}/s, "
        f"{CLIENT_THREADS} threads): {len(failed)} 5xx/errors, {len(unexpected)} other "
        f"unexpected; p50 {percentile(latencies, 0.5):.1f} ms, p99 "
        f"{percentile(latencies, 0.99):.1f} ms; worker RSS {rss_before} -> {rss_after}"
    )
    if unexpected:
        figures += f" (unexpected: {status_counts(unexpected)})"
    return Result("mixed load", not failed and not unexpected and bool(samples), figures)


def check_worker_kill(ctx: Context) -> Result:
    targets, _ = mixed_targets(ctx)
    workers_before = ctx.a.workers()
    victim = workers_before[0]
    with Load([ctx.a.port], targets) as load:
        time.sleep(3)
        killed = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        time.sleep(KILL_LOAD_SECONDS - 3)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        workers_after = ctx.a.workers()
        if len(workers_after) == len(workers_before) and victim not in workers_after:
            break
        time.sleep(0.2)
    health = timed_get("health", ctx.a.port, "/api/v1/health", {})
    samples = load.samples
    failed = [sample for sample in samples if sample.failed]
    answered_after = [s for s in samples if s.sent > killed + 1 and not s.failed]
    figures = (
        f"{len(samples)} requests to A in {KILL_LOAD_SECONDS} s, worker {victim} killed at 3 s: "
        f"{len(failed)} failed ({status_counts(failed) or 'none'}; limit {CLIENT_THREADS}); "
        f"{len(answered_after)} answered from 1 s after the kill; workers "
        f"{workers_before} -> {workers_after}; health {health.status}"
    )
    passed = (
        len(failed) <= CLIENT_THREADS
        and bool(answered_after)
        and health.status == 200
        and len(workers_after) == len(workers_before)
        and victim not in workers_after
    )
    return Result("kill -9 of a worker", passed, figures)


SCOPES_TYPE = "ALTER TABLE apikeys_apikey ALTER COLUMN scopes TYPE varchar(%d)"


def scopes_length(database_url: str) -> int:
    import psycopg

    with psycopg.connect(database_url) as connection:
        row = connection.execute(
            "SELECT character_maximum_length FROM information_schema.columns "
            "WHERE table_name = 'apikeys_apikey' AND column_name = 'scopes'"
        ).fetchone()
    return int(row[0]) if row else 0


def alter_scopes(database_url: str, length: int) -> float:
    """Change the scopes column's type; return how long the ALTER took."""
    import psycopg

    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("SET lock_timeout = '10s'")
        connection.execute(SCOPES_TYPE % length)  # type: ignore[arg-type]  # our own SQL
    return time.monotonic() - started


def check_column_change(ctx: Context) -> Result:
    targets, expected = mixed_targets(ctx)
    # Mostly valid keys: the lookup whose prepared statement the type change invalidates.
    targets = [targets[0], targets[1], targets[0], targets[2], targets[7]]
    try:
        with Load([ctx.a.port, ctx.b.port], targets) as load:
            time.sleep(2)
            widen = alter_scopes(ctx.database_url, 300)
            changed = time.monotonic()
            time.sleep(3)
            narrow = alter_scopes(ctx.database_url, 200)
            time.sleep(3)
    finally:
        if scopes_length(ctx.database_url) != 200:
            alter_scopes(ctx.database_url, 200)
    samples = load.samples
    failed = [sample for sample in samples if sample.failed]
    unexpected = [s for s in samples if not s.failed and s.status != expected[s.kind]]
    after = [sample for sample in samples if sample.sent >= changed]
    figures = (
        f"{len(samples)} requests on A and B, varchar(200)->(300) at 2 s ({widen * 1000:.0f} ms)"
        f" and back at 5 s ({narrow * 1000:.0f} ms): {len(failed)} 5xx/errors"
        f" ({status_counts(failed) or 'none'}), {len(unexpected)} other unexpected; "
        f"{len(after)} sent after the first change"
    )
    return Result("column type changed", not failed and not unexpected, figures)


def cluster_pids(cluster: Cluster) -> list[int]:
    """The cluster's postmaster, then its children (backends and auxiliary processes)."""
    assert cluster.process is not None
    postmaster = cluster.process.pid
    children = Path(f"/proc/{postmaster}/task/{postmaster}/children").read_text().split()
    return [postmaster, *map(int, children)]


def pause_cluster(cluster: Cluster) -> None:
    # Each backend calls setsid(), so a signal to the postmaster's process group (what
    # Cluster.pause() sends) leaves them answering on the connections they already hold.
    cluster.pause()
    for pid in cluster_pids(cluster)[1:]:
        os.kill(pid, signal.SIGSTOP)


def resume_cluster(cluster: Cluster) -> None:
    for pid in cluster_pids(cluster)[1:]:
        os.kill(pid, signal.SIGCONT)
    cluster.resume()


def first_success(port: int, path: str, headers: dict[str, str], since: float) -> float:
    """Ask until the answer is a success; return how long after `since` it came."""
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        sample = timed_get("probe", port, path, headers)
        if sample.status in (200, 302):
            return sample.done - since
        time.sleep(0.05)
    return float("inf")


def check_database_pause(workdir: Path, static_root: str) -> Result:
    """Two fresh servers on a private cluster; pause it, then resume it."""
    # The fault-test helper DESIGN.md asks for; tests/ is not an installed package.
    sys.path.insert(0, str(ROOT))
    from tests.private_postgres import private_postgres

    with private_postgres() as (url, cluster):
        env = scale_environment(url)
        env["STATIC_ROOT"] = static_root
        manage(env, "migrate")
        fixtures = django_shell(env, FIXTURES % {"limit": RACE_KEY_LIMIT})
        deadlines = dict(fixtures["deadlines"])  # type: ignore[call-overload]  # JSON from the shell
        servers: list[Server] = []
        try:
            for name in ("C", "D"):
                servers.append(start_logged_server(name, env, workdir))
            return paused_database(cluster, servers, fixtures, deadlines)
        finally:
            for server in servers:
                stop_server(server.process)


def paused_database(
    cluster: Cluster,
    servers: list[Server],
    fixtures: dict[str, object],
    deadlines: dict[str, int | None],
) -> Result:
    api = ("api", "/api/v1/credits", {"Authorization": f"Bearer {fixtures['valid']}"})
    pages: list[tuple[str, str, dict[str, str]]] = []
    for server in servers:
        browser = Browser(server.port)
        browser.log_in(str(fixtures["owner"]), str(fixtures["password"]))
        cookie = {"Cookie": f"sessionid={browser.cookies['sessionid']}"}
        # /login/ reads the session (a signed-in member is sent on: 302); the key list too.
        pages.append(("page", "/login/", cookie))
        pages.append(("page", "/settings/api-keys/", cookie))
    # One API client and one page client per server: each has a worker to itself, so the
    # time to a 503 is the deadline's, not a queue's.
    loads = [Load([server.port], [api], threads=1, interval=0.2) for server in servers]
    loads += [
        Load([server.port], pages[2 * number : 2 * number + 2], threads=1, interval=0.2)
        for number, server in enumerate(servers)
    ]
    for load in loads:
        load.__enter__()
    try:
        time.sleep(2)
        pause_cluster(cluster)
        paused = time.monotonic()
        try:
            time.sleep(PAUSE_SECONDS)
        finally:
            resume_cluster(cluster)
        resumed = time.monotonic()
        recovery = max(
            first_success(server.port, path, headers, resumed)
            for server in servers
            for _, path, headers in [api, pages[0]]
        )
        time.sleep(2)
    finally:
        for load in loads:
            load.__exit__()
    samples = [sample for load in loads for sample in load.samples]
    # No deadline setting (0): the database layer has no client-side deadline yet. A request
    # may meet a kept connection (the query deadline) or have to open one (the connect timeout).
    limits = {
        kind: max(deadlines.get(name) or 0 for name in (timeout, "DATABASE_CONNECT_TIMEOUT"))
        for kind, timeout in (
            ("api", "API_AUTH_STATEMENT_TIMEOUT"),
            ("page", "DATABASE_QUERY_TIMEOUT"),
        )
    }
    # Sent while the database was stopped: each must get a 503 within its deadline, or (sent
    # shortly before SIGCONT) an ordinary answer once the database is back.
    during = [s for s in samples if paused <= s.sent < resumed]
    slow = [s for s in during if min(s.done, resumed) - s.sent > limits[s.kind] + 0.5]
    wrong = [s for s in during if s.status != 503 and not (s.done >= resumed and s.status < 500)]
    broken = [s for s in samples if s.status == 0 or (s.status >= 500 and s.status != 503)]
    to_503 = {
        kind: [s.done - s.sent for s in during if s.kind == kind and s.status == 503]
        for kind in limits
    }
    settled = resumed + recovery
    after = [s for s in samples if s.sent > settled]
    after_failed = [s for s in after if s.status not in (200, 302)]
    figures = f"paused {PAUSE_SECONDS} s: " + "; ".join(
        f"{name} {len(to_503[kind])} x 503, max {max(to_503[kind], default=0):.2f} s "
        f"(deadline {limits[kind]} s)"
        for kind, name in (("api", "API"), ("page", "pages"))
    )
    figures += (
        f"; sent in the pause: {status_counts(during)}, {len(slow)} over the deadline, "
        f"{len(wrong)} not 503; errors/500s: {status_counts(broken) or 'none'}; "
        f"recovery {recovery:.2f} s after SIGCONT (budget {RECOVERY_BUDGET:.0f} s); "
        f"after it {len(after)} requests, {len(after_failed)} not 200/302"
    )
    passed = (
        all(to_503.values())
        and not slow
        and not wrong
        and not broken
        and recovery <= RECOVERY_BUDGET
        and not after_failed
    )
    return Result("database paused", passed, figures)


# -- webhooks --------------------------------------------------------------------------------

# The workers' settings for the webhook checks: a killed worker's job is READY again after
# JOB_STALL_SECONDS, and its attempt is made again once WEBHOOK_TIMEOUT_SECONDS + 60 s have
# passed since it started (voice.webhooks.delivery.in_flight_lease).
WEBHOOK_TIMEOUT = 3
JOB_STALL = 5
# The receiver holds each request this long in the kill check, so the kill lands mid-POST.
KILL_HOLD = 1.5
KILL_EVENTS = 10
ONCE_EVENTS = 60

# An account with a key that may write contacts, and an endpoint for contact.created at the
# receiver: made through the services, like the fixtures above.
WEBHOOK_FIXTURES = """
import json, secrets
from accounts.models import Account, Membership, User
from apikeys.services import create_key
from voice.webhooks.services import create_webhook
tag = secrets.token_hex(4)
account = Account.objects.create(name=f"Scale hooks {tag}", api_rate_limit=100_000)
user = User.objects.create_user(f"scale-hooks-{tag}@example.test", secrets.token_urlsafe(16))
Membership.objects.create(user=user, account=account, role="owner")
key = create_key(account=account, user=user, name="hooks", scopes=["contacts:write"])
made = create_webhook(account=account, livemode=True, url=%(url)r, events=["contact.created"])
print(json.dumps({"secret": key.secret, "webhook": made.webhook.pk}))
"""


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]


def start_worker(ctx: Context, name: str) -> Worker:
    env = {
        **ctx.env,
        "JOB_STALL_SECONDS": str(JOB_STALL),
        "WEBHOOK_TIMEOUT_SECONDS": str(WEBHOOK_TIMEOUT),
    }
    with (ctx.workdir / f"worker-{name}.log").open("ab") as log:
        process = subprocess.Popen(
            [PYTHON, "manage.py", "run_worker", "--queue-name", "webhooks", "--interval", "0.1"]
            + ["--no-startup-delay", "--worker-id", name],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
    return Worker(name, process)


def stop_workers(workers: list[Worker]) -> None:
    for worker in workers:
        if worker.process.poll() is None:
            worker.process.terminate()
    for worker in workers:
        try:
            worker.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


def create_contacts(ctx: Context, secret: str, count: int, threads: int = 1) -> list[int]:
    """POST `count` contacts through the API, alternating between A and B; their statuses."""
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    statuses: list[int] = [0] * count

    def post(number: int) -> None:
        body = json.dumps({"name": f"Scale {number}", "phone": f"+1415555{number:04d}"})
        port = (ctx.a, ctx.b)[number % 2].port
        try:
            statuses[number], _, _ = http_request(
                port, "POST", "/api/v1/contacts", headers, body.encode()
            )
        except (OSError, http.client.HTTPException):
            statuses[number] = 0

    for start in range(0, count, threads):
        batch = [
            threading.Thread(target=post, args=(number,))
            for number in range(start, min(count, start + threads))
        ]
        for thread in batch:
            thread.start()
        for thread in batch:
            thread.join()
    return statuses


def deliveries(ctx: Context, webhook: int) -> dict[str, str]:
    """The endpoint's deliveries: their event's webhook-id -> status."""
    _, rows = sql(
        ctx,
        "SELECT e.public_id, d.status FROM voice_webhookdelivery d "
        "JOIN voice_webhookevent e ON e.id = d.event_id WHERE d.webhook_id = %s",
        webhook,
    )
    return {str(public_id): str(status) for public_id, status in rows}


def wait_delivered(ctx: Context, webhook: int, count: int, seconds: float) -> dict[str, str]:
    """Wait until the endpoint's `count` deliveries all succeeded, or `seconds` passed."""
    deadline = time.monotonic() + seconds
    while True:
        found = deliveries(ctx, webhook)
        done = sum(status == "succeeded" for status in found.values())
        if (len(found) >= count and done == len(found)) or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def jobs_per_worker(ctx: Context, names: list[str]) -> dict[str, int]:
    """How many webhook jobs each worker has run (django-tasks-db keeps the worker ids)."""
    _, rows = sql(
        ctx,
        "SELECT worker_ids FROM django_tasks_database_dbtaskresult WHERE queue_name = 'webhooks' "
        "AND worker_ids ?| %s",
        names,
    )
    counts = Counter(name for (worker_ids,) in rows for name in worker_ids if name in names)
    return {name: counts[name] for name in names}


def check_webhook_worker_killed(ctx: Context) -> Result:
    tag = secrets.token_hex(3)
    with receiving(hold=KILL_HOLD) as receiver:
        made = django_shell(ctx.env, WEBHOOK_FIXTURES % {"url": receiver.url()})
        webhook = int(made["webhook"])  # type: ignore[call-overload]  # JSON from the shell
        first = start_worker(ctx, f"kill-{tag}-1")
        workers = [first]
        try:
            statuses = create_contacts(ctx, str(made["secret"]), KILL_EVENTS)
            deadline = time.monotonic() + 30
            while not receiver.held() and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(KILL_HOLD / 3)
            in_flight = receiver.held()
            killed = time.monotonic()
            first.process.send_signal(signal.SIGKILL)
            first.process.wait()
            # What a supervisor does: start a worker in its place.
            workers.append(start_worker(ctx, f"kill-{tag}-2"))
            budget = WEBHOOK_TIMEOUT + 60 + JOB_STALL + 30
            found = wait_delivered(ctx, webhook, KILL_EVENTS, budget)
            settled = time.monotonic() - killed
        finally:
            stop_workers(workers)
        received = receiver.received()
    undelivered = [webhook_id for webhook_id, status in found.items() if status != "succeeded"]
    unknown = set(received) - set(found)
    missing = set(found) - set(received)
    duplicated = {webhook_id: n for webhook_id, n in received.items() if n > 1}
    redone = [webhook_id for webhook_id in in_flight if received[webhook_id] > 1]
    figures = (
        f"{KILL_EVENTS} contacts created ({status_counts_of(statuses)}); worker killed with "
        f"{len(in_flight)} delivery in flight (receiver holds {KILL_HOLD} s); "
        f"{len(found) - len(undelivered)}/{len(found)} delivered, all done {settled:.1f} s after "
        f"the kill (JOB_STALL_SECONDS={JOB_STALL}, WEBHOOK_TIMEOUT_SECONDS={WEBHOOK_TIMEOUT}); "
        f"{sum(received.values())} requests, {len(received)} distinct webhook-ids, "
        f"{len(duplicated)} sent twice or more ({sum(duplicated.values())} requests), the "
        f"killed one's made again: {len(redone)}/{len(in_flight)}; unknown ids {len(unknown)}, "
        f"never received {len(missing)}"
    )
    passed = (
        all(status == 201 for status in statuses)
        and len(found) == KILL_EVENTS
        and not undelivered
        and not unknown
        and not missing
        and bool(in_flight)
        and len(redone) == len(in_flight)
    )
    return Result("webhooks: worker killed mid-delivery", passed, figures)


def check_webhook_two_workers(ctx: Context) -> Result:
    tag = secrets.token_hex(3)
    names = [f"once-{tag}-1", f"once-{tag}-2"]
    with receiving() as receiver:
        made = django_shell(ctx.env, WEBHOOK_FIXTURES % {"url": receiver.url()})
        webhook = int(made["webhook"])  # type: ignore[call-overload]  # JSON from the shell
        workers = [start_worker(ctx, name) for name in names]
        try:
            started = time.monotonic()
            statuses = create_contacts(ctx, str(made["secret"]), ONCE_EVENTS, threads=4)
            found = wait_delivered(ctx, webhook, ONCE_EVENTS, 120)
            elapsed = time.monotonic() - started
            # Anything still queued would show as a duplicate: give it a moment to arrive.
            time.sleep(1)
        finally:
            stop_workers(workers)
        received = receiver.received()
    per_worker = jobs_per_worker(ctx, names)
    undelivered = [webhook_id for webhook_id, status in found.items() if status != "succeeded"]
    duplicated = {webhook_id: n for webhook_id, n in received.items() if n > 1}
    figures = (
        f"{ONCE_EVENTS} contacts created on A and B ({status_counts_of(statuses)}); "
        f"{len(found) - len(undelivered)}/{len(found)} delivered in {elapsed:.1f} s; "
        f"{sum(received.values())} requests, {len(received)} distinct webhook-ids, "
        f"{len(duplicated)} duplicated; jobs per worker "
        + ", ".join(f"{name} {count}" for name, count in per_worker.items())
    )
    passed = (
        all(status == 201 for status in statuses)
        and len(found) == ONCE_EVENTS
        and not undelivered
        and set(received) == set(found)
        and not duplicated
    )
    return Result("webhooks: two workers deliver once", passed, figures)


def status_counts_of(statuses: list[int]) -> str:
    return ", ".join(f"{status}: {count}" for status, count in sorted(Counter(statuses).items()))


# -- main ------------------------------------------------------------------------------------

CHECKS: list[tuple[str, Callable[[Context], Result]]] = [
    ("changes reach every worker", check_changes_reach_every_worker),
    ("listeners killed", check_listener_killed),
    ("key-limit race", check_key_limit_race),
    ("mixed load", check_mixed_load),
    ("kill -9 of a worker", check_worker_kill),
    ("column type changed", check_column_change),
    ("webhooks: worker killed mid-delivery", check_webhook_worker_killed),
    ("webhooks: two workers deliver once", check_webhook_two_workers),
]


def selected(name: str) -> bool:
    """SCALE_CHECKS=changes,race runs only the checks whose names contain one of the words."""
    words = [w.strip() for w in os.environ.get("SCALE_CHECKS", "").split(",") if w.strip()]
    return not words or any(word in name for word in words)


def run_check(name: str, check: Callable[[], Result]) -> Result:
    print(f"-- {name} ...", flush=True)
    started = time.monotonic()
    try:
        result = check()
    except Exception as error:  # noqa: BLE001 - one broken check must not hide the others
        traceback.print_exc()
        result = Result(name, False, f"error: {type(error).__name__}: {error}")
    mark = "pass" if result.passed else "FAIL"
    print(f"   {mark} in {time.monotonic() - started:.1f} s: {result.figures}", flush=True)
    return result


def print_table(results: list[Result]) -> None:
    print(f"\nScale test, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n")
    print("| check | result | figures |")
    print("|---|---|---|")
    for result in results:
        figures = result.figures.replace("|", "/")
        print(f"| {result.check} | {'pass' if result.passed else 'FAIL'} | {figures} |")


def show_logs(servers: list[Server]) -> None:
    for server in servers:
        lines = server.log.read_text(errors="replace").splitlines()
        if lines:
            print(f"\n-- last lines of server {server.name}'s log ({len(lines)} lines) --")
            print("\n".join(lines[-15:]))


def main() -> int:
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_url.startswith(("postgres", "pgsql")):
        print("The scale test needs PostgreSQL: set DATABASE_URL=postgres://...", file=sys.stderr)
        return 2
    if "scale" not in urlsplit(database_url).path:
        # It adds accounts and alters a table under load: never a database others work in.
        print(
            "The scale test alters tables and adds accounts: give it a database of its own, "
            f"whose name contains 'scale' (default {DEFAULT_DATABASE_URL}).",
            file=sys.stderr,
        )
        return 2
    # SIGTERM/SIGINT still run the finally blocks, so no server outlives the test.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="voxkeys-scale-"))
    servers: list[Server] = []
    results: list[Result] = []
    try:
        prepare_postgres(database_url)
        env = scale_environment(database_url)
        # The pages need the hashed static files' manifest, as in production.
        env["STATIC_ROOT"] = str(workdir / "static")
        manage(env, "collectstatic")
        manage(env, "migrate")
        if scopes_length(database_url) != 200:  # an earlier run stopped mid-check
            alter_scopes(database_url, 200)
        fixtures = django_shell(env, FIXTURES % {"limit": RACE_KEY_LIMIT})
        for name in ("A", "B"):
            servers.append(start_logged_server(name, env, workdir))
        ctx = Context(env, database_url, workdir, servers[0], servers[1], fixtures)
        redis = "with Redis" if env.get("REDIS_URL") else "without Redis"
        print(
            f"servers A :{servers[0].port} and B :{servers[1].port} (gunicorn, 2 sync workers "
            f"each) on {urlsplit(database_url).path.lstrip('/')}, {redis}",
            flush=True,
        )
        for name, check in CHECKS:
            if selected(name):
                results.append(run_check(name, lambda check=check: check(ctx)))
        if selected("database paused"):
            results.append(
                run_check(
                    "database paused", lambda: check_database_pause(workdir, env["STATIC_ROOT"])
                )
            )
    finally:
        if results and not all(result.passed for result in results):
            show_logs(servers)
        for server in servers:
            stop_server(server.process)
        shutil.rmtree(workdir, ignore_errors=True)
    print_table(results)
    return 0 if all(result.passed for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
