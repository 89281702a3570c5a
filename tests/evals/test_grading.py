"""Grading a bake-off from hand-built records: per-trial quality, the ranking and its letters,
pass-rate intervals, cost per solved task, the recommendation (value, speed, local, per
category), unknown prices, paired tests that refuse to split tiny samples, and the judges'
reliability figures. Every expected number is worked out in a comment."""

from __future__ import annotations

import math

import pytest

from bakeoff.evals.checks import CheckResult
from bakeoff.evals.grading import LETTER_BANDS, letter, same_family, summarize, trial_quality
from bakeoff.evals.records import (
    BakeoffSpec,
    BakeoffSummary,
    GradeWeights,
    JudgeScore,
    PairVerdict,
    TrialRecord,
    TrialStatus,
)
from bakeoff.types import AgentResult

STRONG = "openai:gpt-5"  # passes everything, judged 9, $0.10 a run, 20 s
CHEAP = "anthropic:claude-haiku-4-5"  # fails task t4, judged 7, $0.01 a run, 10 s
LOCAL = "ollama:qwen2.5-coder:7b"  # passes only t1, judged 3, $0, 30 s
TASKS = {"t1": "implement", "t2": "implement", "t3": "debug", "t4": "debug"}


def trial(
    task: str,
    model: str,
    repeat: int = 0,
    *,
    passed: bool | None = True,
    tests: tuple[int, int] | None = None,
    judges: dict[str, float | None] | None = None,
    cost: float | None = 0.01,
    duration: float = 10.0,
    status: TrialStatus = "completed",
    judge_cost: float | None = 0.0,
) -> TrialRecord:
    check = None
    if passed is not None:
        check = CheckResult(
            passed=passed,
            exit_code=0 if passed else 1,
            output="",
            duration_s=0.5,
            tests_passed=tests[0] if tests else None,
            tests_total=tests[1] if tests else None,
        )
    return TrialRecord(
        run_id="r1",
        task=task,
        category=TASKS.get(task, "implement"),
        difficulty=2,
        model=model,
        repeat=repeat,
        status=status,
        agent=AgentResult(
            ok=status == "completed",
            answer="done",
            model=model,
            provider=model.partition(":")[0],
            stop_reason="completed" if status == "completed" else "max_turns",
            cost_usd=cost,
            duration_s=duration,
            model_time_s=duration * 0.8,
            tool_time_s=0.1,
            wait_time_s=1.0,
        ),
        check=check,
        judges=[
            JudgeScore(judge=j, overall=score, cost_usd=judge_cost, duration_s=2.0)
            for j, score in (judges or {}).items()
        ],
        slot_wait_s=0.5,
    )


def spec(models: list[str], tasks: list[str], repeats: int = 2, **weights: float) -> BakeoffSpec:
    return BakeoffSpec(
        run_id="r1",
        task_paths=tasks,
        task_names=tasks,
        models=models,
        repeats=repeats,
        judges=["google:gemini-2.5-pro"],
        weights=GradeWeights(**weights),
    )


def field() -> list[TrialRecord]:
    """Three models × 4 tasks × 2 repeats, one judge (gemini: no contestant's family)."""
    records = []
    for task in TASKS:
        for k in range(2):
            records.append(
                trial(
                    task, STRONG, k, judges={"google:gemini-2.5-pro": 9}, cost=0.10, duration=20.0
                )
            )
            records.append(
                trial(task, CHEAP, k, passed=task != "t4", judges={"google:gemini-2.5-pro": 7})
            )
            records.append(
                trial(
                    task,
                    LOCAL,
                    k,
                    passed=task == "t1",
                    judges={"google:gemini-2.5-pro": 3},
                    cost=0.0,
                    duration=30.0,
                )
            )
    return records


@pytest.fixture
def three() -> BakeoffSummary:
    return summarize(spec([STRONG, CHEAP, LOCAL], list(TASKS)), field(), local_models={LOCAL})


