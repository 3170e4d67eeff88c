"""prune_key_usage deletes old hourly counts in batches through the index on the hour."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Membership
from apikeys.models import KeyUsage
from tests.support.scale import grow

pytestmark = pytest.mark.django_db

NOON = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def test_old_hours_go_in_batches_and_recent_ones_stay(owner: Membership, settings) -> None:  # noqa: ANN001
    settings.API_USAGE_RETENTION_DAYS = 90
    keys = grow(owner, keys=2)
    for api_key in keys:
        for days in range(85, 96):  # 91..95 days old are past the retention: 5 a key
            KeyUsage.objects.create(
                api_key=api_key, hour=NOON - dt.timedelta(days=days), status_class=2, requests=1
            )
    out = StringIO()
    with time_machine.travel(NOON, tick=False), CaptureQueriesContext(connection) as queries:
        call_command("prune_key_usage", "--batch-size", "3", stdout=out)
    deletes = [query["sql"] for query in queries if query["sql"].startswith("DELETE")]
    assert len(deletes) == 4  # 10 rows, 3 at a time
    assert out.getvalue() == "Usage rows older than 90 days deleted: 10.\n"
    oldest = min(KeyUsage.objects.values_list("hour", flat=True))
    assert oldest == NOON - dt.timedelta(days=90)
    assert KeyUsage.objects.count() == 12


def test_the_batch_size_must_be_positive() -> None:
    with pytest.raises(CommandError, match="at least 1"):
        call_command("prune_key_usage", "--batch-size", "0")
