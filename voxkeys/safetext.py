"""The safe-text rule: what no name or line of text may hold, wherever it is entered.

Pages, the admin and the API all check text with `unsafe_character_error`, so a name the API
accepts is a name the dashboard accepts, and no email, log line or CSV export carries one of
these characters:

- control characters (C0, DEL, C1): they corrupt logs, exports and terminals, and PostgreSQL
  refuses NUL; a name is one line, so line breaks and tabs count too;
- bidirectional controls (U+061C, U+200E/F, U+202A-U+202E, U+2066-U+2069): they reorder how
  the rest of a line is displayed, so text can read differently from what it is ("Trojan
  Source");
- zero-width and invisible characters (U+200B-U+200D, U+2060, U+FEFF, U+00AD): two names that
  look the same would differ;
- line and paragraph separators (U+2028/U+2029): line breaks to email bodies and JavaScript;
- tag characters (U+E0000-U+E007F): invisible text that some software still reads;
- unpaired surrogates: not text at all, and the database drivers refuse them.
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible

LINE_BREAKS = {"\n": "line break", "\r": "line break", "\t": "tab"}
BIDI_CONTROLS = frozenset(
    map(chr, [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)])
)
INVISIBLE = frozenset(map(chr, [0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x00AD]))
SEPARATORS = frozenset({"\u2028", "\u2029"})
TAGS = range(0xE0000, 0xE0080)


def unsafe_character(text: str) -> tuple[str, str] | None:
    """Return the first refused character of `text` as (what it is, its code point), or None."""
    for char in text:
        kind = _kind(char)
        if kind is not None:
            return kind, f"U+{ord(char):04X}"
    return None


def _kind(char: str) -> str | None:
    if char.isprintable():
        # Fast path: every class refused here is a non-printable category (Cc, Cf, Cs, Zl).
        return None
    category = unicodedata.category(char)
    if category == "Cc":
        return LINE_BREAKS.get(char, "control character")
    if category == "Cs":
        return "unpaired surrogate"
    if char in BIDI_CONTROLS:
        return "invisible text-direction character"
    if char in INVISIBLE:
        return "invisible character"
    if char in SEPARATORS:
        return "line separator"
    if ord(char) in TAGS:
        return "invisible tag character"
    return None


def unsafe_character_error(text: str, field: str) -> str | None:
    """Return the message that names the first refused character of `text`, or None."""
    found = unsafe_character(text)
    if found is None:
        return None
    kind, code = found
    return f"Remove the {kind} ({code}) from the {field}."


def replace_unsafe(text: str, *, keep: str = "") -> str:
    """Return `text` with each refused character not in `keep` replaced by U+FFFD.

    For text composed from stored values (an email's body): rows written before a rule existed,
    or by raw SQL, must not carry a refused character out of the building either.
    """
    return "".join(
        "\ufffd" if char not in keep and _kind(char) is not None else char for char in text
    )


@deconstructible
class SafeTextValidator:
    """The rule as a Django validator, for model fields: every ModelForm (the admin's too) then
    applies it. `field` is how the message names the value."""

    def __init__(self, field: str = "text") -> None:
        self.field = field

    def __call__(self, value: str) -> None:
        if message := unsafe_character_error(value, self.field):
            raise ValidationError(message, code="unsafe_character")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SafeTextValidator) and other.field == self.field

    def __hash__(self) -> int:
        return hash(self.field)