def test_trial_quality_mixes_check_and_judge_by_the_stated_weights() -> None:
    w = GradeWeights()  # check 0.6, judge 0.4
    # 3 of 4 tests and a judge's 8: 0.6·0.75 + 0.4·0.8 = 0.77
    assert trial_quality(trial("t1", CHEAP, tests=(3, 4), judges={"j": 8}), w) == pytest.approx(
        0.77
    )
    # two judges average: (6 + 8) / 2 = 7 → 0.6·1 + 0.4·0.7 = 0.88
    assert trial_quality(trial("t1", CHEAP, judges={"j": 6, "k": 8}), w) == pytest.approx(0.88)
    # only a judge: its score alone, renormalised → 0.7
    assert trial_quality(trial("t1", CHEAP, passed=None, judges={"j": 7}), w) == pytest.approx(0.7)
    # the agent gave up, yet its files pass 1 of 4 tests: the check still grades it → 0.25
    failed = trial("t1", CHEAP, passed=False, tests=(1, 4), status="agent_failed")
    assert trial_quality(failed, w) == pytest.approx(0.25)
    assert trial_quality(trial("t1", CHEAP, passed=None), w) is None


def test_letters_follow_the_bands() -> None:
    assert [name for name, _ in LETTER_BANDS] == ["S", "A", "B", "C", "D", "F"]
    assert letter(0.95) == "S"
    assert letter(0.9) == "S"
    assert letter(0.8999) == "A"
    assert letter(0.1 + 0.6) == "B"  # 0.7 in floating point is 0.69999…, still a B
    assert letter(0.65) == "C"
    assert letter(0.5) == "D"
    assert letter(0.49) == "F"
    assert letter(None) == "-"


def test_ranking_letters_and_numbers_of_three_clearly_different_models(
    three: BakeoffSummary,
) -> None:
    s = three
    by = {m.model: m for m in s.ranking}
    # quality: STRONG 0.6 + 0.36 = 0.96; CHEAP (6·0.88 + 2·0.28) / 8 = 0.73;
    #          LOCAL (2·0.72 + 6·0.12) / 8 = 0.27
    assert by[STRONG].quality.value == pytest.approx(0.96)
    assert by[CHEAP].quality.value == pytest.approx(0.73)
    assert by[LOCAL].quality.value == pytest.approx(0.27)
    assert [by[m].quality_grade for m in (STRONG, CHEAP, LOCAL)] == ["S", "B", "F"]
    # speed, log scale over 2 decades: medians 20, 10, 30 s → 1 - log10(2)/2, 1, 1 - log10(3)/2
    # cost, log scale over 3 decades: per run 0.10, 0.01, $0 → 1 - 1/3, 1, 1
    assert by[STRONG].speed_score == pytest.approx(1 - math.log10(2) / 2)
    assert by[LOCAL].speed_score == pytest.approx(1 - math.log10(3) / 2)
    assert [by[m].cost_score for m in (STRONG, CHEAP, LOCAL)] == pytest.approx([2 / 3, 1.0, 1.0])
    # overall = 0.6 q + 0.2 speed + 0.2 cost: STRONG 0.879 (A), CHEAP 0.838 (A), LOCAL 0.514 (D)
    assert [m.model for m in s.ranking] == [STRONG, CHEAP, LOCAL]
    assert by[CHEAP].overall == pytest.approx(0.838)
    assert by[STRONG].overall == pytest.approx(0.576 + 0.2 * (1 - math.log10(2) / 2) + 0.2 * 2 / 3)
    assert by[LOCAL].overall == pytest.approx(0.6 * 0.27 + 0.2 * (1 - math.log10(3) / 2) + 0.2)
    assert [by[m].grade for m in (STRONG, CHEAP, LOCAL)] == ["A", "A", "D"]
    assert [r["model"] for r in s.ranking_public()] == [STRONG, CHEAP, LOCAL]


