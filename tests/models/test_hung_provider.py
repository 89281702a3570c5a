"""A provider that accepts a request and never answers, or stalls mid-stream, is the
infrastructure's failure: the request fails by the provider's own timeout, is retried, and the
run stops as `provider_error` (trial `error`, unranked), even when the run's wall clock ran out
while it waited. A model still producing when its time runs out is the model's `timeout`. Real
loopback servers, the official SDKs, the real agent and bake-off."""

from __future__ import annotations

import json
import time
from pathlib import Path

from bakeoff.agent import AgentConfig, run_agent
from bakeoff.config import load_config
from bakeoff.evals.run.runner import BakeoffRequest, run_bakeoff
from bakeoff.evals.store.records import trial_status
from bakeoff.models.anthropic_messages import AnthropicModel
from bakeoff.models.base import RetryPolicy
from bakeoff.models.openai_chat import OpenAIChatModel

from .wire_servers import (
    JITTER_S,
    KeepAlive,
    Pause,
    Reply,
    WireServer,
    anthropic_stream,
    anthropic_text_block,
    error_reply,
    openai_chunk,
    openai_said,
    openai_stream,
)

WALL_S = 0.3
"""A run's wall clock shorter than the provider's timeout: a silent request outlives it."""
PROVIDER_S = 0.6
"""The provider's timeout: no byte for this long fails a request."""
LATE_S = 1.0
"""A run's wall clock that the second of two tries outlives (1.2 s) while the first chunk of a
reply still comes in time on a loaded machine."""
HANG = Reply(delay_s=30.0, body={})
"""Accepts the request and never answers (the server's exit ends the wait)."""


def openai_model(server: WireServer, retries: int = 2) -> OpenAIChatModel:
    return OpenAIChatModel(
        "openai",
        "x",
        base_url=f"{server.url}/v1",
        api_key="test-key",
        timeout_s=PROVIDER_S,
        retry=RetryPolicy(max_retries=retries, base_s=0.01, cap_s=1.0),
    )


async def test_a_provider_that_never_answers_is_an_error_not_the_models_timeout(
    server: WireServer, tmp_path: Path
) -> None:
    server.add(HANG, HANG, HANG)
    model = openai_model(server)
    try:
        result = await run_agent("Say hi", model, tmp_path, AgentConfig(timeout_s=WALL_S))
    finally:
        await model.aclose()
    assert result.stop_reason == "provider_error", result.error
    assert trial_status(result, None) == "error"
    assert len(server.requests) == 3  # every try was made, though the wall clock ran out first
    assert result.error is not None
    assert f"no byte from {server.url}/v1 within 0.6s" in result.error
    assert "(3 tries)" in result.error and "[providers.openai] timeout_s" in result.error
    assert "\n" not in result.error
    assert result.duration_s >= 3 * PROVIDER_S - JITTER_S


async def test_a_stream_that_stalls_midway_is_an_error_not_the_models_timeout(
    server: WireServer, tmp_path: Path
) -> None:
    stalled = openai_stream(
        openai_chunk({"role": "assistant", "content": "I will"}),
        openai_chunk({"content": " write"}),
        Pause(30.0),
    )
    server.add(stalled, stalled)
    model = openai_model(server, retries=1)
    try:
        result = await run_agent("Say hi", model, tmp_path, AgentConfig(timeout_s=LATE_S))
    finally:
        await model.aclose()
    assert result.stop_reason == "provider_error", result.error
    assert trial_status(result, None) == "error"
    assert len(server.requests) == 2
    assert result.error is not None
    # The SDK reports a stall as a timeout, the same words as a provider that never began.
    assert f"no byte from {server.url}/v1 within 0.6s" in result.error
    assert result.error.endswith("(2 tries)")


async def test_an_anthropic_provider_that_hangs_is_an_error(
    server: WireServer, tmp_path: Path
) -> None:
    stalled = anthropic_stream(*anthropic_text_block(0, "par", Pause(30.0), "tial"))
    server.add(HANG, stalled)
    model = AnthropicModel(
        "anthropic",
        "claude-test",
        api_key="test-key",
        base_url=server.url,
        timeout_s=PROVIDER_S,
        retry=RetryPolicy(max_retries=1, base_s=0.01, cap_s=0.05),
    )
    try:
        result = await run_agent("Say hi", model, tmp_path, AgentConfig(timeout_s=LATE_S))
    finally:
        await model.aclose()
    assert result.stop_reason == "provider_error", result.error
    assert result.error is not None and result.error.startswith("anthropic:claude-test: no byte")
    assert result.error.endswith("[providers.anthropic] timeout_s (2 tries)")


