"""Authentication in-process, on PostgreSQL: CPU per call on a cache hit and without the cache,
queries on a miss, and the memory of a full cache.

    make bench            # after the throughput benchmark; or .venv/bin/python bench/auth_cost.py

DATABASE_URL defaults to postgres://postgres@127.0.0.1:5432/voxkeys_bench. It migrates the
database, creates an account with API_KEY_CACHE_SIZE (default 10,000) keys, then, in this one
process (as a gunicorn worker would):

1. times `check_key()` on a cache hit and with the cache off (the direct lookup), as CPU time
   (time.process_time) per call over interleaved batches, fastest and median batch;
2. counts the queries of a miss and of a hit;
3. runs whole `GET /api/v1/credits` requests through Django's WSGI handler and middleware,
   with the cache, without it and through the auth-off control middleware, in interleaved
   batches: CPU per request of the process and its PostgreSQL backend, with no server, client
   or network in the way (far steadier than wrk on a shared machine);
4. fills the cache with every key and reports the process's RSS before and after, and what
   the fill left allocated (tracemalloc: RSS alone hides memory Python's allocator reuses).
"""

from __future__ import annotations

import gc
import os
import secrets
import statistics
import subprocess
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/voxkeys_bench"
BATCHES = int(os.environ.get("BENCH_BATCHES", "15"))
BATCH = 2000
WHOLE_BATCH = 500


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def setup(database_url: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "voxkeys.settings",
            "DATABASE_URL": database_url,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "WARNING",
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        }
    )
    from api_throughput import prepare_postgres

    prepare_postgres(database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, check=True
    )
    import django

    # whitenoise warns that collectstatic has not run; the API serves no static files.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()


