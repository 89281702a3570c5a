"""The on-device answer: per category the best local model beside the best cloud model, and a
local model's measured speed beside llama.cpp's own figures."""

from __future__ import annotations

import pytest

from bakeoff.evals.store.records import TrialRecord, TrialStatus
from bakeoff.evals.store.summary_records import Interval, ModelSummary
from bakeoff.evals.verdict.recommend import (
    LLAMA_CPP_REFERENCE,
    llama_cpp_reference,
    local_speeds,
    local_vs_cloud,
)
from bakeoff.types import AgentResult, RequestTiming, Usage

LOCAL, OTHER_LOCAL = "local:qwen2.5-coder-0.5b", "ollama:qwen3:8b"
CLOUD, CHEAP_CLOUD = "openai:gpt-5", "openai:gpt-5-nano"


def model(name: str, local: bool) -> ModelSummary:
    return ModelSummary(model=name, provider=name.split(":")[0], local=local, quality=Interval())


RANKING = [
    model(CLOUD, False),
    model(CHEAP_CLOUD, False),
    model(LOCAL, True),
    model(OTHER_LOCAL, True),
]


def trial(
    name: str,
    category: str,
    secs: float,
    cost: float | None,
    status: TrialStatus = "passed",
    requests: list[RequestTiming] | None = None,
    input_tokens: int = 0,
    repeat: int = 1,
) -> TrialRecord:
    agent = AgentResult(
        ok=True,
        answer="done",
        model=name,
        provider=name.split(":")[0],
        stop_reason="completed",
        duration_s=secs,
        cost_usd=cost,
        usage=Usage(input_tokens=input_tokens),
        requests=requests or [],
    )
    return TrialRecord(
        run_id="r",
        task=f"{category}-task",
        category=category,
        difficulty=1,
        model=name,
        repeat=repeat,
        status=status,
        agent=agent,
    )


def test_best_local_and_best_cloud_per_category() -> None:
    categories: dict[str, dict[str, float | None]] = {
        "implement": {CLOUD: 0.9, CHEAP_CLOUD: 0.9, LOCAL: 0.5, OTHER_LOCAL: 0.6},
        "debug": {CLOUD: 0.8, CHEAP_CLOUD: 0.4, LOCAL: 0.3, OTHER_LOCAL: None},
    }
    records = [
        trial(CLOUD, "implement", 40.0, 0.04),
        trial(CHEAP_CLOUD, "implement", 10.0, 0.001),
        trial(CHEAP_CLOUD, "implement", 30.0, 0.003, repeat=2),
        trial(CHEAP_CLOUD, "implement", 999.0, None, status="error", repeat=3),
        trial(LOCAL, "implement", 5.0, 0.0),
        trial(OTHER_LOCAL, "implement", 20.0, 0.0),
        trial(CLOUD, "debug", 50.0, None),
        trial(LOCAL, "debug", 8.0, 0.0),
    ]
    by_cat = {v.category: v for v in local_vs_cloud(RANKING, categories, records)}
    assert list(by_cat) == ["debug", "implement"]
    implement = by_cat["implement"]
    # Equal quality: the cheaper cloud model; its error trial counts in neither time nor cost.
    assert implement.cloud is not None and implement.cloud.model == CHEAP_CLOUD
    assert implement.cloud.median_s == 20.0
    assert implement.cloud.cost_per_run_usd == pytest.approx(0.002)
    assert implement.local is not None and implement.local.model == OTHER_LOCAL
    assert implement.local.quality == 0.6
    debug = by_cat["debug"]
    assert debug.cloud is not None and debug.cloud.cost_per_run_usd is None  # unknown price
    assert debug.local is not None and debug.local.model == LOCAL  # the ungraded one is not picked


def test_no_comparison_without_both_kinds() -> None:
    only_cloud = RANKING[:2]
    assert local_vs_cloud(only_cloud, {"implement": {CLOUD: 0.9}}, []) == []


def test_local_speed_from_the_requests_beside_llama_cpp() -> None:
    timings = [
        RequestTiming(latency_s=4.0, ttft_s=1.0, output_tokens=60, output_tps=20.0),
        RequestTiming(latency_s=6.0, ttft_s=3.0, output_tokens=90, output_tps=30.0),
        RequestTiming(latency_s=9.0, ttft_s=None, output_tokens=0, output_tps=None),
    ]
    records = [
        trial(LOCAL, "implement", 19.0, 0.0, requests=timings, input_tokens=800),
        trial(LOCAL, "implement", 1.0, None, status="error", requests=timings, repeat=2),
        trial(OTHER_LOCAL, "implement", 5.0, 0.0),
    ]
    speeds = {s.model: s for s in local_speeds(RANKING, records)}
    assert list(speeds) == [LOCAL, OTHER_LOCAL]  # local models only, in ranking order
    mine = speeds[LOCAL]
    assert mine.requests == 3  # the error trial's requests are left out
    assert mine.prompt_tps == pytest.approx(800 / 4.0)
    assert mine.output_tps == pytest.approx(25.0)
    assert mine.ttft_s == pytest.approx(2.0)
    assert mine.reference == LLAMA_CPP_REFERENCE["qwen2.5-coder-0.5b"]
    assert mine.reference.machine and mine.reference.measured == "2026-11-25"
    other = speeds[OTHER_LOCAL]
    assert other.reference is None  # never measured: no figure is made up
    assert other.prompt_tps is None and other.output_tps is None and other.ttft_s is None


def test_a_reference_belongs_to_one_model_file_never_a_neighbours() -> None:
    figures = LLAMA_CPP_REFERENCE["qwen2.5-coder-0.5b"]
    table = {"qwen2.5-coder-0.5b": figures, "llamacpp:Coder-Q8.gguf": figures}
    assert llama_cpp_reference(["local:qwen2.5-coder-0.5b"], table) is figures  # by GGUF key
    assert llama_cpp_reference(["llamacpp:coder-q8.gguf"], table) is figures  # by full id
    assert llama_cpp_reference(["local:qwen2.5-coder-1.5b"], table) is None  # another size
    assert llama_cpp_reference(["ollama:qwen2.5-coder-0.5b-instruct-q8_0"], table) is None
    assert (
        llama_cpp_reference(["local:qwen2.5-coder-1.5b"])
        is LLAMA_CPP_REFERENCE["qwen2.5-coder-1.5b"]
    )  # its own figures, measured for it


def test_runs_with_unreported_prompt_tokens_are_left_out_of_the_prompt_rate() -> None:
    timings = [RequestTiming(latency_s=4.0, ttft_s=2.0, output_tokens=60, output_tps=20.0)]
    counted = trial(LOCAL, "implement", 4.0, 0.0, requests=timings, input_tokens=800)
    silent = trial(LOCAL, "implement", 4.0, 0.0, requests=timings, repeat=2)
    silent.agent.usage = Usage(output_tokens=60, unreported=1)
    speeds = {s.model: s for s in local_speeds(RANKING, [counted, silent])}
    assert speeds[LOCAL].prompt_tps == pytest.approx(800 / 2.0)  # not 800 / 4.0
    only_silent = {s.model: s for s in local_speeds(RANKING, [silent])}
    assert only_silent[LOCAL].prompt_tps is None  # unknown, not 0 tok/s