async def test_a_model_still_streaming_when_time_runs_out_is_timed_out(
    server: WireServer, tmp_path: Path
) -> None:
    # A chunk every 0.15 s for 3 s: never silent for the provider's timeout, never done in time.
    pieces = [item for n in range(20) for item in (openai_chunk({"content": f"{n} "}), Pause(0.15))]
    server.add(openai_stream(*pieces))
    model = openai_model(server)
    try:
        result = await run_agent("Count", model, tmp_path, AgentConfig(timeout_s=LATE_S))
    finally:
        await model.aclose()
    assert result.stop_reason == "timeout"
    assert trial_status(result, None) == "timeout"
    assert result.duration_s < 2.5  # stopped at the first chunk past the deadline, not the end
    assert result.transcript[-1].content.startswith("0 ")  # the reply cut short, kept


async def test_a_silent_request_whose_answer_begins_after_the_deadline_is_timed_out(
    server: WireServer, tmp_path: Path
) -> None:
    # Silent past the run's deadline but within the provider's timeout, then producing: the
    # provider was alive, the model was slow.
    server.add(Reply(delay_s=0.6, events=[openai_chunk({"content": "Hello"}), Pause(5.0)]))
    model = openai_model(server)
    model.timeout_s = 2.0
    try:
        result = await run_agent("Say hi", model, tmp_path, AgentConfig(timeout_s=WALL_S))
    finally:
        await model.aclose()
    assert result.stop_reason == "timeout"
    assert len(server.requests) == 1
    assert 0.6 - JITTER_S <= result.duration_s < 2.0  # waited for the byte, not the timeout


async def test_a_provider_sending_only_keep_alives_cannot_hold_a_run_open(
    server: WireServer, tmp_path: Path
) -> None:
    # The SDK skips SSE comments and its read timeout never fires: the run's clock waits for
    # the request no longer than three provider timeouts and a second (SILENCE_SLACK_S).
    server.add(openai_stream(*[item for _ in range(80) for item in (KeepAlive(), Pause(0.1))]))
    model = openai_model(server)
    model.timeout_s = 0.3
    try:
        result = await run_agent("Say hi", model, tmp_path, AgentConfig(timeout_s=WALL_S))
    finally:
        await model.aclose()
    assert result.stop_reason == "timeout"
    assert 3 * 0.3 + 1.0 - JITTER_S <= result.duration_s < 4.0


async def test_a_failed_try_and_its_back_off_are_not_the_models_time(
    server: WireServer, tmp_path: Path
) -> None:
    server.add(
        error_reply(503, "overloaded", headers={"retry-after": "1.0"}),
        openai_said("Hi."),
    )
    model = openai_model(server)
    try:
        result = await run_agent("Say hi", model, tmp_path, AgentConfig(timeout_s=0.6))
    finally:
        await model.aclose()
    assert result.stop_reason == "completed", result.error
    assert result.answer == "Hi." and result.requests[0].retries == 1
    assert result.wait_time_s >= 1.0  # the back-off alone outlasted the wall clock


TASK_CHECK = "import pathlib; assert pathlib.Path('hi.txt').read_text() == 'hi'"


async def test_a_hung_model_is_unranked_with_its_reason_not_graded(
    server: WireServer, tmp_path: Path, isolated_config: Path
) -> None:
    server.add(HANG, HANG)
    task = tmp_path / "tasks" / "hi"
    (task / "files").mkdir(parents=True)
    (task / "files" / "README.md").write_text("greetings\n")
    (task / "task.toml").write_text(
        'name = "hi"\nprompt = "Create hi.txt holding hi."\ncategory = "implement"\n'
        f"difficulty = 1\n[check]\ncommand = {json.dumps(f'python -c {TASK_CHECK!r}')}\n"
        "timeout_s = 30\n"
    )
    write = {"name": "write_file", "arguments": {"path": "hi.txt", "content": "hi"}}
    script = tmp_path / "writer.json"
    script.write_text(json.dumps([{"tool_calls": [write]}, {"text": "Done."}]))
    isolated_config.write_text(
        f'[providers.hung]\nbase_url = "{server.url}/v1"\ntimeout_s = {PROVIDER_S}\n'
        "max_retries = 1\n"
    )
    t0 = time.perf_counter()
    outcome = await run_bakeoff(
        BakeoffRequest(
            models=[f"script:{script}", "hung:m"],
            tasks=[task],
            preflight=False,
            agent=AgentConfig(timeout_s=LATE_S),
        ),
        config=load_config(isolated_config),
    )
    assert time.perf_counter() - t0 < 20
    status = {r.model: r.status for r in outcome.records}
    assert status == {"hung:m": "error", "script:writer": "passed"}, status
    assert [m.model for m in outcome.summary.ranking] == ["script:writer"]
    [unranked] = outcome.summary.unranked
    assert unranked.model == "hung:m" and unranked.errors == 1
    assert unranked.reason.startswith(f"hung:m: no byte from {server.url}/v1 within 0.6s")
    assert unranked.reason.endswith("(2 tries)")
