"""Webhook test cast: a local receiver answering from a script, a fake DNS, and endpoints with
events to deliver."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from accounts.models import Account
from voice import validation
from voice.models import Webhook, WebhookDelivery, WebhookEvent
from voice.webhooks.secrets import encrypt_secret, new_signing_secret


@dataclass(frozen=True, slots=True)
class Answer:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """An http server on 127.0.0.1 that answers each POST with the next scripted Answer (the
    last one again once the script runs out) and keeps what it received."""

    def __init__(self, answers: list[Answer]) -> None:
        self.answers = list(answers) or [Answer()]
        self.received: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    answer = (
                        receiver.answers.pop(0)
                        if len(receiver.answers) > 1
                        else receiver.answers[0]
                    )
                time.sleep(answer.delay)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                # The client may hang up once it has read what it wants.
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.wfile.write(answer.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"


@contextmanager
def receiving(answers: list[Answer] | None = None) -> Iterator[Receiver]:
    receiver = Receiver(answers or [])
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()


def answer_dns(monkeypatch: pytest.MonkeyPatch, answers: Callable[[str], list[str]]) -> list[str]:
    """Make webhook hosts resolve to `answers(host)`, like getaddrinfo; returns the names asked."""
    asked: list[str] = []

    def resolve(host: str, port: int, **kwargs: object) -> list[tuple]:
        asked.append(host)
        found = answers(host)
        if not found:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ipaddress.ip_address(a).version == 6 else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in found
        ]

    monkeypatch.setattr(validation, "resolve", resolve)
    return asked


def make_webhook(account: Account, url: str, *, secret: str | None = None) -> Webhook:
    """An endpoint with a signing secret, as creating one through the API makes it."""
    return Webhook.objects.create(
        account=account,
        url=url,
        events=["contact.created"],
        secret_encrypted=encrypt_secret(secret or new_signing_secret()),
    )


def make_delivery(webhook: Webhook, number: int = 1) -> WebhookDelivery:
    """One contact.created event on its way to `webhook`."""
    public_id = f"evt_{webhook.pk}_{number}_{time.monotonic_ns()}"
    event = WebhookEvent.objects.create(
        account=webhook.account,
        livemode=webhook.livemode,
        public_id=public_id,
        event_type="contact.created",
        payload={
            "id": public_id,
            "type": "contact.created",
            "created": "2027-01-04T09:00:00Z",
            "livemode": webhook.livemode,
            "data": {"object": "contact", "name": f"Contact {number}"},
        },
    )
    return WebhookDelivery.objects.create(event=event, webhook=webhook)
