"""What the Prometheus counting costs a request, in CPU: run by `make bench` (budget ≤ 10 µs).

    python bench/metrics_cost.py            # both modes; prints a table and one JSON line

Each request makes the calls the middleware makes: an API request observe_request() (its
duration, and its route, status and code), count_authenticated() and a cache lookup's count; a
page request observe_request() alone; both pass MetricsMiddleware. API requests and pages are
measured apart (four routes, statuses and codes; two pages). The control runs the same
loop with every one of those replaced by a function that does nothing, so what it costs (the
loop, the calls, the request objects) is subtracted. Batches of control and metrics alternate
(15 rounds of 20,000 requests of a kind); the figure is the median round's difference, in
process CPU time (all threads: the one that adds the deferred counts too). A second control
(control against control) shows the noise floor.

Single-process mode runs here; multiprocess mode (PROMETHEUS_MULTIPROC_DIR, as under gunicorn:
every value a write into an mmap'ed file) in a child process, since prometheus_client reads the
variable once, at import.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS_METRICS", "15"))
BATCH = 20_000
BUDGET_US = 10.0


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "voxkeys.settings",
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "testserver",
            "LOG_LEVEL": "ERROR",
            "DATABASE_URL": "sqlite:///:memory:",
        }
    )
    import django

    django.setup()


def requests() -> list[tuple[Any, Any, bool]]:
    """A mix of answered requests as the middleware sees them: (request, response, is_api)."""
    from django.http import HttpResponse
    from django.test import RequestFactory
    from django.urls import resolve

    factory = RequestFactory()
    mix = []
    for path, status, code in [
        ("/api/v1/credits", 200, ""),
        ("/api/v1/contacts/12", 200, ""),
        ("/api/v1/contacts/13", 404, "not_found"),
        ("/api/v1/calls", 201, ""),
        ("/settings/api-keys/", 200, ""),
        ("/login/", 200, ""),
    ]:
        request = factory.get(path)
        request.resolver_match = resolve(path)
        response = HttpResponse(status=status)
        if code:
            response.api_error_code = code  # type: ignore[attr-defined]
        mix.append((request, response, path.startswith("/api/")))
    return mix


def run_batch(
    mix: list[tuple[Any, Any, bool]],
    middleware: Callable[[Any], Any],
    observe: Callable[[Any, Any, float], None],
    authenticated: Callable[[], None],
    lookup: Callable[..., None],
) -> float:
    """Return the CPU seconds of BATCH requests through the given hooks."""
    count = len(mix)
    started = time.process_time()
    for i in range(BATCH):
        request, response, is_api = mix[i % count]
        middleware(request)
        if is_api:
            authenticated()
            lookup(hit=True)
        observe(request, response, 0.0123)
    return time.process_time() - started


def measure() -> dict[str, dict[str, float]]:
    from voxkeys import metrics
    from voxkeys.metrics import endpoint

    def nothing(*args: object, **kwargs: object) -> None:
        return None

    results = {}
    everything = requests()
    for kind, mix in (
        ("api", [entry for entry in everything if entry[2]]),
        ("page", [entry for entry in everything if not entry[2]]),
    ):

        def answer(request: object, response: object = mix[0][1]) -> object:
            return response

        middleware = endpoint.MetricsMiddleware(answer)
        real = (
            middleware,
            metrics.observe_request,
            metrics.count_authenticated,
            metrics.count_auth_cache_lookup,
        )
        control = (answer, nothing, nothing, nothing)
        for _ in range(3):  # warm up (and create every labelled series once)
            run_batch(mix, *real)
            run_batch(mix, *control)
        differences, noise, control_us = [], [], []
        for _ in range(ROUNDS):
            first = run_batch(mix, *control)
            with_metrics = run_batch(mix, *real)
            second = run_batch(mix, *control)
            differences.append((with_metrics - (first + second) / 2) / BATCH * 1e6)
            noise.append((second - first) / BATCH * 1e6)
            control_us.append((first + second) / 2 / BATCH * 1e6)
        results[kind] = {
            "us_per_request": round(statistics.median(differences), 2),
            "min": round(min(differences), 2),
            "max": round(max(differences), 2),
            "noise_us": round(statistics.median(noise), 2),
            "control_us": round(statistics.median(control_us), 2),
        }
    return results


def main() -> int:
    if sys.argv[1:] == ["--child"]:
        setup_django()
        print(json.dumps(measure()))
        return 0
    results = {}
    with tempfile.TemporaryDirectory(prefix="voxkeys-metrics-bench-") as directory:
        for mode, extra in (
            ("single", {}),
            ("multiprocess", {"PROMETHEUS_MULTIPROC_DIR": directory}),
        ):
            env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
            finished = subprocess.run(
                [sys.executable, __file__, "--child"],
                env={**env, **extra},
                capture_output=True,
                text=True,
                check=True,
            )
            results[mode] = json.loads(finished.stdout.strip().splitlines()[-1])
    print(f"Metrics cost per request (CPU µs, median of {ROUNDS} interleaved rounds of {BATCH:,};")
    print("control: the same loop with hooks that do nothing; noise: control minus control)")
    print(f"{'mode':<14}{'request':<9}{'µs':>7}{'min':>7}{'max':>7}{'noise':>7}{'control':>9}")
    for mode, kinds in results.items():
        for kind, figures in kinds.items():
            print(
                f"{mode:<14}{kind:<9}{figures['us_per_request']:>7.2f}{figures['min']:>7.2f}"
                f"{figures['max']:>7.2f}{figures['noise_us']:>7.2f}{figures['control_us']:>9.2f}"
            )
    worst = max(f["us_per_request"] for kinds in results.values() for f in kinds.values())
    print(f"budget {BUDGET_US:.0f} µs: {'within' if worst <= BUDGET_US else 'OVER'}")
    print(json.dumps({"metrics_cost": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
