"""What counts as this machine on the network, asked two ways, and every such check in bakeoff
calls one of the two functions here.

Listening (`is_loopback_host`: may a server bind here and stay private?): exactly three names,
`127.0.0.1`, `::1` and `localhost`. Other 127.x addresses, `0.0.0.0`, `::` and IPv4-mapped forms
are not loopback for this: a listener on them may be reachable from elsewhere, and a server
meant to stay private must not be talked into one.

Connecting (`is_local_host`, `is_local_url`: is the server a base URL names on this machine?):
every address whose packets never leave it. That is `localhost`, all of 127.0.0.0/8, `::1`, their
IPv4-mapped forms, and the unspecified addresses `0.0.0.0` and `::`, which a client connecting
to them reaches this machine through (Linux and macOS route them to loopback): a server started
with `--host 0.0.0.0` is often reached by the URL it printed. Such a model runs here: it is free
in tokens, shares this machine's CPU/GPU, and is sent the request fields local servers read."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

LOOPBACK_ADDRESSES = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
"""The loopback hosts as they appear in a URL or a Host header (IPv6 in brackets)."""


def _bare(host: str) -> str:
    bare = host.strip()
    if bare.startswith("[") and bare.endswith("]"):
        bare = bare[1:-1]
    return bare


def is_loopback_host(host: str) -> bool:
    """Whether `host` (a name, an address, or an IPv6 address in brackets, any case) is
    127.0.0.1, ::1 or localhost: an address a server may listen on and stay private."""
    bare = _bare(host)
    if bare.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(bare) in LOOPBACK_ADDRESSES
    except ValueError:
        return False


def is_local_host(host: str) -> bool:
    """Whether a client connecting to `host` reaches this machine: localhost, 127.0.0.0/8,
    ::1, an IPv4-mapped loopback address, 0.0.0.0 or ::. Other names are not resolved."""
    bare = _bare(host)
    if bare.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(bare)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def is_local_url(url: str | None) -> bool:
    """Whether the server at base URL `url` is on this machine (`is_local_host` of its host);
    False for None, a URL without a host, or one that does not parse."""
    if not url:
        return False
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False
    return host is not None and is_local_host(host)


def url_host(host: str) -> str:
    """`host` as written in a URL or Host header: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
