"""The way to VoxPria support that pages offer when only support can help."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from django.conf import settings


def support_mailto(subject: str) -> str:
    """A mailto: link to SUPPORT_EMAIL with `subject` on one line (an account name with a line
    break must not add a header to the mail) and spaces as %20 (RFC 6068: mail clients do not
    read "+" as a space)."""
    query = urlencode({"subject": " ".join(subject.split())}, quote_via=quote)
    return f"mailto:{settings.SUPPORT_EMAIL}?{query}"
