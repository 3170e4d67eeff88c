"""Per-key IP allowlists: parsing what a person typed, and checking a client's address.

Stored normalized (apikeys.models.ApiKey.allowed_ips): one network per entry in CIDR form, a
single address without its /32 or /128, IPv4-mapped IPv6 written as IPv4.
"""

from __future__ import annotations

import re
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

MAX_ENTRIES = 50
_SEPARATORS = re.compile(r"[\s,;]+")

Network = IPv4Network | IPv6Network


def _network(entry: str) -> Network:
    network = ip_network(entry, strict=False)
    if isinstance(network, IPv6Network) and network.network_address.ipv4_mapped is not None:
        mapped = network.network_address.ipv4_mapped
        network = ip_network(f"{mapped}/{max(network.prefixlen - 96, 0)}", strict=False)
    return network


def _display(network: Network) -> str:
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def allowlist_entries(text: str) -> list[str]:
    """Return the entries typed: one per line, or separated by spaces, commas or semicolons."""
    return [entry for entry in _SEPARATORS.split(text or "") if entry]


def normalize_allowlist(text: str) -> str:
    """Return the allowlist in stored form, or raise ValueError with the message for the form."""
    entries = allowlist_entries(text)
    networks: list[Network] = []
    problems = []
    for entry in entries:
        try:
            network = _network(entry)
        except ValueError:
            problems.append(entry)
            continue
        if network not in networks:
            networks.append(network)
    if problems:
        shown = ", ".join(f"“{entry[:50]}”" for entry in problems[:3])
        raise ValueError(
            f"Not an IP address or range: {shown}. Use addresses such as 203.0.113.7 or "
            "2001:db8::7, or CIDR ranges such as 203.0.113.0/24."
        )
    if len(networks) > MAX_ENTRIES:
        raise ValueError(
            f"List at most {MAX_ENTRIES} addresses or ranges (there are {len(networks)}); "
            "use CIDR ranges to cover several addresses."
        )
    return " ".join(_display(network) for network in networks)


def is_allowed(allowed_ips: str, client_ip: str | None) -> bool:
    """Return whether `client_ip` falls in the stored allowlist (an empty list allows all)."""
    if not allowed_ips:
        return True
    if client_ip is None:
        return False
    try:
        address = ip_address(client_ip)
    except ValueError:
        return False
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in ip_network(entry) for entry in allowed_ips.split())
