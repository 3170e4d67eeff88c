"""Settings → Webhooks in Chromium: add an endpoint, copy its secret once, send a test event,
see the delivery, redeliver it, rotate the secret; and the same against a local receiver that
checks every signature with the `standardwebhooks` library."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django_tasks_db.management.commands.db_worker import Worker
from playwright.sync_api import Locator, Page, expect
from pytest_django.fixtures import Settings
from standardwebhooks import Webhook as Verifier

from accounts.models import Membership
from tests.support.browser import Login, assert_no_serious_violations
from voice.models import WEBHOOK_EVENT_CATALOGUE

SECRET = re.compile(r"whsec_[A-Za-z0-9+/=]{40,}")
PUBLIC_URL = "https://hooks.example.com/voxpria"


class Receiver:
    """A webhook receiver on 127.0.0.1: it answers 200 and keeps what it was sent."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"received")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/voxpria"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def run_queued_jobs() -> None:
    """Run every job that is due, in this thread, as `manage.py db_worker --batch` would."""
    Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="e2e-webhooks",
        excluded_queue_names=[],
    ).run()


def open_webhooks(page: Page) -> None:
    page.get_by_role("navigation").get_by_role("link", name="Webhooks").click()
    expect(page.get_by_role("heading", name="Webhooks", level=1)).to_be_visible()
    # The deferred scripts must run before a click, or it follows the no-JavaScript page.
    page.wait_for_load_state("load")


def copy_secret(page: Page, title: str) -> str:
    """Copy the secret the reveal dialog shows, then close it; return the secret."""
    reveal = page.get_by_role("dialog", name=title)
    expect(reveal).to_be_visible()
    expect(reveal.get_by_text("this secret won't be shown again")).to_be_visible()
    secret = reveal.get_by_label("Signing secret").input_value()
    assert SECRET.fullmatch(secret), secret
    reveal.get_by_role("button", name="Copy").click()
    expect(reveal.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    reveal.get_by_role("button", name="Done").click()
    expect(reveal).to_be_hidden()
    return secret


def add_endpoint(page: Page, url: str) -> str:
    """Add an endpoint through the dialog, after a refused URL; return its secret."""
    page.get_by_role("button", name="Add endpoint").first.click()
    dialog = page.get_by_role("dialog", name="Add endpoint")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Endpoint URL").fill("https://169.254.169.254\\@8.8.8.8/")
    dialog.get_by_role("button", name="Add endpoint").click()
    field = dialog.get_by_label("Endpoint URL")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_have_accessible_description(
        re.compile("Must hold only the characters a URL may contain")
    )
    events = dialog.get_by_role("group", name="Events")
    expect(events.get_by_text("Choose at least one event")).to_be_visible()

    field.fill(url)
    expect(dialog.get_by_text(WEBHOOK_EVENT_CATALOGUE["call.completed"])).to_be_visible()
    dialog.get_by_label("call.completed").check()
    assert_no_serious_violations(page, "the Add endpoint dialog")
    dialog.get_by_role("button", name="Add endpoint").click()
    return copy_secret(page, "The signing secret")


def delivery_rows(page: Page) -> Locator:
    return page.get_by_role("region", name="Recent deliveries").get_by_role("listitem")


def send_test_event(page: Page) -> None:
    page.get_by_role("button", name="Send test event").click()
    expect(page.get_by_text(re.compile(r"Test event evt_\w+ sent"))).to_be_visible()


def rotate(page: Page) -> str:
    page.get_by_role("button", name="Rotate secret").click()
    dialog = page.get_by_role("dialog", name="Rotate the signing secret?")
    expect(dialog.get_by_text("The old one keeps signing too for 24 hours")).to_be_visible()
    dialog.get_by_role("button", name="Rotate secret").click()
    return copy_secret(page, "The new signing secret")


def walk(page: Page, url: str) -> tuple[str, str]:
    """Add the endpoint, open its page, send a test event; return the secret and the page's
    URL. The secret is gone once its dialog closes, and from the page reloaded."""
    open_webhooks(page)
    secret = add_endpoint(page, url)
    expect(page.get_by_role("row", name=url)).to_be_visible()
    page.reload()
    assert secret not in page.content()
    assert not SECRET.search(page.content())
    page.get_by_role("link", name=url).click()
    expect(page.get_by_role("heading", name=url, level=1)).to_be_visible()
    page.wait_for_load_state("load")
    send_test_event(page)
    return secret, page.url


def test_an_owner_adds_an_endpoint_tests_it_redelivers_and_rotates_its_secret(
    login: Login, owner: Membership
) -> None:
    page = login(owner)
    secret, _ = walk(page, PUBLIC_URL)
    assert_no_serious_violations(page, "an endpoint's page")

    # No worker runs here: the delivery waits for its first attempt.
    row = delivery_rows(page).first
    expect(row).to_contain_text("webhook.test")
    expect(row).to_contain_text("Pending")
    row.locator("summary").click()
    expect(row.get_by_text('"type": "webhook.test"')).to_be_visible()
    row.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_text("will be delivered again now")).to_be_visible()

    new_secret = rotate(page)
    assert new_secret != secret
    assert new_secret not in page.content()


def test_a_test_event_reaches_a_local_receiver_signed_with_the_copied_secret_then_the_new_one(
    login: Login, owner: Membership, receiver: Receiver, settings: Settings
) -> None:
    settings.WEBHOOK_ALLOW_PRIVATE_NETWORKS = True
    page = login(owner)
    secret, endpoint_page = walk(page, receiver.url)

    run_queued_jobs()
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    payload = Verifier(secret).verify(body, headers)
    assert payload["type"] == json.loads(body)["type"]
    page.goto(endpoint_page)
    row = delivery_rows(page).first
    expect(row).to_contain_text("Succeeded")
    expect(row).to_contain_text("HTTP 200")
    expect(row).to_contain_text("Attempt 1 of")
    row.locator("summary").click()
    expect(row.get_by_text("received")).to_be_visible()

    page.wait_for_load_state("load")
    row.get_by_role("button", name="Redeliver").click()
    expect(page.get_by_text("will be delivered again now")).to_be_visible()
    run_queued_jobs()
    assert len(receiver.requests) == 2
    # A redelivery is the same event: the receiver deduplicates on its webhook-id.
    assert receiver.requests[1][0]["webhook-id"] == headers["webhook-id"]

    new_secret = rotate(page)
    send_test_event(page)
    run_queued_jobs()
    headers, body = receiver.requests[-1]
    # For 24 hours both secrets sign: a receiver on either verifies.
    Verifier(new_secret).verify(body, headers)
    Verifier(secret).verify(body, headers)
    page.reload()
    expect(delivery_rows(page).first).to_contain_text("HTTP 200")
