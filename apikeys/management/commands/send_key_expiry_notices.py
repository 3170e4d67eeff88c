"""Cron job: record keys that have expired, and warn owners and admins of keys about to expire.

Idempotent and safe on several machines at once: each expiry is recorded by one conditional
UPDATE, and each notice by one row under a unique constraint.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apikeys.notifications import send_expiry_notices
from apikeys.services import record_expirations


class Command(BaseCommand):
    help = (
        "Write the 'expired' event of keys that have expired, and email the 7-day and 1-day "
        "expiry notices that are due. Safe to run from cron on several machines at once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        expired = record_expirations(now=now)
        notices = send_expiry_notices(now=now)
        self.stdout.write(f"Expired keys recorded: {expired}. Expiry notices sent: {notices.sent}.")
        if notices.failed:
            # A non-zero exit, so cron's mail or the scheduler's alerting notices the mail outage.
            raise CommandError(
                f"{notices.failed} expiry notices could not be sent (see the log); "
                "the next run retries them."
            )
