"""The key format: generation, checksum, digest and masking.

A key is `vxp_live_` (or `vxp_test_`) + 32 random base62 characters + a 6-character base62
CRC32 checksum of the random part. The fixed prefix lets secret scanners find leaked keys;
the checksum lets the middleware reject typos and junk without touching the database.
"""

from __future__ import annotations

import hashlib
import secrets
import zlib

BASE62_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
LIVE_PREFIX = "vxp_live_"
TEST_PREFIX = "vxp_test_"
KEY_PREFIXES = (LIVE_PREFIX, TEST_PREFIX)
RANDOM_LENGTH = 32
CHECKSUM_LENGTH = 6
KEY_LENGTH = len(LIVE_PREFIX) + RANDOM_LENGTH + CHECKSUM_LENGTH
MASK_CHARS = 4

_BASE62_SET = frozenset(BASE62_ALPHABET)


def encode_base62(number: int, width: int) -> str:
    """Return `number` in base62, left-padded with zeros to `width` characters."""
    digits = []
    while number:
        number, remainder = divmod(number, 62)
        digits.append(BASE62_ALPHABET[remainder])
    return "".join(reversed(digits)).rjust(width, BASE62_ALPHABET[0])


def checksum(random_part: str) -> str:
    # CRC32 fits in 6 base62 characters (62**6 > 2**32).
    return encode_base62(zlib.crc32(random_part.encode("ascii")), CHECKSUM_LENGTH)


def generate_key(prefix: str = LIVE_PREFIX) -> str:
    """Return a new secret key; ~190 bits of randomness from the OS's CSPRNG."""
    if prefix not in KEY_PREFIXES:
        raise ValueError(f"Unknown key prefix {prefix!r}.")
    random_part = "".join(secrets.choice(BASE62_ALPHABET) for _ in range(RANDOM_LENGTH))
    return prefix + random_part + checksum(random_part)


def is_well_formed(key: str) -> bool:
    """Return whether `key` has the right prefix, length, alphabet and checksum."""
    if len(key) != KEY_LENGTH or not key.startswith(KEY_PREFIXES):
        return False
    body = key[len(LIVE_PREFIX) :]
    if not _BASE62_SET.issuperset(body):
        return False
    random_part, given_checksum = body[:RANDOM_LENGTH], body[RANDOM_LENGTH:]
    # Not secret (the checksum is derived from the key itself), but compare_digest costs nothing.
    return secrets.compare_digest(checksum(random_part), given_checksum)


def key_digest(key: str) -> str:
    """Return the SHA-256 hex digest stored in place of the key.

    A fast hash is safe here: the key has ~190 bits of entropy, so there is nothing to brute-force.
    """
    return hashlib.sha256(key.encode("ascii")).hexdigest()


def masked_key(key: str) -> str:
    """Return the key's display form, e.g. `vxp_live_AbCd…2C7V`.

    It ends with the key's own last four characters (of the checksum), so a person can match it
    against the end of the key in their configuration. Keys masked before that kept the random
    part's last four; their stored masks stay as they were.
    """
    prefix = key[: len(LIVE_PREFIX)]
    random_part = key[len(LIVE_PREFIX) : len(LIVE_PREFIX) + RANDOM_LENGTH]
    return f"{prefix}{random_part[:MASK_CHARS]}…{key[-MASK_CHARS:]}"
