"""What counts as this machine on the network. Loopback means exactly three names: `127.0.0.1`,
`::1` and `localhost`. Other 127.x addresses, `0.0.0.0`, `::` and IPv4-mapped forms are not
loopback here: a listener on them may be reachable from elsewhere, and a server meant to stay
private must not be talked into one. Every loopback check in bakeoff calls `is_loopback_host`."""

from __future__ import annotations

import ipaddress

LOOPBACK_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
"""The loopback hosts as they appear in a URL or a Host header (IPv6 in brackets)."""


def is_loopback_host(host: str) -> bool:
    """Whether `host` (a name, an address, or an IPv6 address in brackets, any case) is
    127.0.0.1, ::1 or localhost."""
    bare = host.strip()
    if bare.startswith("[") and bare.endswith("]"):
        bare = bare[1:-1]
    if bare.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare) in LOOPBACK_ADDRESSES
    except ValueError:
        return False


def url_host(host: str) -> str:
    """`host` as written in a URL or Host header: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
