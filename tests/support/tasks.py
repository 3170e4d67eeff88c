"""A task the worker tests enqueue: it proves a job ran by writing a file."""

from __future__ import annotations

from pathlib import Path

from django_tasks import task


@task()
def write_marker(*, path: str, text: str) -> None:
    Path(path).write_text(text)
