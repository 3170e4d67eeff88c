"""Cron job: delete the session list's rows of sessions past their expiry or idle timeout.

Idempotent and safe on several machines at once: one DELETE. Run it beside `clearsessions`,
which deletes the sessions themselves.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from accounts.twofactor.sessions import prune_signed_in_sessions


class Command(BaseCommand):
    help = (
        "Delete the Security page's rows of sessions that expired or went idle. "
        "Safe to run from cron on several machines at once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        deleted = prune_signed_in_sessions()
        self.stdout.write(f"Ended sessions removed from the session list: {deleted}.")