def backend_cpu_seconds() -> float:
    """CPU time so far of this process's PostgreSQL backend (the server is on this machine)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def create_key_id(secret: str) -> int:
    from apikeys.keys import key_digest
    from apikeys.models import ApiKey

    return ApiKey.objects.get(key_digest=key_digest(secret)).pk


def whole_requests(secret: str, key_id: int) -> dict[str, list[float]]:
    """GET /api/v1/credits through Django's whole WSGI handler and middleware, in this process:
    with the cache, without it, and through the benchmark's auth-off control middleware
    (bench/auth_off.py). Interleaved batches; CPU per request of this process plus its
    database backend. No server, client or network in the way: far steadier than wrk."""
    from django.conf import settings
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory, override_settings

    os.environ["BENCH_CONTROL_KEY_ID"] = str(key_id)
    control_middleware = [
        "bench.auth_off.AuthOffMiddleware" if name.endswith(".ApiKeyMiddleware") else name
        for name in settings.MIDDLEWARE
    ]
    handler = WSGIHandler()
    with override_settings(MIDDLEWARE=control_middleware):
        control = WSGIHandler()
    environ = RequestFactory()._base_environ(
        PATH_INFO="/api/v1/credits", REQUEST_METHOD="GET", HTTP_AUTHORIZATION=f"Bearer {secret}"
    )

    def run(wsgi: WSGIHandler, cache_on: bool) -> float:
        settings.API_KEY_CACHE = cache_on
        started_cpu, started_db = time.process_time(), backend_cpu_seconds()
        for _ in range(WHOLE_BATCH):
            response = wsgi(dict(environ), lambda status, headers: None)
            if response.status_code != 200:
                raise SystemExit(f"the credits request answered {response.status_code}")
            b"".join(response)
            response.close()
        spent = time.process_time() - started_cpu + backend_cpu_seconds() - started_db
        return spent / WHOLE_BATCH * 1e6

    for wsgi, cache_on in ((control, True), (handler, True), (handler, False)):
        run(wsgi, cache_on)  # warm up
    results: dict[str, list[float]] = {"control": [], "cache": [], "direct": []}
    for _ in range(BATCHES):
        results["control"].append(run(control, True))
        results["cache"].append(run(handler, True))
        results["direct"].append(run(handler, False))
    return results


def print_whole_requests(results: dict[str, list[float]]) -> None:
    print(
        f"whole requests in-process (GET /api/v1/credits through Django's WSGI handler, "
        f"{BATCHES} interleaved batches of {WHOLE_BATCH}; CPU of this process and its "
        "database backend per request):"
    )
    for name in ("control", "cache", "direct"):
        print(
            f"  {name:8} fastest {min(results[name]):6.0f} µs, median "
            f"{statistics.median(results[name]):6.0f} µs"
        )
    for name in ("cache", "direct"):
        ratios = [c / x for c, x in zip(results["control"], results[name], strict=True)]
        print(
            f"  control / {name}: CPU ratio {statistics.median(ratios):.3f} (median of batches; "
            f"fastest batches {min(results['control']) / min(results[name]):.3f})"
        )


def main() -> int:
    database_url = os.environ.get("DATABASE_URL") or DEFAULT_DATABASE_URL
    if not database_url.startswith(("postgres", "pgsql")):
        print("auth_cost.py measures the cache, which needs PostgreSQL: skipped on SQLite.")
        return 0
    setup(database_url)

    from django.conf import settings
    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext

    from accounts.models import Account, Membership, User
    from apikeys.auth.cache import process_cache
    from apikeys.auth.check import check_key
    from apikeys.keys import generate_key, key_digest, masked_key
    from apikeys.models import ApiKey
    from apikeys.services import create_key

    tag = secrets.token_hex(4)
    account = Account.objects.create(
        name=f"Bench cost {tag}", api_key_limit=100_000, api_rate_limit=100_000
    )
    user = User.objects.create_user(f"bench-cost-{tag}@example.test", secrets.token_urlsafe())
    Membership.objects.create(user=user, account=account, role="owner")
    secret = create_key(account=account, user=user, name="bench", scopes=["calls:read"]).secret
    factory = RequestFactory()

    def requests_for(key: str, count: int) -> list:
        return [factory.get("/api/v1/credits", headers={"Authorization": f"Bearer {key}"})] * count

    cache = process_cache.get()
    deadline = time.monotonic() + 10
    while not cache.is_live() and time.monotonic() < deadline:
        time.sleep(0.05)
    if not cache.is_live():
        print("the cache's listener did not connect")
        return 1
    check_key(requests_for(secret, 1)[0])  # a miss, then last_used_at written

    def batch(cache_on: bool) -> float:
        settings.API_KEY_CACHE = cache_on
        requests = requests_for(secret, BATCH)
        started = time.process_time()
        for request in requests:
            check_key(request)
        return (time.process_time() - started) / BATCH * 1e6

    hits, direct = [], []
    for _ in range(BATCHES):  # interleaved: a neighbour's load hurts both alike
        hits.append(batch(True))
        direct.append(batch(False))
    settings.API_KEY_CACHE = True

    whole = whole_requests(secret, create_key_id(secret))
    settings.API_KEY_CACHE = True

    with CaptureQueriesContext(connection) as miss:
        cache.invalidate("all")
        check_key(requests_for(secret, 1)[0])
    with CaptureQueriesContext(connection) as hit:
        check_key(requests_for(secret, 1)[0])

    size = settings.API_KEY_CACHE_SIZE
    secrets_ = [generate_key() for _ in range(size)]
    ApiKey.objects.bulk_create(
        [
            ApiKey(
                account=account,
                name=f"bench {number}",
                key_digest=key_digest(key),
                masked_key=masked_key(key),
                scopes="calls:read calls:write contacts:read",
                created_by=user,
            )
            for number, key in enumerate(secrets_)
        ],
        batch_size=2000,
    )
    cache.invalidate("all")
    gc.collect()
    empty = rss_mb()
    tracemalloc.start()
    for key in secrets_:
        check_key(requests_for(key, 1)[0])
    gc.collect()
    retained, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    full = rss_mb()

    print(
        f"PostgreSQL, {os.cpu_count()} CPUs, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {BATCHES} interleaved batches of "
        f"{BATCH} check_key() calls each, CPU time of this process per call:"
    )
    print(
        f"  cache hit:    fastest {min(hits):6.1f} µs, median {statistics.median(hits):6.1f} µs"
        f"  ({len(hit)} queries)"
    )
    print(
        f"  direct (off): fastest {min(direct):6.1f} µs, median {statistics.median(direct):6.1f}"
        f" µs  (1 query; plus the database's own CPU)"
    )
    print(f"  miss: {len(miss)} query")
    print(
        f"memory: {len(cache)} keys cached; RSS {empty:.1f} MB with the cache empty, {full:.1f} MB"
        f" full; allocations the fill left behind (tracemalloc): {retained / 2**20:.1f} MB, "
        f"{retained / max(len(cache), 1):.0f} bytes per key"
    )
    print_whole_requests(whole)
    ApiKey.objects.filter(account=account, name__startswith="bench ").delete()
    process_cache.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
