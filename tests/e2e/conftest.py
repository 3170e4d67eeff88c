"""Playwright in Debian's Chromium against pytest-django's live_server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from accounts.models import Membership
from tests.factories import PASSWORD

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "/e2e/" in str(item.fspath):
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict) -> dict:
    return {
        **browser_context_args,
        "permissions": ["clipboard-read", "clipboard-write"],
        "viewport": {"width": 1280, "height": 900},
    }


@pytest.fixture(autouse=True)
def no_csp_violations(page: Page) -> Iterator[None]:
    """Fail any browser test in which the Content-Security-Policy blocked something."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield
    assert violations == []


@pytest.fixture
def login(page: Page, live_server) -> Callable[[Membership], Page]:  # noqa: ANN001
    """Log in through the real form as the given member; return the page on the Dashboard."""

    def log_in(membership: Membership) -> Page:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Email").fill(membership.user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
        return page

    return log_in


@pytest.fixture
def no_script_page(browser: Browser, browser_context_args: dict) -> Iterator[Page]:
    """A page in a context with JavaScript off: every dialog is a whole page there."""
    context = browser.new_context(**browser_context_args, java_script_enabled=False)
    yield context.new_page()
    context.close()


@pytest.fixture
def login_without_javascript(
    no_script_page: Page,
    live_server,  # noqa: ANN001
) -> Callable[[Membership], Page]:
    """Log in with JavaScript off as the given member; return the page on the API Keys page."""

    def log_in(membership: Membership) -> Page:
        page = no_script_page
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Email").fill(membership.user.email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("navigation").get_by_role("link", name="API Keys").click()
        return page

    return log_in
