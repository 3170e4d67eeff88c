"""One version's CPU per request and RSS, in this process: run by bench/before_after.py.

    python bench/request_cost.py ROOT       # ROOT: the checkout to measure; prints one JSON line

Uses only what every version since the authentication cache has (the services, the URLs), so
the same script measures an older checkout. `contacts_webhook` is the same create-contact
request for an account with one endpoint subscribed to contact.created (made with the ORM,
which every version since the webhook models has; before the events landed nothing reads it,
after it the request writes the event, its delivery and the delivery's job).
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# This script's folder is on sys.path: the measuring helpers are auth_cost.py's.
from auth_cost import backend_cpu_seconds, rss_mb  # noqa: E402

BATCHES = int(os.environ.get("BENCH_BATCHES", "5"))
BATCH = 400


def prepare(root: Path, database_url: str) -> None:
    import psycopg

    parts = urlsplit(database_url)
    name = parts.path.lstrip("/")
    with psycopg.connect(parts._replace(path="/postgres").geturl(), autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=root, check=True
    )


def webhook_account(tag: str, owner: Any) -> Any:
    """An account with one endpoint subscribed to contact.created (never delivered to here)."""
    from accounts.models import Account, Membership
    from voice.models import Webhook

    account = Account.objects.create(
        name=f"Bench hooks {tag}", api_key_limit=1000, api_rate_limit=100_000
    )
    Membership.objects.create(user=owner, account=account, role="owner")
    Webhook.objects.create(
        account=account, url="https://hooks.example.test/voxkeys", events=["contact.created"]
    )
    return account


def main() -> int:
    root = Path(sys.argv[1]).resolve()
    os.chdir(root)
    sys.path.insert(0, str(root))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "voxkeys.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "testserver",
            "SECURE_SSL_REDIRECT": "0",
            "LOG_LEVEL": "ERROR",
            "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        }
    )
    prepare(root, os.environ["DATABASE_URL"])
    import django

    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    django.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test import RequestFactory

    from accounts.models import Account, Membership, User
    from apikeys.services import create_key

    tag = secrets.token_hex(4)
    account = Account.objects.create(
        name=f"Bench {tag}", api_key_limit=1000, api_rate_limit=100_000, credit_balance=10**9
    )
    user = User.objects.create_user(f"bench-{tag}@example.test", secrets.token_urlsafe())
    Membership.objects.create(user=user, account=account, role="owner")
    secret = create_key(
        account=account, user=user, name="bench", scopes=["contacts:write", "calls:read"]
    ).secret
    webhook_secret = create_key(
        account=webhook_account(tag, user), user=user, name="bench", scopes=["contacts:write"]
    ).secret
    factory = RequestFactory()
    body = json.dumps({"name": "Ada Lovelace", "phone": "+14155550100", "email": "ada@a.test"})
    environs = {
        "health": factory._base_environ(PATH_INFO="/api/v1/health", REQUEST_METHOD="GET"),
        "credits": factory._base_environ(
            PATH_INFO="/api/v1/credits",
            REQUEST_METHOD="GET",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        ),
    }
    handler = WSGIHandler()

    def contacts_environ(key: str) -> dict:
        return factory.post(
            "/api/v1/contacts",
            body,
            content_type="application/json",
            headers={"Authorization": f"Bearer {key}"},
        ).environ

    def environ_of(target: str) -> dict:
        if target == "contacts":
            return contacts_environ(secret)
        if target == "contacts_webhook":
            return contacts_environ(webhook_secret)
        return dict(environs[target])

    def run(target: str) -> float:
        started_cpu, started_db = time.process_time(), backend_cpu_seconds()
        for _ in range(BATCH):
            environ = environ_of(target)
            response = handler(environ, lambda status, headers: None)
            if response.status_code not in (200, 201):
                raise SystemExit(f"{target} answered {response.status_code}")
            b"".join(response)
            response.close()
        spent = time.process_time() - started_cpu + backend_cpu_seconds() - started_db
        return spent / BATCH * 1e6

    targets = ("health", "credits", "contacts", "contacts_webhook")
    for target in targets:
        run(target)  # warm up: the cache filled, statements prepared
    best = {target: min(run(target) for _ in range(BATCHES)) for target in targets}
    print(json.dumps({**best, "rss_mb": rss_mb()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
