"""Preflight: every model and judge is reached once before a run, over real loopback sockets
through the official SDKs, and the run stops with one message naming every model that cannot be
used — a stopped server, a missing key, a refused key, a server too slow to answer — and what to
do about each. Nothing runs and nothing is stored when it stops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from models.wire_servers import Reply, WireServer, error_reply, free_port, openai_said

from bakeoff.config import BakeoffConfig, load_config
from bakeoff.errors import ProviderError, ProviderUnreachable
from bakeoff.models.openai_chat import OpenAIChatModel
from bakeoff.models.preflight import PreflightFailed, ready_models

MODEL_LIST = Reply(body={"object": "list", "data": []})


def bakeoff(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bakeoff.cli", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_openai_compatible_ping_is_a_one_token_chat() -> None:
    with WireServer() as server:
        server.add(openai_said("OK"), error_reply(401, "bad key"))
        model = OpenAIChatModel("p", "m", base_url=f"{server.url}/v1", api_key="k")
        probe = await model.ping()
        with pytest.raises(ProviderError) as refused:
            await model.ping()
        await model.aclose()
    assert probe is not None and probe.message.content == "OK"
    assert refused.value.status == 401
    assert [(r.method, r.path) for r in server.requests] == [("POST", "/v1/chat/completions")] * 2
    assert server.requests[0].body["max_completion_tokens"] == 1
    assert server.requests[0].headers["authorization"] == "Bearer k"


async def test_a_server_that_lists_models_but_fails_every_chat_is_named(
    isolated_config: Path,
) -> None:
    with WireServer() as server:
        server.add(error_reply(500, "llama_decode failed"))
        isolated_config.write_text(f'[providers.broken]\nbase_url = "{server.url}/v1"\n')
        with pytest.raises(PreflightFailed) as stopped:
            await ready_models(["broken:m"], [], load_config(isolated_config))
    [problem] = stopped.value.problems
    assert problem.model == "broken:m"
    assert "HTTP 500" in problem.problem and "llama_decode failed" in problem.problem


async def test_the_probes_cost_is_counted(isolated_config: Path) -> None:
    with WireServer() as server:
        server.add(openai_said("OK"), openai_said("OK"))
        isolated_config.write_text(
            f'[providers.paid]\nbase_url = "{server.url}/v1"\n'
            '[prices."paid:m"]\ninput = 1.0\noutput = 2.0\n'
            '[prices."paid:j"]\ninput = 1.0\noutput = 2.0\n'
        )
        ready = await ready_models(["paid:m"], ["paid:j"], load_config(isolated_config))
    for model in [*ready.contestants.values(), *ready.judges.values()]:
        await model.aclose()
    assert set(ready.probes) == {"paid:m", "paid:j"}
    assert ready.spent_usd is not None and ready.spent_usd > 0
    assert ready.note() is not None and f"${ready.spent_usd:.6f}" in (ready.note() or "")


async def test_ping_of_a_closed_port_is_unreachable() -> None:
    model = OpenAIChatModel("p", "m", base_url=f"http://127.0.0.1:{free_port()}/v1", api_key=None)
    with pytest.raises(ProviderUnreachable):
        await model.ping()
    await model.aclose()


async def test_a_server_too_slow_for_the_probe_is_named_with_the_wait(
    isolated_config: Path,
) -> None:
    with WireServer() as server:
        server.add(Reply(body={"object": "list", "data": []}, delay_s=5))
        isolated_config.write_text(f'[providers.slow]\nbase_url = "{server.url}/v1"\n')
        with pytest.raises(PreflightFailed) as stopped:
            await ready_models(["slow:m"], [], load_config(isolated_config), timeout_s=0.3)
    [problem] = stopped.value.problems
    assert problem.model == "slow:m" and f"no answer within 0.3 s from {server.url}/v1" in str(
        stopped.value
    )


async def test_without_ping_models_are_made_but_not_reached() -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"
    config = BakeoffConfig.model_validate({"providers": {"down": {"base_url": closed}}})
    ready = await ready_models(["down:m"], ["down:j"], config, ping=False)
    assert list(ready.contestants) == ["down:m"] and list(ready.judges) == ["down:j"]
    for model in [*ready.contestants.values(), *ready.judges.values()]:
        await model.aclose()
    with pytest.raises(PreflightFailed, match="down:m: no server answers at"):
        await ready_models(["down:m"], [], config)


def test_run_stops_with_one_message_naming_every_bad_model(
    tmp_path: Path, isolated_config: Path
) -> None:
    script = tmp_path / "good.json"
    script.write_text(json.dumps([{"text": "done"}]))
    task = tmp_path / "task"
    (task / "files").mkdir(parents=True)
    (task / "task.toml").write_text(
        'name = "t"\nprompt = "Say done."\ncategory = "c"\ndifficulty = 1\n'
        '[judge]\nrubric = "Says done."\n'
    )
    db = tmp_path / "r.sqlite"
    with WireServer() as keyed:
        keyed.add(error_reply(401, "invalid api key"))
        isolated_config.write_text(
            f'[providers.ollama]\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
            f'[providers.keyed]\nbase_url = "{keyed.url}/v1"\napi_key_env = "KEYED_KEY"\n'
            f'[providers.down]\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
        )
        models = f"script:{script},ollama:gpt-oss:20b,openai:gpt-5-mini,keyed:m"
        run = bakeoff(
            "run", str(task), "--models", models, "--judge", "down:j", "--store", str(db),
            cwd=tmp_path, env={"KEYED_KEY": "sk-wrong"},
        )  # fmt: skip
    assert run.returncode == 2
    message = run.stderr
    assert message.startswith("error: 4 of 5 models cannot be used")  # one message, no board
    assert message.count("error:") == 1
    assert "ollama:gpt-oss:20b: no server answers at" in message and "`ollama serve`" in message
    assert "openai:gpt-5-mini: OPENAI_API_KEY is not set → export OPENAI_API_KEY=" in message
    assert "keyed:m: the key was refused (HTTP 401) → check KEYED_KEY" in message
    assert "down:j (judge): no server answers at" in message
    assert "good.json" not in message and "--no-preflight" in message
    assert "sk-wrong" not in message
    runs = bakeoff("runs", "--json", "--store", str(db), cwd=tmp_path, env={})
    assert json.loads(runs.stdout) == []  # nothing ran, nothing was stored


async def test_the_embedded_model_is_checked_by_generating_and_then_unloaded() -> None:
    from bakeoff.models.embedded import EmbeddedModel, embedded_spec

    if not embedded_spec("qwen2.5-coder-0.5b").installed():
        pytest.skip("the embedded model's weights are not installed")
    model = EmbeddedModel("qwen2.5-coder-0.5b")
    try:
        await model.ping()
        assert model.server.self_check_s is not None  # it loaded and generated its token
        assert not model.server.running  # and let go of its memory until the run needs it
    finally:
        await model.aclose()
