"""Two versions of the app side by side: CPU per request and worker memory, before and after.

    .venv/bin/python bench/before_after.py [REV]     # REV defaults to BENCH_BEFORE or HEAD~1

REV is checked out into a temporary git worktree; this tree is "after". Each version runs in
its own process (as a gunicorn worker would) on its own PostgreSQL database, and the rounds
alternate before/after so both see the same machine. Per round and version, through Django's
whole WSGI handler and middleware with no server or network in the way, CPU of the process and
its database backend per request:

- `GET /api/v1/health`: the control (no key, no query): both versions should score the same;
  a round where they differ by more than 5 % is marked noisy;
- `GET /api/v1/credits` with a cached key (the authentication cache hit, the balance read);
- `POST /api/v1/contacts` with a valid one-contact body (body parsing and validation), for an
  account without a webhook endpoint (`contacts`: after the events, one prepared query finds
  none) and for one with an endpoint subscribed to contact.created (`contacts_webhook`: after
  the events, the event, its delivery and the delivery's job written in the request).

And each process's RSS after its requests (a worker's memory once warm).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "7"))
# {name} is "before" or "after": each version migrates its own database.
DATABASE = os.environ.get(
    "BENCH_DATABASE_TEMPLATE", "postgres://postgres@127.0.0.1:5432/voxkeys_bench_{name}"
)
TARGETS = ("health", "credits", "contacts", "contacts_webhook")


def run_version(root: Path, name: str) -> dict[str, float]:
    env = {**os.environ, "DATABASE_URL": DATABASE.format(name=name)}
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "request_cost.py"), str(root)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> int:
    rev = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("BENCH_BEFORE", "HEAD~1")
    with tempfile.TemporaryDirectory(prefix="voxkeys-before-") as tmp:
        before = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "-q", str(before), rev], cwd=ROOT, check=True
        )
        try:
            rounds = []
            for index in range(ROUNDS):
                results = {"before": run_version(before, "before")}
                results["after"] = run_version(ROOT, "after")
                rounds.append(results)
                noisy = abs(results["after"]["health"] / results["before"]["health"] - 1) > 0.05
                print(
                    f"round {index + 1}: "
                    + ", ".join(
                        f"{target} {results['before'][target]:.0f} → "
                        f"{results['after'][target]:.0f} µs"
                        for target in TARGETS
                    )
                    + f"; RSS {results['before']['rss_mb']:.1f} → "
                    f"{results['after']['rss_mb']:.1f} MB" + (" NOISY" if noisy else ""),
                    flush=True,
                )
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT)
    print(f"\nbefore = {rev}, after = this tree; medians of {ROUNDS} interleaved rounds:")
    for target in (*TARGETS, "rss_mb"):
        befores = [r["before"][target] for r in rounds]
        afters = [r["after"][target] for r in rounds]
        ratios = [a / b for a, b in zip(afters, befores, strict=True)]
        unit = "MB" if target == "rss_mb" else "µs"
        print(
            f"  {target:9} before {statistics.median(befores):7.1f} {unit}, after "
            f"{statistics.median(afters):7.1f} {unit}, difference "
            f"{statistics.median(afters) - statistics.median(befores):+6.1f} {unit}, "
            f"after/before {statistics.median(ratios):.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
