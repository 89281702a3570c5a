"""A small but complete bake-off for the report tests, built directly from the record shapes:
four models (one local at $0, one with an unknown price), three tasks in three categories, two
repeats, one judge, transcripts with tool calls and errors, and a hostile answer that tries to
run a script in the HTML report. `wide_summary`/`wide_records` are the same bake-off with nine
models (two local, long ids, close scores) and every pair tested: the crowded case."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.evals.store.records import BakeoffSpec, Grade, GradeWeights, JudgeScore, TrialRecord
from bakeoff.evals.store.summary_records import (
    BakeoffSummary,
    Interval,
    JudgeReliability,
    ModelSummary,
    PairwiseTest,
    Recommendation,
)
from bakeoff.evals.trial.checks import CheckResult
from bakeoff.report.html import write_html
from bakeoff.types import AgentResult, Message, RequestTiming, ToolCall, Usage

RUN_ID = "demo-20250601"
TASKS = [
    ("add-numbers", "implement", 1),
    ("fix-off-by-one", "debug", 2),
    ("rename-api", "refactor", 3),
]
MODELS = [
    "openai:gpt-5",
    "openai:gpt-5-mini",
    "anthropic:claude-haiku-4-5",
    "local:qwen2.5-coder-0.5b",
]
XSS = "<script>window.__pwned=1</script>"
# Per model: quality (the summary's), share of tests passed, seconds per run, cost per run.
PROFILE = {
    "openai:gpt-5": (0.93, 1.0, 48.0, 0.041),
    "openai:gpt-5-mini": (0.81, 0.83, 21.0, 0.006),
    "anthropic:claude-haiku-4-5": (0.74, 0.67, 9.5, None),
    "local:qwen2.5-coder-0.5b": (0.22, 0.17, 14.0, 0.0),
}
WIDE_PROFILE = {
    **PROFILE,
    "openai:gpt-5-nano": (0.78, 0.83, 12.0, 0.002),
    "anthropic:claude-sonnet-4-5-20250929": (0.9, 1.0, 30.0, 0.03),
    "openrouter:qwen/qwen3-coder-480b-a35b-instruct": (0.8, 0.83, 25.0, 0.004),
    "ollama:gpt-oss:20b": (0.76, 0.67, 40.0, 0.0),
    "local:qwen2.5-coder-1.5b": (0.41, 0.5, 6.0, 0.0),
}


def _transcript(task: str, model: str, answer: str, fail_tool: bool) -> list[Message]:
    call = ToolCall(
        id="call_1",
        name="write_file",
        arguments={"path": "calc.py", "content": "def add(a, b):\n    return a + b\n"},
    )
    msgs = [
        Message(role="system", content="You are a coding agent."),
        Message(role="user", content=f"Solve {task}."),
        Message(
            role="assistant",
            content="I'll look around first.",
            tool_calls=[ToolCall(id="call_0", name="list_directory", arguments={"path": "."})],
        ),
        Message(
            role="tool",
            content="calc.py\nREADME.md",
            tool_call_id="call_0",
            name="list_directory",
            duration_s=0.002,
        ),
        Message(role="assistant", content="", tool_calls=[call]),
    ]
    if fail_tool:
        msgs.append(
            Message(
                role="tool",
                content="error: path escapes the workspace",
                tool_call_id="call_1",
                name="write_file",
                is_error=True,
                duration_s=0.001,
            )
        )
    else:
        msgs.append(
            Message(
                role="tool",
                content="wrote 32 bytes to calc.py",
                tool_call_id="call_1",
                name="write_file",
                duration_s=0.003,
            )
        )
    msgs.append(Message(role="assistant", content=answer))
    return msgs


def _requests(secs: float) -> list[RequestTiming]:
    # Three model requests per run: the prompt in 9 s, then 200 output tokens at 35 tok/s.
    return [
        RequestTiming(latency_s=secs / 3 + 9.0, ttft_s=9.0, output_tokens=200, output_tps=35.0)
        for _ in range(3)
    ]


def make_records(
    profile: dict[str, tuple[float, float, float, float | None]] = PROFILE,
) -> list[TrialRecord]:
    records: list[TrialRecord] = []
    for ti, (task, category, difficulty) in enumerate(TASKS):
        for model in profile:
            _, share, secs, cost = profile[model]
            for repeat in (1, 2):
                total = 6
                passed_tests = (
                    round(share * total) if repeat == 1 else max(0, round(share * total) - ti % 2)
                )
                ok = passed_tests == total
                local = model.startswith("local:")
                answer = f"Done with {task} on {model}."
                if model == "openai:gpt-5-mini" and task == "add-numbers" and repeat == 1:
                    answer = f"Here is the fix {XSS} & <b>bold</b> claims."
                failed_agent = local and task == "rename-api" and repeat == 2
                agent = AgentResult(
                    ok=not failed_agent,
                    answer="" if failed_agent else answer,
                    model=model,
                    provider=model.split(":", 1)[0],
                    stop_reason="max_turns" if failed_agent else "completed",
                    error="stopped after 20 turns" if failed_agent else None,
                    turns=3,
                    tool_calls=2,
                    usage=Usage(
                        input_tokens=4200 + 100 * ti,
                        output_tokens=610,
                        cached_tokens=1024,
                        reasoning_tokens=200 if "gpt-5" in model else 0,
                    ),
                    cost_usd=cost,
                    duration_s=secs + repeat,
                    model_time_s=secs * 0.9,
                    tool_time_s=0.005,
                    wait_time_s=0.4 if model.startswith("anthropic") else 0.0,
                    warmup_s=3.2 if local else 0.0,
                    transcript=_transcript(task, model, answer, fail_tool=local),
                    requests=_requests(secs),
                )
                records.append(
                    TrialRecord(
                        run_id=RUN_ID,
                        task=task,
                        category=category,
                        difficulty=difficulty,
                        model=model,
                        repeat=repeat,
                        status="timeout" if failed_agent else "passed" if ok else "failed",
                        agent=agent,
                        diff="--- a/calc.py\n+++ b/calc.py\n@@ -1 +1,2 @@\n-pass\n+def add(a, b):\n+    return a + b  # <sum> & done\n",
                        check=CheckResult(
                            passed=ok,
                            exit_code=0 if ok else 1,
                            output=f"{passed_tests} passed, {total - passed_tests} failed in 0.12s",
                            duration_s=0.8,
                            tests_passed=passed_tests,
                            tests_total=total,
                        ),
                        judges=[
                            JudgeScore(
                                judge="anthropic:claude-sonnet-4-5",
                                criteria={"correctness": 9 * share + 1, "readability": 7.0},
                                overall=round(9 * share + 1, 1),
                                rationale=f"Judged {model}: correct where tests pass. </pre><i>not markup</i>",
                                cost_usd=0.002,
                                duration_s=3.1,
                            )
                        ],
                        slot_wait_s=0.25,
                        started_at=1748779200.0 + 60 * len(records),
                        finished_at=1748779200.0 + 60 * len(records) + secs,
                    )
                )
    return records


def make_summary(
    profile: dict[str, tuple[float, float, float, float | None]] = PROFILE,
) -> BakeoffSummary:
    weights = GradeWeights()
    models = list(profile)
    spec = BakeoffSpec(
        run_id=RUN_ID,
        task_paths=[f"suite/{t}" for t, _, _ in TASKS],
        task_names=[t for t, _, _ in TASKS],
        models=models,
        repeats=2,
        judges=["anthropic:claude-sonnet-4-5"],
        weights=weights,
        created_at=1748779200.0,
    )
    grades: dict[str, tuple[Grade, float]] = {
        "openai:gpt-5": ("A", 0.84),
        "openai:gpt-5-mini": ("A", 0.83),
        "anthropic:claude-haiku-4-5": ("B", 0.71),
        "local:qwen2.5-coder-0.5b": ("F", 0.31),
    }
    ranking = []
    for model in sorted(models, key=lambda m: -profile[m][0]):
        quality, share, secs, cost = profile[model]
        letter: Grade = "A" if quality > 0.8 else "B" if quality > 0.6 else "D"
        grade = grades.get(model, (letter, quality))
        passed = round(share * 6)
        total = None if cost is None else cost * 6
        ranking.append(
            ModelSummary(
                model=model,
                provider=model.split(":", 1)[0],
                local=model.startswith(("local:", "ollama:")),
                runs=6,
                completed=6 if not model.startswith("local:") else 5,
                checked=6,
                passed=passed,
                pass_rate=Interval(
                    value=passed / 6,
                    low=max(0.0, passed / 6 - 0.3),
                    high=min(1.0, passed / 6 + 0.15),
                ),
                judge_score=Interval(
                    value=9 * share + 1, low=9 * share, high=min(10.0, 9 * share + 1.8)
                ),
                quality=Interval(value=quality, low=quality - 0.1, high=min(1.0, quality + 0.06)),
                median_s=secs + 1.5,
                median_model_s=secs * 0.9,
                median_tool_s=0.005,
                median_wait_s=0.25,
                warmup_s=3.2 if model.startswith("local:") else 0.0,
                usage=Usage(input_tokens=25800, output_tokens=3660, cached_tokens=6144),
                cost_usd=total,
                cost_per_solved_usd=None if total is None or not passed else total / passed,
                speed_score=round(10.0 / secs, 2),
                cost_score=None if cost is None else 1.0 - cost / 0.05,
                overall=grade[1],
                grade=grade[0],
                quality_grade=grade[0],
                same_family_judges=["anthropic:claude-sonnet-4-5"]
                if model.startswith("anthropic:")
                else [],
            )
        )
    return BakeoffSummary(
        run_id=RUN_ID,
        spec=spec,
        ranking=ranking,
        pairwise=[
            PairwiseTest(
                model_a="openai:gpt-5",
                model_b="openai:gpt-5-mini",
                metric="quality",
                n=6,
                a_wins=3,
                b_wins=1,
                mean_diff=0.12,
                ci_low=-0.04,
                ci_high=0.27,
                p_value=0.31,
                verdict="indistinguishable",
            ),
            PairwiseTest(
                model_a="openai:gpt-5-mini",
                model_b="local:qwen2.5-coder-0.5b",
                metric="pass",
                n=6,
                a_wins=4,
                b_wins=0,
                mean_diff=0.67,
                ci_low=0.3,
                ci_high=0.9,
                p_value=0.012,
                verdict="A better",
            ),
        ],
        recommendation=Recommendation(
            best_quality="openai:gpt-5",
            best_value="openai:gpt-5-mini",
            fastest_acceptable="anthropic:claude-haiku-4-5",
            best_local="local:qwen2.5-coder-0.5b",
            local_good_enough=False,
            per_category={
                "implement": "openai:gpt-5-mini",
                "debug": "openai:gpt-5-mini",
                "refactor": None,
            },
            notes=[
                "anthropic:claude-haiku-4-5 has no known price; it is left out of value comparisons."
            ],
        ),
        judging=JudgeReliability(
            judges=["anthropic:claude-sonnet-4-5"],
            agreement_alpha=None,
            check_agreement=0.875,
            pairwise_consistency=None,
            same_family={"anthropic:claude-sonnet-4-5": ["anthropic:claude-haiku-4-5"]},
            cost_usd=0.048,
            duration_s=74.4,
        ),
        categories={
            "implement": {m: profile[m][0] for m in models},
            "debug": {m: profile[m][0] - 0.05 for m in models},
            "refactor": {m: max(0.0, profile[m][0] - 0.3) for m in models},
        },
        missing=0,
        notes=["One judge only: no inter-judge agreement can be computed."],
    )


@pytest.fixture
def records() -> list[TrialRecord]:
    return make_records()


@pytest.fixture
def summary() -> BakeoffSummary:
    return make_summary()


def make_wide_summary() -> BakeoffSummary:
    summary = make_summary(WIDE_PROFILE)
    names = [m.model for m in summary.ranking]
    summary.pairwise = [
        PairwiseTest(
            model_a=a,
            model_b=b,
            metric="quality",
            n=3,
            a_wins=2,
            b_wins=1,
            mean_diff=WIDE_PROFILE[a][0] - WIDE_PROFILE[b][0],
            ci_low=-0.1,
            ci_high=0.5,
            p_value=0.01 if WIDE_PROFILE[a][0] - WIDE_PROFILE[b][0] > 0.3 else 0.4,
            verdict="A better"
            if WIDE_PROFILE[a][0] - WIDE_PROFILE[b][0] > 0.3
            else "indistinguishable",
        )
        for i, a in enumerate(names)
        for b in names[i + 1 :]
    ]
    return summary


@pytest.fixture
def wide_summary() -> BakeoffSummary:
    return make_wide_summary()


@pytest.fixture
def wide_records() -> list[TrialRecord]:
    return make_records(WIDE_PROFILE)


@pytest.fixture(scope="module")
def wide_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The nine-model report written once per test module."""
    path = tmp_path_factory.mktemp("wide") / "wide.html"
    return write_html(make_wide_summary(), make_records(WIDE_PROFILE), path)
