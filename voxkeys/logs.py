"""What the app logs, and how: outage summaries, API client errors counted, access lines, JSON.

A database outage or a credential-stuffing run answers thousands of requests a minute the same
way; a line (or a traceback) for each buries everything else. So an outage logs its first error
with a traceback, then a count every `DatabaseOutageLog.interval` seconds, then one line when the
database is back; 4xx answers on /api/ are counted and summarized instead of logged one by one.
Settings (LOG_FORMAT, ACCESS_LOG) choose text or one JSON object per line, and whether every
request gets an access line. README "Logs" describes the result.

This module is loaded while logging is configured, before the apps are: it must not import
models (the `api` package's __init__ imports none).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.signals import request_finished
from django.db.backends.signals import connection_created
from django.http import HttpRequest, HttpResponse

from api import API_PREFIX
from voxkeys import metrics
from voxkeys.clientip import client_ip

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("voxkeys.access")

# Set on a request whose 503 the outage log has counted: Django's one line for it is dropped.
OUTAGE_REPORTED = "database_outage_reported"

Clock = Callable[[], float]


def _count(number: int) -> str:
    return f"{number:,}"


class DatabaseOutageLog:
    """Log a database outage as one traceback, a count per interval, and one recovery line.

    Per process and thread-safe. Lines are written lazily, by the report that finds the interval
    over, so nothing runs in the background. A report after `quiet` seconds without any is a new
    outage (with its own traceback), for outages whose end no new connection announced.
    """

    def __init__(
        self, *, interval: float = 10.0, quiet: float = 60.0, clock: Clock = time.monotonic
    ) -> None:
        self.interval = interval
        self.quiet = quiet
        self._clock = clock
        self._lock = threading.Lock()
        self.active = False
        self._started = 0.0
        self._last_line = 0.0
        self._last_report = 0.0
        # Requests answered 503 since the last line, and since the outage started.
        self._pending = 0
        self._total = 0

    def report(self, exc: BaseException) -> None:
        """Count one request answered 503 because the database failed with `exc`."""
        with self._lock:
            now = self._clock()
            if self.active and now - self._last_report < self.quiet:
                self._last_report = now
                self._pending += 1
                self._total += 1
                if now - self._last_line < self.interval:
                    return
                counts = [(self._pending, now - self._last_line)]
                self._pending = 0
                self._last_line = now
                new_outage = False
            else:
                counts = []
                if self._pending:
                    # The previous outage's last count: its reports stopped before its next line.
                    counts.append((self._pending, self._last_report - self._last_line))
                self.active = True
                self._started = self._last_line = self._last_report = now
                self._pending = 0
                self._total = 1
                new_outage = True
        # Logged outside the lock: a slow handler must not hold up the other threads' requests.
        for count, elapsed in counts:
            self._log_count(count, elapsed)
        if new_outage:
            logger.error("database unavailable: answering 503 until it is back", exc_info=exc)

    @staticmethod
    def _log_count(count: int, elapsed: float) -> None:
        logger.error(
            "database unavailable: %s requests answered 503 in the last %d s",
            _count(count),
            round(elapsed),
            extra={"json_fields": {"requests_503": count, "seconds": round(elapsed)}},
        )

    def recovered(self) -> None:
        """Log that the database answers again, if an outage was being reported."""
        with self._lock:
            if not self.active:
                return
            self.active = False
            self._pending = 0
            duration = self._clock() - self._started
            total = self._total
        logger.warning(
            "database available again after %d s: %s requests answered 503 during the outage",
            round(duration),
            _count(total),
            extra={"json_fields": {"requests_503": total, "seconds": round(duration)}},
        )


database_outage = DatabaseOutageLog()


def report_database_outage(exc: BaseException, request: HttpRequest | None = None) -> None:
    """Log that `request` is answered 503 because the database is unavailable (`exc`).

    Call it instead of logger.exception() wherever a database error becomes a 503: the outage
    then logs one traceback and a count every 10 s, and Django's "Service Unavailable" line for
    `request` is left out (the count includes it).
    """
    if request is not None:
        setattr(request, OUTAGE_REPORTED, True)
    database_outage.report(exc)


def report_database_recovered() -> None:
    """Log that the database answers again (also done whenever a new connection opens)."""
    database_outage.recovered()


def _database_connected(**kwargs: Any) -> None:
    # A new connection is the proof the database is back: after an error Django closes the
    # broken connection, so the next request connects again. Checked without the lock first,
    # as this runs for every new connection.
    if database_outage.active:
        report_database_recovered()


connection_created.connect(_database_connected, dispatch_uid="voxkeys.logs.database_connected")


class ApiClientErrorFilter(logging.Filter):
    """On the django.request logger: count 4xx answers on /api/ instead of logging each.

    A credential-stuffing run is tens of thousands of 401s a minute. They are summarized at
    INFO, per status, at most once every `interval` seconds (by the first one after it).
    Pages' 4xx and every 5xx keep Django's line, except 503s the outage log already counts.
    """

    def __init__(self, interval: float = 60.0, clock: Clock = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: Counter[int] = Counter()
        self._since = 0.0

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if getattr(request, OUTAGE_REPORTED, False):
            return False
        status = getattr(record, "status_code", None)
        if not isinstance(status, int) or not 400 <= status < 500:
            return True
        if not getattr(request, "path_info", "").startswith(API_PREFIX):
            return True
        with self._lock:
            now = self._clock()
            if not self._counts:
                self._since = now
            self._counts[status] += 1
            if now - self._since < self.interval:
                return False
            counts, elapsed = self._counts, now - self._since
            self._counts = Counter()
        logger.info(
            "API client errors in the last %d s (not logged one by one): %s",
            round(elapsed),
            ", ".join(f"{code} × {_count(n)}" for code, n in sorted(counts.items())),
            extra={"json_fields": {"status_counts": {str(c): n for c, n in counts.items()}}},
        )
        return False


# The current request's id, added to every JSON line logged while it is handled.
current_request_id: ContextVar[str | None] = ContextVar("current_request_id", default=None)


def _forget_request_id(**kwargs: Any) -> None:
    # At request_finished, not when the middleware returns: Django logs a 4xx/5xx line after
    # the middleware chain, and that line should carry the id too.
    current_request_id.set(None)


request_finished.connect(_forget_request_id, dispatch_uid="voxkeys.logs.forget_request_id")


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp, level, logger, message, request_id, exception.

    Only these and a record's `json_fields` (extra={"json_fields": {...}}) are written, never
    the record's other attributes: Django's request records carry the whole request, headers
    and cookies included.
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = current_request_id.get()
        if request_id is not None:
            entry["request_id"] = request_id
        fields = getattr(record, "json_fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_from(header: str) -> str:
    """Return the client's or proxy's X-Request-ID if it is a sane token, else a new one."""
    if _SANE_REQUEST_ID.fullmatch(header):
        return header
    return uuid.uuid4().hex


class RequestLogMiddleware:
    """Give each request an id (echoed in X-Request-ID) and, with ACCESS_LOG, an access line.

    First in MIDDLEWARE, so the duration covers the others and every line logged while the
    request is handled carries its id. The line has the path without its query string (which
    may hold secrets), and the key's id, never the key.
    """

    header = "HTTP_X_REQUEST_ID"
    response_header = "X-Request-ID"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request_id = request_id_from(request.META.get(self.header, ""))
        current_request_id.set(request_id)
        response = self.get_response(request)
        response[self.response_header] = request_id
        seconds = time.perf_counter() - started
        metrics.observe_request(request, response, seconds)
        if settings.ACCESS_LOG:
            log_access(request, response, request_id, seconds)
        return response


def log_access(
    request: HttpRequest, response: HttpResponse, request_id: str, seconds: float
) -> None:
    api_key = getattr(request, "api_key", None)
    account = getattr(request, "account", None)
    fields: dict[str, Any] = {
        "request_id": request_id,
        "method": request.method,
        "path": request.path,
        "status": response.status_code,
        "duration_ms": round(seconds * 1000, 1),
    }
    if api_key is not None:
        fields["key_id"] = api_key.id
    if account is not None:
        fields["account_id"] = account.id
    fields["client_ip"] = client_ip(request)
    # As Django's own request lines do: a path may hold newlines, which would forge lines.
    path = request.path.encode("unicode_escape").decode("ascii")
    who = "".join(f" {name}={fields[name]}" for name in ("key_id", "account_id") if name in fields)
    access_logger.info(
        "%s %s %s %.1f ms%s ip=%s id=%s",
        request.method,
        path,
        response.status_code,
        fields["duration_ms"],
        who,
        fields["client_ip"],
        request_id,
        extra={"json_fields": fields},
    )
