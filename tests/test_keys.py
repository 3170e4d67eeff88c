from __future__ import annotations

import hashlib
import re
import zlib

import pytest

from apikeys import keys

KEY_PATTERN = re.compile(r"^vxp_(live|test)_[0-9A-Za-z]{32}[0-9A-Za-z]{6}$")


def test_generated_key_has_documented_format() -> None:
    key = keys.generate_key()
    assert KEY_PATTERN.match(key)
    assert key.startswith("vxp_live_")
    assert len(key) == keys.KEY_LENGTH == 9 + 32 + 6


def test_test_prefix_is_supported_and_unknown_prefix_refused() -> None:
    assert keys.generate_key(keys.TEST_PREFIX).startswith("vxp_test_")
    with pytest.raises(ValueError):
        keys.generate_key("sk_live_")


def test_generated_keys_are_well_formed_and_distinct() -> None:
    generated = {keys.generate_key() for _ in range(500)}
    assert len(generated) == 500
    assert all(keys.is_well_formed(key) for key in generated)


def test_checksum_is_crc32_of_random_part_in_base62() -> None:
    random_part = "A" * 32
    value = zlib.crc32(random_part.encode())
    decoded = 0
    for char in keys.checksum(random_part):
        decoded = decoded * 62 + keys.BASE62_ALPHABET.index(char)
    assert decoded == value
    assert len(keys.checksum(random_part)) == 6


def test_encode_base62_pads_and_encodes() -> None:
    assert keys.encode_base62(0, 6) == "000000"
    assert keys.encode_base62(61, 2) == "0z"
    assert keys.encode_base62(62, 2) == "10"
    assert keys.encode_base62(2**32 - 1, 6) == "4gfFC3"


def _with_last_char(key: str, char: str) -> str:
    return key[:-1] + char


@pytest.mark.parametrize(
    "mutate",
    [
        lambda k: "",
        lambda k: k[:-1],
        lambda k: k + "0",
        lambda k: k.replace("vxp_live_", "vxp_prod_"),
        lambda k: k.replace("vxp_live_", "VXP_LIVE_"),
        lambda k: k[:12] + "-" + k[13:],
        lambda k: k[:12] + "é" + k[13:],
        lambda k: k[:12] + " " + k[13:],
        lambda k: _with_last_char(k, "1" if k[-1] != "1" else "2"),
        lambda k: k[:10] + ("B" if k[10] != "B" else "C") + k[11:],
        lambda k: " " + k[:-1],
    ],
    ids=[
        "empty",
        "too-short",
        "too-long",
        "wrong-prefix",
        "uppercase-prefix",
        "punctuation",
        "non-ascii",
        "space",
        "wrong-checksum",
        "typo-in-random-part",
        "leading-space",
    ],
)
def test_malformed_keys_are_rejected(mutate) -> None:  # noqa: ANN001
    assert not keys.is_well_formed(mutate(keys.generate_key()))


def test_digest_is_sha256_hex_of_whole_key() -> None:
    key = keys.generate_key()
    assert keys.key_digest(key) == hashlib.sha256(key.encode()).hexdigest()
    assert len(keys.key_digest(key)) == 64


def test_masked_key_ends_with_the_last_four_characters_of_the_whole_key() -> None:
    key = "vxp_live_AbCd" + "x" * 24 + "wxyz" + "002C7V"
    assert keys.masked_key(key) == "vxp_live_AbCd…2C7V"
    # Never more of the secret than the first four of the random part and the last four.
    assert "xxxx" not in keys.masked_key(key)
    assert "wxyz" not in keys.masked_key(key)
