"""Cron job: delete per-key usage counts older than API_USAGE_RETENTION_DAYS.

Idempotent and safe on several machines at once: one DELETE of the hours before the cutoff.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from apikeys.models import KeyUsage


class Command(BaseCommand):
    help = (
        "Delete hourly API key usage counts older than API_USAGE_RETENTION_DAYS (90). "
        "Safe to run from cron on several machines at once."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        days = settings.API_USAGE_RETENTION_DAYS
        cutoff = timezone.now() - timedelta(days=days)
        deleted, _ = KeyUsage.objects.filter(hour__lt=cutoff).delete()
        self.stdout.write(f"Usage rows older than {days} days deleted: {deleted}.")
