"""Run manage.py in a fresh process with production-like settings (DEBUG off, a real secret)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "voxkeys.settings",
    "SECRET_KEY": "x7Lr-production-like-secret-" + "k" * 40,
    "DEBUG": "0",
    "ALLOWED_HOSTS": "app.voxpria.test,testserver",
    # A Fernet key (32 bytes, urlsafe base64), as production sets one (voice.W001 otherwise).
    "WEBHOOK_ENCRYPTION_KEYS": "cHJvZHVjdGlvbi1saWtlLXdlYmhvb2sta2V5LTAxMjM=",
}


def run(args: list[str], env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    # A clean process: none of the test run's own settings leak in.
    dropped = {"SECRET_KEY", "DEBUG", "DJANGO_ALLOW_ASYNC_UNSAFE", "DJANGO_SETTINGS_MODULE"}
    base = {k: v for k, v in os.environ.items() if k not in dropped}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
