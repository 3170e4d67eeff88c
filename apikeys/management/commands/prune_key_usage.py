"""Cron job: delete per-key usage counts older than API_USAGE_RETENTION_DAYS.

Idempotent and safe on several machines at once. It deletes in batches of the oldest hours,
found through the index on `hour`, each batch its own short transaction: one DELETE of millions
of rows would hold their locks (and the usage flush's upserts on them) for the whole statement,
and could outlast the statement timeout.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from apikeys.models import KeyUsage

BATCH_SIZE = 5_000


class Command(BaseCommand):
    help = (
        "Delete hourly API key usage counts older than API_USAGE_RETENTION_DAYS (90), in "
        "batches. Safe to run from cron on several machines at once."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"Rows deleted per statement (default {BATCH_SIZE}).",
        )

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        days = settings.API_USAGE_RETENTION_DAYS
        cutoff = timezone.now() - timedelta(days=days)
        deleted = 0
        while True:
            batch = list(
                KeyUsage.objects.filter(hour__lt=cutoff)
                .order_by("hour")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                break
            deleted += KeyUsage.objects.filter(pk__in=batch).delete()[0]
        self.stdout.write(f"Usage rows older than {days} days deleted: {deleted}.")
