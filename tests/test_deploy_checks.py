"""Behind a proxy the app must be told how many there are (voxkeys/checks.py, voxkeys/proxy.py):
refused by `check --deploy` when SECURE_PROXY_SSL_HEADER says so, warned about at run time."""

from __future__ import annotations

import pytest
from django.core.exceptions import MiddlewareNotUsed
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from pytest_django.fixtures import Settings

from tests.support.clock import FakeClock
from tests.support.production import PRODUCTION_ENV, run
from voxkeys.checks import check_trusted_proxies
from voxkeys.proxy import ForwardedForWatchMiddleware

BEHIND_A_PROXY = {**PRODUCTION_ENV, "SECURE_PROXY_SSL_HEADER": "1"}


def test_check_deploy_fails_behind_a_proxy_with_no_trusted_proxy_count() -> None:
    result = run(["manage.py", "check", "--deploy"], BEHIND_A_PROXY)

    assert result.returncode != 0
    assert "voxkeys.E001" in result.stderr
    assert "TRUSTED_PROXY_COUNT is 0" in result.stderr


def test_check_deploy_passes_once_the_proxies_are_counted() -> None:
    env = {**BEHIND_A_PROXY, "TRUSTED_PROXY_COUNT": "1"}

    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], env)

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("proxy_header", "proxies", "errors"),
    [
        (("HTTP_X_FORWARDED_PROTO", "https"), 0, ["voxkeys.E001"]),
        (("HTTP_X_FORWARDED_PROTO", "https"), 2, []),
        (None, 0, []),  # not known to be behind a proxy: the run-time warning watches instead
    ],
)
def test_the_check_itself(
    settings: Settings, proxy_header: tuple[str, str] | None, proxies: int, errors: list[str]
) -> None:
    settings.SECURE_PROXY_SSL_HEADER = proxy_header
    settings.TRUSTED_PROXY_COUNT = proxies
    assert [message.id for message in check_trusted_proxies(None)] == errors


def answer(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def request(forwarded: bool) -> HttpRequest:
    headers = {"HTTP_X_FORWARDED_FOR": "203.0.113.9"} if forwarded else {}
    return RequestFactory().get("/api/v1/credits", **headers)  # type: ignore[arg-type]


@pytest.fixture
def watch(settings: Settings, clock: FakeClock) -> ForwardedForWatchMiddleware:
    settings.TRUSTED_PROXY_COUNT = 0
    return ForwardedForWatchMiddleware(answer, clock=clock)


def test_forwarded_for_on_most_requests_warns_once_a_minute(
    watch: ForwardedForWatchMiddleware, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(3):  # three minutes behind an unknown proxy
        for number in range(100):
            assert watch(request(forwarded=number % 4 != 0)).status_code == 200
            clock.advance(0.61)

    warnings = [r for r in caplog.records if r.name == "voxkeys.proxy"]
    assert len(warnings) == 3
    assert warnings[0].levelname == "WARNING"
    assert "TRUSTED_PROXY_COUNT" in warnings[0].getMessage()


@pytest.mark.parametrize(
    ("forwarded", "total"),
    [(50, 99), (0, 100), (5, 5)],  # half is not most; a trickle says nothing
)
def test_no_warning_without_forwarded_for_on_most_requests(
    watch: ForwardedForWatchMiddleware,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    forwarded: int,
    total: int,
) -> None:
    for number in range(total):
        watch(request(forwarded=number < forwarded))
    clock.advance(60)
    watch(request(forwarded=False))

    assert [r for r in caplog.records if r.name == "voxkeys.proxy"] == []


def test_the_watch_is_not_used_once_the_proxies_are_counted(
    settings: Settings, clock: FakeClock
) -> None:
    settings.TRUSTED_PROXY_COUNT = 1
    with pytest.raises(MiddlewareNotUsed):
        ForwardedForWatchMiddleware(answer, clock=clock)
