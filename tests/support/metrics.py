"""Reading /metrics as Prometheus does, for the tests of what it counts."""

from __future__ import annotations

from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from tests.support.api import bearer

TOKEN = "metrics-token-for-tests"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape() -> Samples:
    """Return every sample /metrics shows, parsed as Prometheus parses it (METRICS_TOKEN must
    be TOKEN)."""
    response = Client(headers=bearer(TOKEN)).get("/metrics")
    assert response.status_code == 200
    return parse(response.content.decode())


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def moved(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)
