"""What htmx adds to the requests it sends, for tests of the partials the pages swap in."""

from __future__ import annotations

HTMX = {"HX-Request": "true"}