def test_model_summary_counts_intervals_times_and_money(three: BakeoffSummary) -> None:
    by = {m.model: m for m in three.ranking}
    cheap = by[CHEAP]
    assert (cheap.runs, cheap.completed, cheap.checked, cheap.passed) == (8, 8, 8, 6)
    # Wilson 6/8: centre (0.75 + 0.2401) / 1.4802 = 0.6691, half 0.2596
    assert cheap.pass_rate.value == pytest.approx(0.75)
    assert cheap.pass_rate.low == pytest.approx(0.409, abs=1e-3)
    assert cheap.pass_rate.high == pytest.approx(0.929, abs=1e-3)
    assert cheap.judge_score.value == pytest.approx(7.0)
    assert cheap.quality.low is not None and cheap.quality.high is not None
    assert cheap.quality.low < 0.73 < cheap.quality.high
    assert cheap.median_s == 10.0 and cheap.median_model_s == pytest.approx(8.0)
    assert cheap.median_wait_s == pytest.approx(1.5)  # the agent's 1.0 + 0.5 waiting for a slot
    # money: STRONG 8 × $0.10 = $0.80 for 8 solved; CHEAP $0.08 for 6; LOCAL $0 for 2
    assert by[STRONG].cost_usd == pytest.approx(0.80)
    assert by[STRONG].cost_per_solved_usd == pytest.approx(0.10)
    assert cheap.cost_per_solved_usd == pytest.approx(0.08 / 6)
    assert by[LOCAL].cost_per_solved_usd == 0.0
    assert by[LOCAL].local and not cheap.local


def test_recommendation_picks_value_speed_local_and_per_category(three: BakeoffSummary) -> None:
    s = three
    rec = s.recommendation
    assert rec.best_quality == STRONG
    # acceptable (quality ≥ 0.7): STRONG 0.96 and CHEAP 0.73; per dollar 9.6 vs 73
    assert rec.best_value == CHEAP
    assert rec.fastest_acceptable == CHEAP
    assert rec.best_local == LOCAL and rec.local_good_enough is False
    # implement: CHEAP 0.88 clears the bar and is cheaper than STRONG.
    # debug: CHEAP (0.88 + 0.28) / 2 = 0.58 and LOCAL 0.12 fall short; only STRONG clears it.
    assert rec.per_category == {"debug": STRONG, "implement": CHEAP}
    assert s.categories["debug"][CHEAP] == pytest.approx(0.58)
    assert s.categories["implement"][LOCAL] == pytest.approx(0.42)
    assert any("best local model" in n and "falls short" in n for n in rec.notes)
    assert s.missing == 0


def test_paired_tests_tell_what_the_data_can_and_cannot_show(three: BakeoffSummary) -> None:
    tests = {(t.model_a, t.model_b, t.metric): t for t in three.pairwise}
    # STRONG ranks above CHEAP, so it is model A. On pass/fail only t4 (×2) differs:
    # 2 discordant pairs, McNemar p = 0.5 → indistinguishable.
    on_pass = tests[(STRONG, CHEAP, "pass")]
    assert (on_pass.n, on_pass.a_wins, on_pass.b_wins) == (8, 2, 0)
    assert on_pass.p_value == pytest.approx(0.5)
    assert on_pass.verdict == "indistinguishable"
    # On quality STRONG is ahead in all 8 pairs (by 0.08 or 0.68): sign-flip p = 2/256.
    on_quality = tests[(STRONG, CHEAP, "quality")]
    assert on_quality.mean_diff == pytest.approx((6 * 0.08 + 2 * 0.68) / 8)
    assert on_quality.p_value == pytest.approx(2 / 256)
    assert on_quality.verdict == "A better"
    assert tests[(CHEAP, LOCAL, "quality")].verdict == "A better"
    notes = three.recommendation.notes
    assert f"{STRONG} and {CHEAP} cannot be told apart on pass rate (McNemar p=0.5, n=8)." in notes
    assert any(n.startswith(f"{STRONG} beats {CHEAP} on quality") for n in notes)


def test_tiny_samples_are_indistinguishable() -> None:
    # A passes both runs, B fails both: as lopsided as two runs can be, and still no proof.
    records = [
        trial("t1", CHEAP, 0, judges={"j": 9}),
        trial("t1", CHEAP, 1, judges={"j": 9}),
        trial("t1", LOCAL, 0, passed=False, judges={"j": 2}),
        trial("t1", LOCAL, 1, passed=False, judges={"j": 2}),
    ]
    s = summarize(spec([CHEAP, LOCAL], ["t1"]), records)
    assert {t.metric: t.verdict for t in s.pairwise} == {
        "pass": "indistinguishable",
        "quality": "indistinguishable",
    }
    assert {t.metric: t.p_value for t in s.pairwise} == pytest.approx({"pass": 0.5, "quality": 0.5})


