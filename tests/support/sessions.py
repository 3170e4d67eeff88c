"""Signing in as a browser would: through the login form, with its own address and user agent."""

from __future__ import annotations

from django.test import Client

from accounts.models import User
from tests.factories import PASSWORD

CHROME_ON_MAC = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
FIREFOX_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
)


def browser(ip: str = "203.0.113.7", user_agent: str = CHROME_ON_MAC) -> Client:
    """A client that keeps its cookies, as one browser on one machine does."""
    return Client(REMOTE_ADDR=ip, HTTP_USER_AGENT=user_agent)


def sign_in(client: Client, user: User) -> Client:
    """Sign `user` in through the login form; return the client, now signed in."""
    response = client.post("/login/", {"username": user.email, "password": PASSWORD})
    assert response.status_code == 302, response.content
    return client
