"""A priced model whose server did not report a request's tokens has an unknown cost (null),
never one computed from 0 tokens; `agent --json` keeps its four usage fields, adds `unreported`
and nulls what nobody counted; a self-hosted model's cost is unchanged; and the cost cap still
holds on the costs that are known. Driven by scripted models whose turns report no usage,
priced like a paid model through a `[prices]` override."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakeoff.agent import AgentConfig, run_agent
from bakeoff.config import load_config
from bakeoff.models.registry import resolve_model
from bakeoff.types import AgentResult, Usage

REPORTED = {"input_tokens": 1500, "output_tokens": 40}
LOOK = {"tool_calls": [{"name": "list_directory", "arguments": {}}]}
SILENT = {"usage": {"output_tokens": 9, "unreported": 1}}
TURNS = {
    "silent": [{"text": "done", **SILENT}],
    "partly": [{**LOOK, "usage": REPORTED}, {"text": "done", **SILENT}],
    "spender": [{**LOOK, "usage": REPORTED}, {**LOOK, **SILENT}]
    + [{**LOOK, "usage": REPORTED}] * 3,
}


@pytest.fixture
def scripts(isolated_config: Path) -> Path:
    """Scripts `silent` (no usage reported), `partly` (one of two requests reported) and
    `spender` (its second of five unreported), each priced at $1 in / $4 out per Mtok;
    `free.json` is `silent` with no price."""
    root = isolated_config.parent
    for name, turns in TURNS.items():
        (root / f"{name}.json").write_text(json.dumps(turns))
    (root / "free.json").write_text(json.dumps(TURNS["silent"]))
    isolated_config.write_text(
        "".join(f'[prices."script:{n}.json"]\ninput = 1.0\noutput = 4.0\n' for n in TURNS)
    )
    return root


async def run(root: Path, name: str, config: AgentConfig | None = None) -> AgentResult:
    model = resolve_model(f"script:{root / name}.json", load_config())
    return await run_agent("x", model, root / "ws", config)


def test_agent_json_says_unknown_and_keeps_the_contract(scripts: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bakeoff.cli",
            "agent",
            "x",
            "--model",
            "script:silent.json",
            "--json",
            "--workspace",
            str(scripts / "ws"),
        ],
        cwd=scripts,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    obj = json.loads(out.stdout)
    assert obj["ok"] is True
    assert obj["usage"] == {
        "input_tokens": None,
        "output_tokens": None,
        "cached_tokens": None,
        "reasoning_tokens": None,
        "unreported": 1,
    }
    assert obj["cost_usd"] is None  # priced, tokens unknown: never $0


async def test_partly_reported_usage_is_a_lower_bound_and_its_cost_unknown(scripts: Path) -> None:
    r = await run(scripts, "partly")
    assert r.ok and r.cost_usd is None
    assert r.to_public()["usage"] == {
        "input_tokens": 1500,
        "output_tokens": 49,
        "cached_tokens": 0,
        "reasoning_tokens": 0,
        "unreported": 1,
    }


async def test_a_self_hosted_model_keeps_its_cost(scripts: Path) -> None:
    r = await run(scripts, "free")
    assert r.cost_usd == 0.0  # tokens cost nothing here, however many there were
    assert r.to_public()["usage"]["input_tokens"] is None


def test_reported_usage_has_exactly_the_four_contract_fields() -> None:
    usage = Usage(input_tokens=3, output_tokens=2, cached_tokens=1, cache_write_tokens=1)
    assert usage.public() == {
        "input_tokens": 3,
        "output_tokens": 2,
        "cached_tokens": 1,
        "reasoning_tokens": 0,
    }


async def test_the_cost_cap_holds_on_the_known_costs(scripts: Path) -> None:
    # Each reported request costs $0.00166; the second is unreported, so the total is unknown,
    # but the cap still stops the run once the known costs reach it (after the third request).
    r = await run(scripts, "spender", AgentConfig(max_cost_usd=0.003))
    assert r.stop_reason == "cost_limit" and r.turns == 3
    assert r.cost_usd is None
