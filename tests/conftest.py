"""Suite-wide guards: no test reaches anything but loopback, no real API key leaks into a test
(unless --live is given for the money-spending tests), and libraries don't phone home."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

KEY_VARS = [
    "OPENAI_API_KEY",
    "ANTHROPIC_API_KEY",
    "OPENROUTER_API_KEY",
    "GROQ_API_KEY",
    "GEMINI_API_KEY",
]
_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--live", action="store_true", help="run live-API tests (spends money)")


def _loopback_only(address: Any) -> None:
    if isinstance(address, tuple) and address:
        host = address[0]
        try:
            ok = ipaddress.ip_address(host).is_loopback
        except ValueError:
            ok = host == "localhost"
        if not ok:
            raise ConnectionRefusedError(f"test tried to reach {host}: only loopback is allowed")


def _guarded_connect(self: socket.socket, address: Any) -> None:
    _loopback_only(address)
    _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    _loopback_only(address)
    return _real_connect_ex(self, address)


def pytest_configure(config: pytest.Config) -> None:
    os.environ["GENAI_PRICES_AUTO_UPDATE"] = "0"
    for var in ("OTEL_SDK_DISABLED", "ANTHROPIC_DISABLE_TELEMETRY", "DO_NOT_TRACK"):
        os.environ[var] = "1" if var != "OTEL_SDK_DISABLED" else "true"
    if not config.getoption("--live"):
        for var in KEY_VARS:
            os.environ.pop(var, None)
        socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--live"):
        return
    skip = pytest.mark.skip(reason="live-API test: pass --live and set the provider's key")
    for item in items:
        if "live" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No user config leaks in: BAKEOFF_CONFIG points at an empty file in tmp."""
    cfg = tmp_path / "bakeoff.toml"
    cfg.write_text("", encoding="utf-8")
    monkeypatch.setenv("BAKEOFF_CONFIG", str(cfg))
    monkeypatch.chdir(tmp_path)
    yield cfg
