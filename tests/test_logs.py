"""Logs (voxkeys/logs.py): outage summaries, API 4xx counted, access lines, JSON, request ids."""

from __future__ import annotations

import io
import json
import logging
import threading
from collections.abc import Iterator

import pytest
from django.db import OperationalError, connection
from django.db.backends.signals import connection_created
from django.test import Client, RequestFactory
from pytest_django.fixtures import Settings

from accounts.models import Membership
from apikeys.auth import lookup
from apikeys.keys import generate_key, key_digest
from apikeys.models import ApiKey
from tests.support.api import api_client, make_key
from tests.support.clock import FakeClock
from tests.support.production import PRODUCTION_ENV, run
from voxkeys import logs

pytestmark = pytest.mark.django_db

CREDITS = "/api/v1/credits"


@pytest.fixture
def outage(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> logs.DatabaseOutageLog:
    """A fresh outage log on a clock the test moves, used by the middleware too."""
    log = logs.DatabaseOutageLog(clock=clock)
    monkeypatch.setattr(logs, "database_outage", log)
    return log


@pytest.fixture
def client_errors(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> logs.ApiClientErrorFilter:
    """The django.request logger's filter, replaced by one on the test's clock."""
    log_filter = logs.ApiClientErrorFilter(clock=clock)
    monkeypatch.setattr(logging.getLogger("django.request"), "filters", [log_filter])
    return log_filter


@pytest.fixture
def json_output(caplog: pytest.LogCaptureFixture) -> Iterator[io.StringIO]:
    """Everything logged, at every level, formatted as LOG_FORMAT=json formats it."""
    caplog.set_level(logging.DEBUG)
    output = io.StringIO()
    handler = logging.StreamHandler(output)
    handler.setFormatter(logs.JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield output
    finally:
        root.removeHandler(handler)


def lines_of(output: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in output.getvalue().splitlines()]


def outage_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "voxkeys.logs"]


def request_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "django.request"]


# Database outages -------------------------------------------------------------------------------


def test_an_outage_logs_one_traceback_then_a_count_per_interval(
    outage: logs.DatabaseOutageLog, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    error = OperationalError("connection refused")
    for _ in range(50):
        outage.report(error)
        clock.now += 0.1
    [first] = outage_records(caplog)
    assert first.levelno == logging.ERROR
    assert first.exc_info is not None and first.exc_info[1] is error

    clock.now = 1010.0  # the interval is over: the next report writes the count
    outage.report(error)
    clock.now = 1012.0
    outage.report(error)  # within the next interval: counted, not logged
    first_again, summary = outage_records(caplog)
    assert first_again is first
    assert summary.exc_info is None
    assert summary.getMessage() == (
        "database unavailable: 50 requests answered 503 in the last 10 s"
    )

    clock.now = 1013.0
    logs.report_database_recovered()
    logs.report_database_recovered()  # once only
    *_, recovery = outage_records(caplog)
    assert len(outage_records(caplog)) == 3
    assert recovery.levelno == logging.WARNING
    assert recovery.getMessage() == (
        "database available again after 13 s: 52 requests answered 503 during the outage"
    )

    outage.report(error)  # the next outage gets its own traceback
    assert outage_records(caplog)[-1].exc_info is not None


def test_the_count_uses_thousands_separators(
    outage: logs.DatabaseOutageLog, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(1235):
        outage.report(OperationalError("down"))
    clock.now += 10
    outage.report(OperationalError("down"))
    assert outage_records(caplog)[-1].getMessage() == (
        "database unavailable: 1,235 requests answered 503 in the last 10 s"
    )


def test_reports_after_a_quiet_minute_are_a_new_outage(
    outage: logs.DatabaseOutageLog, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    outage.report(OperationalError("first"))
    clock.now += 3
    outage.report(OperationalError("first, again"))
    clock.now += 120  # no new connection said it was over, but nothing failed for two minutes
    outage.report(OperationalError("second"))
    first, leftover, second = outage_records(caplog)
    assert str(first.exc_info[1]) == "first"
    assert leftover.getMessage() == "database unavailable: 1 requests answered 503 in the last 3 s"
    assert str(second.exc_info[1]) == "second"


def test_reports_from_many_threads_are_all_counted(caplog: pytest.LogCaptureFixture) -> None:
    outage = logs.DatabaseOutageLog(interval=3600)

    def report_many() -> None:
        for _ in range(500):
            outage.report(OperationalError("down"))

    threads = [threading.Thread(target=report_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    outage.recovered()
    records = outage_records(caplog)
    assert [r.exc_info is not None for r in records] == [True, False]
    assert "4,000 requests answered 503" in records[-1].getMessage()


def test_api_outage_logs_one_traceback_and_no_line_per_request(
    owner: Membership,
    outage: logs.DatabaseOutageLog,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = api_client(make_key(owner))

    def unreachable(digest: str) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(lookup, "find_key", unreachable)
    for _ in range(20):
        assert client.get(CREDITS).status_code == 503
    assert [r.exc_info is not None for r in outage_records(caplog)] == [True]
    # Django's "Service Unavailable: /api/v1/credits" is in the outage's count instead.
    assert request_records(caplog) == []
    assert outage.active

    # After an error Django replaces the connection: a new one means the database is back.
    connection_created.send(sender=type(connection), connection=connection)
    assert not outage.active
    assert outage_records(caplog)[-1].getMessage().startswith("database available again")


def test_a_database_error_in_an_api_view_is_counted_too(
    owner: Membership,
    outage: logs.DatabaseOutageLog,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from voice import views

    def unreachable(*args: object, **kwargs: object) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(views, "paginate", unreachable)
    client = api_client(make_key(owner), raise_request_exception=False)
    for _ in range(3):
        assert client.get("/api/v1/calls").status_code == 503
    assert [r.exc_info is not None for r in outage_records(caplog)] == [True]
    assert request_records(caplog) == []


def test_other_server_errors_on_the_api_are_still_logged(
    owner: Membership, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from voice import views

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(views, "paginate", broken)
    response = api_client(make_key(owner), raise_request_exception=False).get("/api/v1/calls")
    assert response.status_code == 500
    [record] = request_records(caplog)
    assert record.levelno == logging.ERROR
    assert record.exc_info is not None


# 4xx on the API ---------------------------------------------------------------------------------


def test_api_client_errors_are_counted_not_logged_while_page_404s_are(
    client_errors: logs.ApiClientErrorFilter,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Malformed keys are refused without the database; unknown ones after a lookup (fewer than
    # API_AUTH_FAILURES_PER_MINUTE, so none of them is a 429).
    for _ in range(50):
        assert api_client("vxp_live_nonsense").get(CREDITS).status_code == 401
    for _ in range(50):
        assert api_client(generate_key()).get(CREDITS).status_code == 401
    assert request_records(caplog) == []

    assert Client().get("/no-such-page/").status_code == 404
    [page_404] = request_records(caplog)
    assert page_404.levelno == logging.WARNING
    assert page_404.getMessage() == "Not Found: /no-such-page/"

    clock.now += 60  # the first API 4xx after a minute writes the summary
    assert Client().get("/api/v1/no-such-thing").status_code == 404
    [summary] = [r for r in caplog.records if r.name == "voxkeys.logs"]
    assert summary.levelno == logging.INFO
    assert summary.getMessage() == (
        "API client errors in the last 60 s (not logged one by one): 401 × 100, 404 × 1"
    )
    assert summary.json_fields == {"status_counts": {"401": 100, "404": 1}}
    assert len(request_records(caplog)) == 1


def test_the_configured_filter_drops_api_4xx() -> None:
    """The LOGGING setting puts the filter on django.request (the tests above replace it)."""
    [log_filter] = logging.getLogger("django.request").filters
    assert isinstance(log_filter, logs.ApiClientErrorFilter)
    factory = RequestFactory()
    api_401 = logging.makeLogRecord(
        {"status_code": 401, "request": factory.get(CREDITS), "msg": "Unauthorized"}
    )
    page_403 = logging.makeLogRecord(
        {"status_code": 403, "request": factory.get("/settings/"), "msg": "Forbidden"}
    )
    api_500 = logging.makeLogRecord(
        {"status_code": 500, "request": factory.get(CREDITS), "msg": "Server Error"}
    )
    assert not log_filter.filter(api_401)
    assert log_filter.filter(page_403)
    assert log_filter.filter(api_500)


# Access lines, JSON, request ids ----------------------------------------------------------------


def test_json_lines_for_an_authenticated_api_request(
    owner: Membership, settings: Settings, json_output: io.StringIO
) -> None:
    settings.ACCESS_LOG = True
    secret = make_key(owner)
    key = ApiKey.objects.get(key_digest=key_digest(secret))
    client = api_client(secret)
    client.cookies["sessionid"] = "cookie-value-never-logged"
    response = client.get(f"{CREDITS}?api_key=query-secret-never-logged")
    assert response.status_code == 200
    # A page 404 and an API 401 as well: Django's line and the filter see these headers too.
    client.get("/no-such-page/")
    api_client(secret[:-1] + "x").get(CREDITS)

    lines = lines_of(json_output)
    access = [line for line in lines if line["logger"] == "voxkeys.access"]
    assert len(access) == 3
    line = access[0]
    assert line["level"] == "INFO"
    assert line["timestamp"].endswith("+00:00")
    assert line["request_id"] == response["X-Request-ID"]
    assert line["method"] == "GET"
    assert line["path"] == CREDITS
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float)
    assert line["key_id"] == key.pk
    assert line["account_id"] == owner.account.pk
    assert line["client_ip"] == "127.0.0.1"
    assert line["message"].startswith(f"GET {CREDITS} 200 ")
    assert "key_id" not in access[2]  # the bad key authenticated nothing

    [not_found] = [line for line in lines if line["logger"] == "django.request"]
    assert not_found["message"] == "Not Found: /no-such-page/"
    assert not_found["request_id"] == access[1]["request_id"]

    text = json_output.getvalue()
    for never in (
        secret,
        secret[len("vxp_live_") :],
        "Bearer",
        "Authorization",
        "cookie-value-never-logged",
        "query-secret-never-logged",
        "api_key=",
    ):
        assert never not in text


def test_no_log_record_carries_the_key_or_the_cookie(
    owner: Membership, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.ACCESS_LOG = True
    caplog.set_level(logging.DEBUG)
    secret = make_key(owner)
    client = api_client(secret)
    client.cookies["sessionid"] = "cookie-value-never-logged"
    client.get(CREDITS)
    client.get("/api/v1/no-such-thing")
    Client(headers={"Authorization": f"Bearer {secret}"}).get("/no-such-page/")
    assert caplog.records
    for record in caplog.records:
        # Everything a formatter or handler could write, except Django's request object (only
        # the admin emails read it, and they hide Authorization and Cookie).
        fields = {k: v for k, v in vars(record).items() if k != "request"}
        written = repr(fields) + logging.Formatter().format(record)
        assert secret not in written
        assert "cookie-value-never-logged" not in written


def test_text_mode_access_line_is_human(
    owner: Membership, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.ACCESS_LOG = True
    secret = make_key(owner)
    key = ApiKey.objects.get(key_digest=key_digest(secret))
    response = api_client(secret).get(f"{CREDITS}?limit=1")
    [record] = [r for r in caplog.records if r.name == "voxkeys.access"]
    message = record.getMessage()
    assert message.startswith(f"GET {CREDITS} 200 ")
    assert f" ms key_id={key.pk} account_id={owner.account.pk} ip=127.0.0.1 id=" in message
    assert message.endswith(response["X-Request-ID"])


def test_access_log_off_writes_no_access_line(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    settings.ACCESS_LOG = False
    response = Client().get("/api/v1/health")
    assert response.status_code == 200
    assert len(response["X-Request-ID"]) == 32  # ids are given and echoed all the same
    assert not [r for r in caplog.records if r.name == "voxkeys.access"]


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("req-2026.11_30-abc", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("evil\nINFO forged line", False),
        ("<script>alert(1)</script>", False),
        ("id with spaces", False),
        ("ünïcode", False),
    ],
)
def test_request_id_is_echoed_only_when_sane(sent: str, kept: bool) -> None:
    response = Client().get("/api/v1/health", headers={"X-Request-ID": sent})
    echoed = response["X-Request-ID"]
    if kept:
        assert echoed == sent
    else:
        assert echoed != sent
        assert len(echoed) == 32 and int(echoed, 16) >= 0


def test_each_request_gets_its_own_id() -> None:
    client = Client()
    ids = {client.get("/api/v1/health")["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3


def test_json_exception_text_and_one_line_per_record(json_output: io.StringIO) -> None:
    Client().get("/api/v1/health")  # a finished request leaves no id behind
    json_output.truncate(0)
    json_output.seek(0)
    log = logging.getLogger("tests.logs")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("failed\nacross lines")
    [line] = lines_of(json_output)
    assert line["message"] == "failed\nacross lines"
    assert line["level"] == "ERROR"
    assert line["logger"] == "tests.logs"
    assert "ValueError: boom" in line["exception"]
    assert "request_id" not in line  # outside a request


# Settings, in fresh processes -------------------------------------------------------------------


def test_log_format_json_makes_every_line_json() -> None:
    script = (
        "import logging; from django.test import Client; "
        "logging.getLogger('voxkeys.check').warning('hello'); "
        "Client().get('/api/v1/health?token=query-secret', secure=True)"
    )
    # Python's warnings (whitenoise: no collectstatic here) are not log lines.
    env = {**PRODUCTION_ENV, "LOG_FORMAT": "json", "PYTHONWARNINGS": "ignore"}
    result = run(["manage.py", "shell", "-c", script], env)
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    loggers = [line["logger"] for line in lines]
    assert loggers[-2:] == ["voxkeys.check", "voxkeys.access"]
    assert lines[-1]["path"] == "/api/v1/health"  # access lines are on by default with json
    assert "query-secret" not in result.stderr


def test_text_format_has_no_access_lines_by_default() -> None:
    script = (
        "import logging; from django.test import Client; "
        "logging.getLogger('voxkeys').warning('marker line'); "
        "Client().get('/api/v1/health', secure=True)"
    )
    result = run(["manage.py", "shell", "-c", script], PRODUCTION_ENV)
    assert result.returncode == 0, result.stderr
    # The human format: what was logged, as is, not a JSON object.
    marker = next(line for line in result.stderr.splitlines() if "marker line" in line)
    assert not marker.lstrip().startswith("{")
    assert "/api/v1/health" not in result.stderr


def test_an_unknown_log_format_stops_start_up() -> None:
    result = run(["manage.py", "check"], {**PRODUCTION_ENV, "LOG_FORMAT": "xml"})
    assert result.returncode != 0
    assert result.stderr.strip() == "VoxKeys: LOG_FORMAT must be text or json, not 'xml'."
