"""Loopback is exactly 127.0.0.1, ::1 and localhost: every other address, however local it
looks, counts as reachable from elsewhere."""

from __future__ import annotations

import pytest

from bakeoff.net import is_loopback_host, url_host


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "::1", "[::1]", "localhost", "LocalHost", "0:0:0:0:0:0:0:1"]
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.2",
        "127.1",
        "127.255.255.254",
        "0.0.0.0",
        "::",
        "::ffff:127.0.0.1",
        "localhost.",
        "localhost.evil.example",
        "evil.example",
        "192.168.1.5",
        "",
    ],
)
def test_everything_else_is_not_loopback(host: str) -> None:
    assert not is_loopback_host(host)


def test_url_host_brackets_ipv6_only() -> None:
    assert [url_host(h) for h in ("::1", "[::1]", "127.0.0.1", "localhost")] == [
        "[::1]",
        "[::1]",
        "127.0.0.1",
        "localhost",
    ]
