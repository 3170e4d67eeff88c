"""Retries with backoff for django-tasks jobs, which has none of its own.

A job made with `retried_task` that raises one of its `retry_on` errors enqueues a fresh copy of
itself (same task, queue, priority and arguments, plus the attempt number) to run after the next
delay of its backoff, give or take the jitter, and finishes successfully, returning where the
retry went. The last attempt's error is raised for real: that job is FAILED and kept, with its
traceback, for `manage.py jobs` and the admin to show and run again. Any other error fails the
job at once: retrying a bug only repeats it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ParamSpec, TypedDict

from django.utils import timezone
from django_tasks import TaskContext, task
from django_tasks.base import Task
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

P = ParamSpec("P")
# A row of the queue, whatever its task's arguments and result.
Job = DBTaskResult[Any, Any]

# The keyword argument each copy carries: 1 for the first attempt.
ATTEMPT = "attempt"


@dataclass(frozen=True, slots=True)
class Backoff:
    """The waits between attempts: after attempt n fails, the next runs delays[n - 1] later."""

    delays: tuple[timedelta, ...]
    # Each wait is stretched or shrunk by up to this share, so jobs that failed together (a mail
    # server's outage) do not all come back in the same second.
    jitter: float = 0.1

    @property
    def attempts(self) -> int:
        return len(self.delays) + 1

    def delay_after(self, attempt: int) -> timedelta | None:
        """Return the wait before the attempt after `attempt`, or None when it was the last."""
        if attempt >= self.attempts:
            return None
        # Not a secret: spreading retries out needs no cryptographic randomness.
        stretch = random.uniform(1 - self.jitter, 1 + self.jitter)  # noqa: S311
        return self.delays[attempt - 1] * stretch


class RetryScheduled(TypedDict):
    """What a job that will be retried returns (its DBTaskResult's return value)."""

    attempt: int
    error: str
    retry_id: str
    retry_at: str


def retried_task(
    *, queue_name: str, backoff: Backoff, retry_on: tuple[type[Exception], ...]
) -> Callable[[Callable[P, None]], Task[P, RetryScheduled | None]]:
    """Make `func` a task that is retried on `backoff` when it raises one of `retry_on`."""

    def decorate(func: Callable[P, None]) -> Task[P, RetryScheduled | None]:
        def run(context: TaskContext, *args: Any, **kwargs: Any) -> RetryScheduled | None:
            attempt: int = kwargs.pop(ATTEMPT, 1)
            try:
                func(*args, **kwargs)
            except retry_on as error:
                delay = backoff.delay_after(attempt)
                if delay is None:
                    raise
                return _enqueue_retry(context, args, kwargs, attempt, delay, error, backoff)
            return None

        # Same module and name as `func`, so the queue finds this task by `func`'s path (not
        # functools.wraps: the queue reads the signature, which must start with `context`).
        run.__module__, run.__name__, run.__qualname__ = (
            func.__module__,
            func.__name__,
            func.__qualname__,
        )
        run.__doc__ = func.__doc__
        return task(queue_name=queue_name, takes_context=True)(run)  # type: ignore[arg-type]

    return decorate


def _enqueue_retry(
    context: TaskContext,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    attempt: int,
    delay: timedelta,
    error: Exception,
    backoff: Backoff,
) -> RetryScheduled:
    retry_at = timezone.now() + delay
    retry_task = context.task_result.task.using(run_after=retry_at)
    retry = retry_task.get_backend().enqueue(
        retry_task, list(args), {**kwargs, ATTEMPT: attempt + 1}
    )
    described = f"{type(error).__name__}: {error}"
    # One line, no traceback: a retry is the expected path through an outage.
    logger.warning(
        "Job %s (%s) failed on attempt %d of %d (%s); attempt %d at %s is job %s.",
        context.task_result.id,
        retry_task.name,
        attempt,
        backoff.attempts,
        described,
        attempt + 1,
        f"{retry_at:%Y-%m-%d %H:%M:%S} UTC",
        retry.id,
    )
    return {
        "attempt": attempt,
        "error": described,
        "retry_id": retry.id,
        "retry_at": retry_at.isoformat(),
    }