def test_unknown_cost_stays_unknown_and_overall_leaves_it_out() -> None:
    records = [
        trial("t1", CHEAP, 0, cost=0.01, judges={"j": 7}),
        trial("t1", CHEAP, 1, cost=None, judges={"j": 7}),
        trial("t1", STRONG, 0, cost=0.02, judges={"j": 7}),
        trial("t1", STRONG, 1, cost=0.02, judges={"j": 7}),
    ]
    s = summarize(spec([CHEAP, STRONG], ["t1"]), records)
    by = {m.model: m for m in s.ranking}
    unknown = by[CHEAP]
    assert unknown.cost_usd is None and unknown.cost_per_solved_usd is None
    assert unknown.cost_score is None
    # quality 0.88, speed 1: (0.6·0.88 + 0.2·1) / 0.8 = 0.91, cost left out
    assert unknown.overall == pytest.approx(0.91)
    assert by[STRONG].cost_score == 1.0  # the only known price is the cheapest
    assert any(CHEAP in n and "unknown" in n for n in s.notes)
    # both clear the bar in "implement"; a known price beats an unknown one
    assert s.recommendation.per_category == {"implement": STRONG}
    assert s.recommendation.best_value == STRONG


def test_a_free_model_that_clears_the_bar_is_the_best_value_and_sinks_no_one() -> None:
    paid = [
        trial("t1", CHEAP, 0, cost=0.01, judges={"j": 8}),
        trial("t1", STRONG, 0, cost=0.04, judges={"j": 9}),
    ]
    free = [trial("t1", LOCAL, 0, cost=0.0, judges={"j": 8})]
    without = summarize(spec([CHEAP, STRONG], ["t1"], repeats=1), paid)
    with_free = summarize(
        spec([CHEAP, STRONG, LOCAL], ["t1"], repeats=1), paid + free, local_models={LOCAL}
    )
    for s in (without, with_free):
        scores = {m.model: m.cost_score for m in s.ranking}
        # 4x the cheapest: 1 - log10(4)/3
        assert scores[CHEAP] == 1.0 and scores[STRONG] == pytest.approx(1 - math.log10(4) / 3)
    assert {m.model: m.cost_score for m in with_free.ranking}[LOCAL] == 1.0
    rec = with_free.recommendation
    assert rec.best_value == LOCAL
    assert rec.best_local == LOCAL and rec.local_good_enough is True
    assert rec.per_category == {"implement": LOCAL}
    assert any(LOCAL in n and "$0" in n for n in rec.notes)


def test_no_model_clearing_the_bar_is_said_plainly() -> None:
    records = [trial("t1", CHEAP, passed=False, judges={"j": 4})]
    s = summarize(spec([CHEAP], ["t1"], repeats=1), records)
    rec = s.recommendation
    assert rec.best_quality == CHEAP
    assert rec.best_value is None and rec.fastest_acceptable is None
    assert rec.per_category == {"implement": None}
    assert any("No model reached the quality bar of 0.70" in n for n in rec.notes)


def test_missing_and_ungraded_trials_are_reported() -> None:
    records = [
        trial("t1", CHEAP, 0),
        trial("t2", CHEAP, 0, passed=None, status="error"),
    ]
    s = summarize(spec([CHEAP, STRONG], ["t1", "t2"], repeats=1), records)
    assert s.missing == 2  # STRONG never ran
    by = {m.model: m for m in s.ranking}
    assert by[CHEAP].quality.value == pytest.approx(1.0)  # the ungraded trial is left out
    assert by[CHEAP].completed == 1 and by[CHEAP].runs == 2
    assert s.ranking[-1].model == STRONG and by[STRONG].runs == 0
    assert by[STRONG].overall is None and by[STRONG].grade == "-"
    assert any("2 of 4 planned trials are missing" in n for n in s.notes)
    assert any("1 of 2 trials had neither a check nor a judge" in n for n in s.notes)


