"""Live-provider tests: they spend real money, so they run only with `--live` and the provider's
key set, and never in CI. One short agent run per provider checks the real wire end to end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bakeoff.agent import AgentConfig, run_agent
from bakeoff.models.registry import resolve_model

pytestmark = pytest.mark.live

CASES = [
    ("gpt-5-mini", "OPENAI_API_KEY"),
    ("haiku", "ANTHROPIC_API_KEY"),
    ("gemini-2.5-flash", "GEMINI_API_KEY"),
]


@pytest.mark.parametrize(("model", "key"), CASES)
async def test_live_agent_writes_a_file_and_reports_cost(
    tmp_path: Path, model: str, key: str
) -> None:
    if not os.environ.get(key):
        pytest.skip(f"{key} is not set")
    m = resolve_model(model)
    try:
        r = await run_agent(
            "Create hello.py that prints exactly: Hello, bakeoff!",
            m,
            tmp_path,
            AgentConfig(max_turns=6, timeout_s=120, max_cost_usd=0.05),
        )
    finally:
        await m.aclose()
    assert r.ok, r.error
    assert "Hello, bakeoff!" in (tmp_path / "hello.py").read_text()
    assert r.usage.input_tokens > 0 and r.usage.output_tokens > 0
    assert r.cost_usd is not None and 0 < r.cost_usd < 0.05
    assert all(q.latency_s > 0 for q in r.requests)
