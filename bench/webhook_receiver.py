"""A local webhook receiver for the scale test and the webhook benchmarks: no Django needed.

It answers every POST 200 after `hold` seconds and keeps, per request, its `webhook-id` and
when it arrived; the requests still being held are visible, so a test can kill a worker while
one of its deliveries is in flight.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class WebhookReceiver:
    """An http server on 127.0.0.1 counting deliveries by their `webhook-id`."""

    def __init__(self, hold: float = 0.0) -> None:
        self.hold = hold
        self.arrivals: list[tuple[str, float]] = []
        self.open: Counter[str] = Counter()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                webhook_id = self.headers.get("webhook-id", "")
                with receiver.lock:
                    receiver.arrivals.append((webhook_id, time.monotonic()))
                    receiver.open[webhook_id] += 1
                try:
                    time.sleep(receiver.hold)
                    self.send_response(200)
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    # A killed worker's connection is gone by now.
                    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                        self.wfile.write(b"ok")
                finally:
                    with receiver.lock:
                        receiver.open[webhook_id] -= 1

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def received(self) -> Counter[str]:
        """How many requests arrived with each webhook-id."""
        with self.lock:
            return Counter(webhook_id for webhook_id, _ in self.arrivals)

    def held(self) -> list[str]:
        """The webhook-ids of the requests being held right now."""
        with self.lock:
            return [webhook_id for webhook_id, count in self.open.items() if count > 0]


@contextmanager
def receiving(hold: float = 0.0) -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver(hold)
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.server.shutdown()
        receiver.server.server_close()
