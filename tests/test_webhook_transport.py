"""The POST of a delivery: the URL read as at save, the host resolved and checked at delivery,
the connection made to that checked address, no redirects, a time limit and a read limit."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings

from tests.support.webhooks import Answer, answer_dns, receiving
from voice.validation import FieldError, clean_webhook_url
from voice.webhooks.transport import RESPONSE_MAX_BYTES, post

NOT_PUBLIC = "Must be a public address; local and private networks are not allowed."
PUBLIC = "93.184.215.14"
HEADERS = {"webhook-id": "evt_1"}


@pytest.fixture
def private_allowed(settings: Settings) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True


def test_a_name_that_rebinds_to_loopback_after_saving_is_refused_at_delivery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answers = {"rebind.example.com": [PUBLIC]}
    asked = answer_dns(monkeypatch, lambda host: answers.get(host, []))
    url = "https://rebind.example.com/hook"
    assert clean_webhook_url(url) == url
    answers["rebind.example.com"] = ["127.0.0.1"]
    result = post(url=url, body=b"{}", headers=HEADERS)
    assert result.status_code is None
    assert NOT_PUBLIC in result.error
    # The refusal does not tell which inside address the name pointed to.
    assert "127.0.0.1" not in result.error
    assert asked == ["rebind.example.com", "rebind.example.com"]


def test_one_inside_address_among_public_ones_is_refused_at_delivery(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer_dns(monkeypatch, lambda host: [PUBLIC, "169.254.169.254"])
    result = post(url="https://mixed.example.com/hook", body=b"{}", headers=HEADERS)
    assert result.status_code is None
    assert NOT_PUBLIC in result.error


@pytest.mark.usefixtures("private_allowed")
def test_delivery_connects_to_the_address_it_checked_and_names_the_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = answer_dns(monkeypatch, lambda host: ["127.0.0.1"] if host == "receiver.test" else [])
    with receiving([Answer(204, b"")]) as receiver:
        result = post(
            url=receiver.url("/hooks/in?x=1", host="receiver.test"),
            body=b'{"id":"evt_1"}',
            headers=HEADERS,
        )
    assert result.status_code == 204, result.error
    assert asked == ["receiver.test"]
    [request] = receiver.received
    assert request.path == "/hooks/in?x=1"
    assert request.headers["host"] == f"receiver.test:{receiver.port}"
    assert request.headers["webhook-id"] == "evt_1"
    assert request.headers["content-type"] == "application/json"
    assert request.body == b'{"id":"evt_1"}'


def test_loopback_is_refused_when_private_networks_are_not_allowed() -> None:
    with receiving() as receiver:
        with pytest.raises(FieldError, match="https URL"):
            clean_webhook_url(receiver.url())
        result = post(url=receiver.url(), body=b"{}", headers=HEADERS)
        https_result = post(url=f"https://127.0.0.1:{receiver.port}/", body=b"{}", headers=HEADERS)
    assert "Refused URL" in result.error
    assert NOT_PUBLIC in https_result.error
    assert receiver.received == []


@pytest.mark.usefixtures("private_allowed")
def test_public_addresses_keep_https_and_their_ports_when_private_ones_are_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    answer_dns(monkeypatch, lambda host: [PUBLIC])
    with pytest.raises(FieldError, match="https"):
        clean_webhook_url("http://public.example.com/hook")
    with pytest.raises(FieldError, match="443 or 8443"):
        clean_webhook_url("https://public.example.com:8080/hook")
    assert "https" in post(url="http://public.example.com/h", body=b"", headers=HEADERS).error
    assert "443 or 8443" in post(url=f"https://{PUBLIC}:22/", body=b"", headers=HEADERS).error


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254\\@8.8.8.8/latest/meta-data/",
        "https://10.0.0.1\\@8.8.8.8/",
        "https://127.0.0.1\\@[2606:4700:4700::1111]/",
        "https://user:secret@8.8.8.8/hook",
        "https://10.0.0.1@8.8.8.8/",
        "https://@8.8.8.8/hook",
        "https://8.8.8.8/ho ok",
        "https://8.8.8.8\t/hook",
        "https://8.8.8.8:99999/hook",
    ],
)
def test_urls_parsers_read_differently_are_refused_at_save_and_at_delivery(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    asked = answer_dns(monkeypatch, lambda host: [PUBLIC])
    with pytest.raises(FieldError):
        clean_webhook_url(url)
    result = post(url=url, body=b"{}", headers=HEADERS)
    assert result.status_code is None
    assert result.error.startswith("Refused URL: ")
    assert asked == []


@pytest.mark.usefixtures("private_allowed")
def test_a_redirect_is_not_followed() -> None:
    with (
        receiving() as target,
        receiving([Answer(302, b"", {"Location": target.url("/elsewhere")})]) as receiver,
    ):
        result = post(url=receiver.url(), body=b"{}", headers=HEADERS)
    assert result.status_code == 302
    assert len(receiver.received) == 1
    assert target.received == []


@pytest.mark.usefixtures("private_allowed")
def test_at_most_64_kb_of_an_answer_is_read() -> None:
    with receiving([Answer(200, b"x" * (1024 * 1024))]) as receiver:
        result = post(url=receiver.url(), body=b"{}", headers=HEADERS)
    assert result.status_code == 200
    assert len(result.body) == RESPONSE_MAX_BYTES == 65536


@pytest.mark.usefixtures("private_allowed")
def test_a_receiver_slower_than_the_timeout_is_given_up_on(settings: Settings) -> None:
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    with receiving([Answer(200, b"late", delay=3)]) as receiver:
        result = post(url=receiver.url(), body=b"{}", headers=HEADERS)
    assert result.status_code is None
    assert result.error == "No answer within 1 s."
    assert 900 <= result.duration_ms < 2900


@pytest.mark.usefixtures("private_allowed")
def test_a_closed_port_is_an_error_not_an_exception() -> None:
    with receiving() as receiver:
        url = receiver.url()
    result = post(url=url, body=b"{}", headers=HEADERS)
    assert result.status_code is None
    assert "Connection refused" in result.error or "NewConnectionError" in result.error