def test_same_family_is_decided_by_the_model_lineage() -> None:
    assert same_family("anthropic:claude-sonnet-4", "anthropic:claude-haiku-4-5")
    assert same_family("openrouter:anthropic/claude-3.5-sonnet", "anthropic:claude-haiku-4-5")
    assert same_family("openai:o3", "openai:gpt-5-mini")
    assert same_family("openai:gpt-5", "ollama:gpt-oss:20b")
    assert same_family("ollama:qwen2.5-coder:7b", "local:Qwen2.5-Coder-0.5B-Instruct")
    assert not same_family("openai:gpt-5", "anthropic:claude-haiku-4-5")
    assert not same_family("google:gemini-2.5-pro", "ollama:llama3.1:8b")


def test_judge_reliability_agreement_check_agreement_costs_and_family() -> None:
    sonnet, gemini = "anthropic:claude-sonnet-4", "google:gemini-2.5-pro"
    scores = [(9, 8, True), (8, 9, True), (3, 2, False), (2, 5, True)]
    records = [
        trial(f"t{i + 1}", CHEAP, passed=p, judges={sonnet: a, gemini: b}, judge_cost=0.002)
        for i, (a, b, p) in enumerate(scores)
    ]
    s = summarize(spec([CHEAP], ["t1", "t2", "t3", "t4"], repeats=1), records)
    j = s.judging
    assert j.judges == [gemini, sonnet]  # the planned judge first, then those found
    # alpha over [[9,8],[8,9],[3,2],[2,5]]: n = 8, Σv = 46, Σv² = 332
    # D_e = 2·(8·332 - 46²) / (8·7) = 1080/56; D_o = 2·(1 + 1 + 1 + 9) / 8 = 3
    # alpha = 1 - 3·56/1080 = 38/45
    assert j.agreement_alpha == pytest.approx(38 / 45)
    # judge means 8.5, 8.5, 2.5, 3.5 vs checks T, T, F, T: the last disagrees → 3/4
    assert j.check_agreement == pytest.approx(0.75)
    assert j.cost_usd == pytest.approx(8 * 0.002) and j.duration_s == pytest.approx(16.0)
    assert j.same_family == {sonnet: [CHEAP]}
    assert s.ranking[0].same_family_judges == [sonnet]
    assert any(sonnet in n and "same family" in n for n in s.notes)


def test_judge_costs_unknown_when_any_is() -> None:
    records = [trial("t1", CHEAP, judges={"j": 8}, judge_cost=None)]
    assert summarize(spec([CHEAP], ["t1"], repeats=1), records).judging.cost_usd is None


def test_pair_verdicts_count_only_consistent_wins() -> None:
    def verdict(repeat: int, winner: str | None, consistent: bool) -> PairVerdict:
        return PairVerdict(
            task="t1",
            repeat=repeat,
            judge="j",
            model_a=STRONG,
            model_b=CHEAP,
            winner=winner,
            consistent=consistent,
            cost_usd=0.001,
        )

    verdicts = [
        verdict(0, STRONG, True),
        verdict(1, STRONG, True),
        verdict(2, STRONG, True),
        verdict(3, None, False),  # the judge flipped with the order: no one's win
        verdict(4, CHEAP, True),
    ]
    records = [trial("t1", m, k, judges={"j": 8}) for m in (STRONG, CHEAP) for k in range(5)]
    s = summarize(spec([STRONG, CHEAP], ["t1"], repeats=5), records, verdicts)
    (head_to_head,) = [t for t in s.pairwise if t.metric == "judge"]
    a_wins = head_to_head.a_wins if head_to_head.model_a == STRONG else head_to_head.b_wins
    assert (head_to_head.n, a_wins) == (5, 3)
    assert head_to_head.p_value == pytest.approx(0.625)  # 3 wins to 1: binomial two-sided
    assert head_to_head.verdict == "indistinguishable"
    assert s.judging.pairwise_consistency == pytest.approx(0.8)
    assert s.judging.cost_usd == pytest.approx(10 * 0.0 + 5 * 0.001)
