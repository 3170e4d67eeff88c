"""Pages as data grows: each page's median server time and query count at one account's size.

    make page-scale                          # 1,000 keys / 1M events (postgres://…/voxkeys_pagescale_large)
    make page-scale PAGE_SCALE=small         # 10 keys / 1k events;  PAGE_SCALE=medium: 100 / 100k

Seeds one account on PostgreSQL (its own database per size, created and migrated if needed;
DATABASE_URL overrides it) with SQL that PostgreSQL generates itself (`INSERT ... SELECT
generate_series`), so a million events take seconds, not hours:

| size   | active keys | revoked keys | activity events | hourly usage rows | contacts  |
|--------|-------------|--------------|-----------------|-------------------|-----------|
| small  | 10          | 2            | 1,000           | 29,000            | 1,000     |
| medium | 100         | 20           | 100,000         | 290,000           | 100,000   |
| large  | 1,000       | 200          | 1,000,000       | 2,900,000         | 1,000,000 |

A database already seeded at that size is reused (`--reseed` starts again). Then it asks each
page in turn through Django's test client, in-process, with production settings
(bench/page_scale_settings.py: DEBUG off, the cached template loader), one warm-up round and
then PAGE_SCALE_ROUNDS rounds (default 7) interleaved page by page, so noise on this shared
machine falls on every page alike. Server time is the whole request through the middleware;
the query count is CaptureQueriesContext's. `/api/v1/health` is the control: it touches no data.

The deep pages are where the old pages' last pages were: the activity log's second-to-last page
(`?page=N`, and `?before=<id>` for the same place by keyset), the admin changelist's last page
link. Both old and new code read the same URL, so one command measures either tree.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_throughput import prepare_postgres  # noqa: E402


@dataclass(frozen=True, slots=True)
class Size:
    keys: int
    revoked: int
    events: int
    usage_hours: int  # per key
    contacts: int


SIZES = {
    "small": Size(keys=10, revoked=2, events=1_000, usage_hours=2_900, contacts=1_000),
    "medium": Size(keys=100, revoked=20, events=100_000, usage_hours=2_900, contacts=100_000),
    "large": Size(keys=1_000, revoked=200, events=1_000_000, usage_hours=2_900, contacts=1_000_000),
}
EVENTS_PER_PAGE = 50
ROUNDS = int(os.environ.get("PAGE_SCALE_ROUNDS", "7"))
OWNER_EMAIL = "page-scale-owner@example.test"


@dataclass(frozen=True, slots=True)
class Measure:
    label: str
    milliseconds: float
    cpu_milliseconds: float
    queries: int
    status: int
    kilobytes: float


def setup_django(database_url: str) -> None:
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.page_scale_settings",
            "DEBUG": "0",
            "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
            "DATABASE_URL": database_url,
            "LOG_LEVEL": "ERROR",
            # The client-side deadline would cut the seeding's bulk inserts short; the pages
            # keep the server's statement timeout (DATABASE_STATEMENT_TIMEOUT).
            "DATABASE_QUERY_TIMEOUT": "1801",
        }
    )
    import django

    # whitenoise warns that collectstatic has not run; the pages' static files are not measured.
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()


def seed(size: Size, *, reseed: bool) -> None:
    """Create the account, its owner (a superuser, for the admin), keys, events, usage, contacts."""
    from django.db import connection, transaction

    from accounts.models import Account, Membership, User
    from apikeys.services import create_key

    existing = Account.objects.filter(name="Page scale").first()
    if existing is not None and not reseed:
        return
    started = time.monotonic()
    with connection.cursor() as cursor:
        # Bulk inserts and ANALYZE of millions of rows outlast the app's statement timeout.
        cursor.execute("SET statement_timeout = 0")
        for table in (
            "apikeys_keyusage",
            "apikeys_keyevent",
            "voice_contact",
        ):
            cursor.execute(f"TRUNCATE {table} CASCADE")
        cursor.execute("TRUNCATE apikeys_apikey, accounts_account, accounts_user CASCADE")
    with transaction.atomic():
        account = Account.objects.create(
            name="Page scale (seeding)", api_key_limit=size.keys + 10, api_rate_limit=100_000
        )
        owner = User.objects.create_superuser(
            OWNER_EMAIL, secrets.token_urlsafe(), full_name="Owner"
        )
        Membership.objects.create(user=owner, account=account, role=Membership.Role.OWNER)
        create_key(account=account, user=owner, name="Contacts sync", scopes=["contacts:read"])
    with connection.cursor() as cursor:
        params = {"account": account.pk, "owner": owner.pk}
        # Keys: the rest of the active ones, then revoked ones, names that sort and search well.
        cursor.execute(
            """
            INSERT INTO apikeys_apikey (account_id, name, description, environment, key_digest,
                masked_key, scopes, allowed_ips, created_at, created_by_id, last_used_at,
                revoked_at, revoked_by_id)
            SELECT %(account)s, 'Service ' || lpad(g::text, 5, '0'), '',
                CASE WHEN g %% 4 = 0 THEN 'test' ELSE 'live' END,
                md5('d' || g || random()) || md5('e' || g || random()),
                'vx_live_' || substr(md5(g::text), 1, 4) || '…' || substr(md5(g::text), 5, 4),
                'calls:read contacts:read', '', now() - g * interval '1 hour', %(owner)s,
                CASE WHEN g %% 3 = 0 THEN NULL ELSE now() - g * interval '1 minute' END,
                CASE WHEN g > %(active)s THEN now() - g * interval '1 minute' END,
                CASE WHEN g > %(active)s THEN %(owner)s END
            FROM generate_series(2, %(total)s) AS g
            """,
            {**params, "active": size.keys, "total": size.keys + size.revoked},
        )
        # Events: newest first every 30 s, pairs at the same instant (ties broken by id), on
        # every key in turn; a third are "edited".
        cursor.execute(
            """
            WITH keys AS (SELECT array_agg(id ORDER BY id) AS ids FROM apikeys_apikey
                          WHERE account_id = %(account)s)
            INSERT INTO apikeys_keyevent (account_id, api_key_id, related_key_id, event_type,
                actor_id, actor_email, ip_address, user_agent, details, created_at)
            SELECT %(account)s, keys.ids[1 + g %% cardinality(keys.ids)], NULL,
                (ARRAY['created', 'edited', 'revoked'])[1 + g %% 3],
                %(owner)s, %(email)s, '203.0.113.7',
                'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0',
                CASE g %% 3
                    WHEN 0 THEN '{"environment": "live", "scopes": ["calls:read"]}'::jsonb
                    WHEN 1 THEN '{"fields": ["name"], "name": {"old": "a", "new": "b"}}'::jsonb
                    ELSE '{}'::jsonb END,
                now() - (g / 2) * interval '30 seconds'
            FROM keys, generate_series(1, %(events)s) AS g
            """,
            {**params, "email": OWNER_EMAIL, "events": size.events},
        )
        cursor.execute(
            """
            INSERT INTO apikeys_keyusage (api_key_id, hour, scope, status_class, error_code,
                requests)
            SELECT k.id, date_trunc('hour', now()) - h * interval '1 hour', 'contacts:read', 2, '',
                1 + h %% 7
            FROM apikeys_apikey AS k, generate_series(0, %(hours)s - 1) AS h
            WHERE k.account_id = %(account)s AND k.revoked_at IS NULL
            """,
            {**params, "hours": size.usage_hours},
        )
        cursor.execute(
            """
            INSERT INTO voice_contact (account_id, livemode, name, phone, email, created_at,
                updated_at)
            SELECT %(account)s, true, 'Contact ' || g, '+1415' || lpad(g::text, 7, '0'), '',
                now(), now()
            FROM generate_series(1, %(contacts)s) AS g
            """,
            {**params, "contacts": size.contacts},
        )
        cursor.execute("ANALYZE")
        cursor.execute("RESET statement_timeout")
    # Renamed last: a seeding cut short is not taken for a seeded database.
    Account.objects.filter(pk=account.pk).update(name="Page scale")
    print(f"seeded in {time.monotonic() - started:.0f} s", flush=True)


def targets() -> list[tuple[str, str, dict[str, str]]]:
    """Each page's label, URL and extra headers."""
    from django.db import connection

    from accounts.models import Account
    from activity.models import ActivityEvent
    from apikeys.models import ApiKey
    from apikeys.services import create_key

    account = Account.objects.get(name="Page scale")
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")  # finding the old deep pages' places
    owner = account.memberships.get().user
    # A fresh secret each run (the seeded one was shown once and is gone).
    secret = create_key(
        account=account, user=owner, name=f"Bench {secrets.token_hex(3)}", scopes=["contacts:read"]
    ).secret
    events = ActivityEvent.objects.filter(account=account).order_by("-created_at", "-id")
    edited = events.filter(event_type="edited")

    def deep(queryset: object, extra: str = "") -> str:
        total = queryset.count()  # type: ignore[attr-defined]
        page = max(total // EVENTS_PER_PAGE - 1, 1)
        cursor = ""
        if page > 1:
            before = queryset[(page - 1) * EVENTS_PER_PAGE - 1]  # type: ignore[index]
            cursor = f"&before={before.pk}"
        return f"/settings/api-keys/activity/?{extra}page={page}{cursor}"

    key = ApiKey.objects.filter(account=account, revoked_at__isnull=True).order_by("pk").first()
    assert key is not None
    with connection.cursor() as cursor:
        cursor.execute("RESET statement_timeout")
    return [
        ("control: /api/v1/health", "/api/v1/health", {}),
        ("/settings/api-keys/", "/settings/api-keys/", {}),
        ("activity, page 1", "/settings/api-keys/activity/", {}),
        ("activity, deep page", deep(events), {}),
        ("activity ?event=edited, deep", deep(edited, "event=edited&"), {}),
        ("activity ?key=, page 1", f"/settings/api-keys/activity/?key={key.pk}", {}),
        ("admin key events changelist", "/admin/activity/activityevent/", {}),
        ("admin key events, deep page", "ADMIN_DEEP", {}),
        ("the key's page", f"/settings/api-keys/{key.pk}/", {}),
        ("dashboard", "/", {}),
        (
            "contacts API (cursor)",
            "/api/v1/contacts?limit=100",
            {"HTTP_AUTHORIZATION": f"Bearer {secret}"},
        ),
    ]


def measure(rounds: int) -> list[Measure]:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    # A page that fails (an old deep page past the statement timeout) is measured as its 500.
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.get(email=OWNER_EMAIL))
    pages = targets()
    # The admin's deepest page is the last one its own paginator links to.
    changelist = client.get("/admin/activity/activityevent/").content.decode()
    last = max((int(n) for n in re.findall(r"[?&]p=(\d+)", changelist)), default=1)
    pages = [
        (label, f"/admin/activity/activityevent/?p={last}" if url == "ADMIN_DEEP" else url, extra)
        for label, url, extra in pages
    ]
    times: dict[str, list[float]] = {label: [] for label, _, _ in pages}
    cpu_times: dict[str, list[float]] = {label: [] for label, _, _ in pages}
    seen: dict[str, tuple[int, int, int]] = {}
    for round_number in range(rounds + 1):
        for label, url, extra in pages:
            with CaptureQueriesContext(connection) as queries:
                started, cpu_started = time.perf_counter(), time.process_time()
                response = client.get(url, **extra)  # type: ignore[arg-type]
                elapsed = time.perf_counter() - started
                cpu = time.process_time() - cpu_started
            if round_number:  # the first round warms the caches up
                times[label].append(elapsed * 1000)
                cpu_times[label].append(cpu * 1000)
            seen[label] = (len(queries), response.status_code, len(response.content))
    return [
        Measure(
            label,
            statistics.median(times[label]),
            statistics.median(cpu_times[label]),
            *seen[label][:2],
            seen[label][2] / 1024,
        )
        for label, _, _ in pages
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--scale", choices=SIZES, default=os.environ.get("PAGE_SCALE", "large"))
    parser.add_argument("--reseed", action="store_true", help="seed again even if seeded")
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    options = parser.parse_args()
    database_url = (
        os.environ.get("DATABASE_URL")
        or f"postgres://postgres@127.0.0.1:5432/voxkeys_pagescale_{options.scale}"
    )
    if not database_url.startswith(("postgres", "pgsql")):
        sys.exit("bench/page_scale.py needs PostgreSQL (DATABASE_URL=postgres://...).")
    prepare_postgres(database_url)
    setup_django(database_url)
    # Indexing millions of rows outlasts the app's statement timeout: migrate as an operator
    # would for such a migration, with a longer one.
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_STATEMENT_TIMEOUT": "1800", "DATABASE_QUERY_TIMEOUT": "1801"},
        check=True,
    )
    size = SIZES[options.scale]
    seed(size, reseed=options.reseed)
    print(
        f"{options.scale}: {size.keys:,} active keys, {size.events:,} events, "
        f"{size.keys * size.usage_hours:,} usage rows, {size.contacts:,} contacts; "
        f"median of {options.rounds} rounds, in-process"
    )
    print(f"{'page':32} {'median ms':>10} {'CPU ms':>8} {'queries':>8} {'status':>7} {'KB':>8}")
    for row in measure(options.rounds):
        print(
            f"{row.label:32} {row.milliseconds:10.1f} {row.cpu_milliseconds:8.1f} {row.queries:8d}"
            f" {row.status:7d} {row.kilobytes:8.1f}"
        )


if __name__ == "__main__":
    main()
