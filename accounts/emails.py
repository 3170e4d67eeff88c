"""The one canonical form of an email address: stored, looked up, counted and compared as this.

NFKC folds compatibility characters (fullwidth letters, ligatures) into their plain forms and
casefold() is Unicode's case-insensitive form, so `ADMIN@X.TEST`, `admin@x.test ` and
`ａｄｍｉｎ@x.test` are one address, and so are `ſ`/`s`; lower() alone would leave those apart
(and PostgreSQL's UPPER() would join some of them back together).
"""

from __future__ import annotations

import unicodedata


def canonical_email(email: str) -> str:
    """Return the address as every lookup and comparison uses it."""
    return unicodedata.normalize("NFKC", email).strip().casefold()
