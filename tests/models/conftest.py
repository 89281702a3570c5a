"""Fixtures for the wire-format adapter tests: a scripted loopback server per test, which fails
the test if a scripted reply was never asked for, and a fast retry policy."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bakeoff.models.base import RetryPolicy

from .wire_servers import WireServer


@pytest.fixture
def server() -> Iterator[WireServer]:
    with WireServer() as wire:
        yield wire
    assert wire.pending == 0, f"{wire.pending} scripted replies were never requested"


@pytest.fixture
def fast_retry() -> RetryPolicy:
    return RetryPolicy(max_retries=2, base_s=0.01, cap_s=0.05)
