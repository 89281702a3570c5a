"""Loopback, for a listener, is exactly 127.0.0.1, ::1 and localhost: every other address,
however local it looks, counts as reachable from elsewhere. For a client's base URL, "this
machine" also takes the rest of 127/8, IPv4-mapped loopback and the unspecified addresses
(0.0.0.0, ::), which a connection reaches this machine through."""

from __future__ import annotations

import pytest

from bakeoff.config import ProviderConfig
from bakeoff.net import is_local_url, is_loopback_host, url_host


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


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/v1",
        "http://localhost:11434/v1",
        "http://LOCALHOST/v1",
        "http://[::1]:8000/v1",
        "http://0.0.0.0:8080/v1",
        "http://[::]:8080/v1",
        "http://127.0.0.2:1234",
        "http://[::ffff:127.0.0.1]:1234",
    ],
)
def test_base_urls_that_reach_this_machine(url: str) -> None:
    assert is_local_url(url)
    # The provider config asks the same question: a server there runs here and is free in tokens.
    assert ProviderConfig(base_url=url).is_local


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "https://api.openai.com/v1",
        "http://192.168.1.5:11434/v1",
        "http://localhost.evil.example/v1",
        "http://10.0.0.1/v1",
        "not a url",
        "http://[::1/v1",
    ],
)
def test_base_urls_elsewhere(url: str | None) -> None:
    assert not is_local_url(url)


def test_0_0_0_0_is_this_machine_to_a_client_but_never_a_private_listener() -> None:
    assert is_local_url("http://0.0.0.0:8080/v1") and not is_loopback_host("0.0.0.0")
