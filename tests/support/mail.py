"""Reading the links out of the emails a test sent (Django's locmem outbox)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from django.core import mail


def link_in_last_email(to: str) -> str:
    """Return the path of the one http link in the last email sent to `to`."""
    messages = [message for message in mail.outbox if to in message.to]
    assert messages, f"no email to {to}"
    links = re.findall(r"https?://\S+", messages[-1].body)
    assert len(links) == 1, links
    return urlsplit(links[0]).path
