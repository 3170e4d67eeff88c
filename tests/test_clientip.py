from __future__ import annotations

import pytest
from django.test import RequestFactory, override_settings

from voxkeys.clientip import client_ip


def ip_of(remote_addr: str = "10.0.0.2", forwarded_for: str | None = None) -> str | None:
    meta = {"REMOTE_ADDR": remote_addr}
    if forwarded_for is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded_for
    return client_ip(RequestFactory().get("/", **meta))


def test_without_trusted_proxies_the_header_is_ignored() -> None:
    assert ip_of("198.51.100.7", "203.0.113.9") == "198.51.100.7"


@pytest.mark.parametrize(
    ("proxies", "forwarded_for", "expected"),
    [
        (1, "203.0.113.9", "203.0.113.9"),
        (1, "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # the left entry was written by the client
        (2, "1.2.3.4, 203.0.113.9, 192.0.2.80", "203.0.113.9"),
        (1, "2001:db8::5", "2001:db8::5"),
        (1, "::ffff:203.0.113.9", "203.0.113.9"),
        (2, "203.0.113.9", "10.0.0.2"),  # too short to hold the client: the proxy's address
        (1, "not an address", "10.0.0.2"),
        (1, "2001:db8::1%eth0", "2001:db8::1"),  # a zone id: meaningless here, refused by inet
        (1, "[2001:db8::1%eth0]:443", "2001:db8::1"),
        (1, "fe80::1%25eth0", "fe80::1"),
        (1, "<script>alert(1)</script>", "10.0.0.2"),
        (1, "2001:DB8:0:0::1", "2001:db8::1"),  # one spelling per address: one bucket, one row
    ],
)
def test_behind_trusted_proxies_the_nth_entry_from_the_right(
    proxies: int, forwarded_for: str, expected: str
) -> None:
    with override_settings(TRUSTED_PROXY_COUNT=proxies):
        assert ip_of(forwarded_for=forwarded_for) == expected


def test_no_address_at_all() -> None:
    assert client_ip(RequestFactory().get("/", REMOTE_ADDR="")) is None


def test_a_connecting_address_with_a_zone_id_loses_it() -> None:
    assert ip_of("fe80::1%eth0") == "fe80::1"


def test_a_connecting_address_that_is_not_one_is_no_address() -> None:
    assert ip_of("unix:/run/gunicorn.sock") is None
