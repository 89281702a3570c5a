"""Grading a bake-off from hand-built records: per-trial quality, letters against absolute
bands, a ranking that puts quality first, the task as the unit of every interval and test,
errors that count nowhere, unknown prices that never score as free, the recommendation, and
the judges' reliability figures. Every expected number is worked out in a comment."""

from __future__ import annotations

import math

import pytest

from bakeoff.evals.store.records import (
    BakeoffSpec,
    GradeBands,
    GradeWeights,
    JudgeScore,
    LetterFloors,
    PairVerdict,
    TrialRecord,
    TrialStatus,
)
from bakeoff.evals.store.summary_records import BakeoffSummary, ModelSummary
from bakeoff.evals.trial.checks import CheckResult
from bakeoff.evals.verdict.compare import same_family
from bakeoff.evals.verdict.grading import summarize
from bakeoff.evals.verdict.letters import LETTER_BANDS, letter
from bakeoff.evals.verdict.trial_quality import trial_quality
from bakeoff.types import AgentResult, StopReason

STRONG = "openai:gpt-5"  # passes everything, judged 9, $0.10 a run, 20 s
CHEAP = "anthropic:claude-haiku-4-5"  # fails task t4, judged 7, $0.01 a run, 10 s
LOCAL = "ollama:qwen2.5-coder:7b"  # passes only t1, judged 3, $0, 30 s
TASKS = {"t1": "implement", "t2": "implement", "t3": "debug", "t4": "debug"}
STOPS: dict[TrialStatus, StopReason] = {
    "passed": "completed",
    "failed": "completed",
    "timeout": "timeout",
    "error": "provider_error",
}


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
    status: TrialStatus | None = None,
    judge_cost: float | None = 0.0,
    error: str | None = None,
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
    status = status or ("failed" if passed is False else "passed")
    return TrialRecord(
        run_id="r1",
        task=task,
        category=TASKS.get(task, "implement"),
        difficulty=2,
        model=model,
        repeat=repeat,
        status=status,
        agent=AgentResult(
            ok=STOPS[status] == "completed",
            answer="done",
            model=model,
            provider=model.partition(":")[0],
            stop_reason=STOPS[status],
            error=error,
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


def spec(
    models: list[str], tasks: list[str], repeats: int = 2, **weights: float | GradeBands
) -> BakeoffSpec:
    return BakeoffSpec(
        run_id="r1",
        task_paths=tasks,
        task_names=tasks,
        models=models,
        repeats=repeats,
        judges=["google:gemini-2.5-pro"],
        weights=GradeWeights.model_validate(weights),
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


def by_model(s: BakeoffSummary) -> dict[str, ModelSummary]:
    return {m.model: m for m in s.ranking}


def solver(
    model: str, passes: list[bool], *, cost: float | None, duration: float, repeats: int = 1
) -> list[TrialRecord]:
    """One model's trials over tasks t0..tN-1 (checks only), passing where `passes` says."""
    return [
        trial(f"t{i}", model, k, passed=ok, cost=cost, duration=duration)
        for i, ok in enumerate(passes)
        for k in range(repeats)
    ]


@pytest.fixture
def three() -> BakeoffSummary:
    return summarize(spec([STRONG, CHEAP, LOCAL], list(TASKS)), field(), local_models={LOCAL})


def test_trial_quality_mixes_check_and_judge_by_the_stated_weights() -> None:
    w = GradeWeights()  # check 0.6, judge 0.4
    # 3 of 4 tests (a record kept before partial credit was) and a judge's 8:
    # 0.6·0.75 + 0.4·0.8 = 0.77
    partly = trial("t1", CHEAP, passed=False, tests=(3, 4), judges={"j": 8})
    assert trial_quality(partly, w) == pytest.approx(0.77)
    # two judges average: (6 + 8) / 2 = 7 → 0.6·1 + 0.4·0.7 = 0.88
    assert trial_quality(trial("t1", CHEAP, judges={"j": 6, "k": 8}), w) == pytest.approx(0.88)
    # only a judge: its score alone, renormalised → 0.7
    assert trial_quality(trial("t1", CHEAP, passed=None, judges={"j": 7}), w) == pytest.approx(0.7)
    # the model ran out of time, yet its files pass 1 of 4 tests: the check still grades it
    timed_out = trial("t1", CHEAP, passed=False, tests=(1, 4), status="timeout")
    assert trial_quality(timed_out, w) == pytest.approx(0.25)
    assert trial_quality(trial("t1", CHEAP, passed=None), w) is None


def test_partial_credit_counts_only_tests_the_untouched_fixture_fails() -> None:
    w = GradeWeights()
    record = trial("t1", CHEAP, passed=False, tests=(3, 4))
    assert record.check is not None
    # Two of the four tests pass on the untouched fixture: doing nothing earns 0 ...
    idle = record.model_copy(
        update={
            "check": record.check.model_copy(update={"tests_credited": 0, "tests_creditable": 2})
        }
    )
    assert trial_quality(idle, w) == 0.0
    # ... and passing one of the two the fixture fails earns half, not 3 of 4.
    half = record.model_copy(
        update={
            "check": record.check.model_copy(update={"tests_credited": 1, "tests_creditable": 2})
        }
    )
    assert trial_quality(half, w) == pytest.approx(0.5)
    # A passed check is whole, whatever the counts say.
    assert trial_quality(trial("t1", CHEAP, passed=True, tests=(4, 4)), w) == 1.0


def test_letters_follow_the_bands_and_the_bands_are_configurable() -> None:
    assert [name for name, _ in LETTER_BANDS] == ["S", "A", "B", "C", "D", "F"]
    assert letter(0.95) == "S"
    assert letter(0.9) == "S"
    assert letter(0.8999) == "A"
    assert letter(0.1 + 0.6) == "B"  # 0.7 in floating point is 0.69999…, still a B
    assert letter(0.65) == "C"
    assert letter(0.5) == "D"
    assert letter(0.49) == "F"
    assert letter(None) == "-"
    strict = LetterFloors(S=0.97, A=0.9)
    assert letter(0.95, strict) == "A" and letter(0.85, strict) == "B"
    with pytest.raises(ValueError, match="fall from S to D"):
        LetterFloors(A=0.95)  # above S's 0.90
    with pytest.raises(ValueError, match="slow_s"):
        GradeBands(fast_s=60, slow_s=30)


def test_numbers_scores_and_letters_of_three_models(three: BakeoffSummary) -> None:
    by = by_model(three)
    # quality, mean over tasks of each task's mean over repeats:
    #   STRONG 0.6 + 0.36 = 0.96; CHEAP (3·0.88 + 0.28) / 4 = 0.73; LOCAL (0.72 + 3·0.12) / 4 = 0.27
    assert by[STRONG].quality.value == pytest.approx(0.96)
    assert by[CHEAP].quality.value == pytest.approx(0.73)
    assert by[LOCAL].quality.value == pytest.approx(0.27)
    assert [by[m].quality_grade for m in (STRONG, CHEAP, LOCAL)] == ["S", "B", "F"]
    # speed, bands 10 s (1) … 1000 s (0), log scale: 20 s → 1 - log10(2)/2; 30 s → 1 - log10(3)/2
    assert by[STRONG].speed_score == pytest.approx(1 - math.log10(2) / 2)
    assert by[CHEAP].speed_score == 1.0
    assert by[LOCAL].speed_score == pytest.approx(1 - math.log10(3) / 2)
    # cost per solved task, bands $0.01 (1) … $10 (0): STRONG $0.80 / 8 = $0.10 → 2/3;
    # CHEAP $0.08 / 6 → 1 - log10(4/3)/3; LOCAL $0 → 1
    assert by[STRONG].cost_score == pytest.approx(2 / 3)
    assert by[CHEAP].cost_score == pytest.approx(1 - math.log10(4 / 3) / 3)
    assert by[LOCAL].cost_score == 1.0
    # overall = quality × (0.6 + 0.2·speed + 0.2·cost)
    strong = 0.96 * (0.6 + 0.2 * (1 - math.log10(2) / 2) + 0.2 * 2 / 3)  # 0.867
    cheap = 0.73 * (0.6 + 0.2 + 0.2 * (1 - math.log10(4 / 3) / 3))  # 0.724
    local = 0.27 * (0.6 + 0.2 * (1 - math.log10(3) / 2) + 0.2)  # 0.257
    assert [by[m].overall for m in (STRONG, CHEAP, LOCAL)] == pytest.approx([strong, cheap, local])
    assert [by[m].grade for m in (STRONG, CHEAP, LOCAL)] == ["A", "B", "F"]
    assert [m.model for m in three.ranking] == [STRONG, CHEAP, LOCAL]
    assert [r["model"] for r in three.ranking_public()] == [STRONG, CHEAP, LOCAL]


def test_four_tasks_cannot_tell_three_models_apart_and_the_report_says_so(
    three: BakeoffSummary,
) -> None:
    tests = {(t.model_a, t.model_b): t for t in three.pairwise}
    # STRONG ahead of CHEAP on all 4 tasks (by 0.08, 0.08, 0.08, 0.68): an exact sign-flip
    # test over 4 tasks cannot go below 2/16 = 0.125; Holm over the 3 pairs: 0.375.
    q = tests[(STRONG, CHEAP)]
    assert (q.metric, q.n, q.a_wins, q.b_wins) == ("quality", 4, 4, 0)
    assert q.mean_diff == pytest.approx((3 * 0.08 + 0.68) / 4)
    assert q.p_value == pytest.approx(0.125) and q.p_holm == pytest.approx(0.375)
    assert {t.verdict for t in three.pairwise} == {"indistinguishable"}
    assert {m.tier for m in three.ranking} == {1} and {m.group for m in three.ranking} == {"a"}
    res = three.resolution
    # 3 pairs need 2/2^n <= 0.05/3, so n >= 7 tasks
    assert (res.tasks, res.pairs, res.detectable_gap, res.tasks_needed) == (4, 3, None, 7)
    assert any("cannot tell the top 3 apart on quality" in n for n in three.recommendation.notes)


def test_intervals_count_tasks_not_repeats(three: BakeoffSummary) -> None:
    cheap = by_model(three)[CHEAP]
    assert (cheap.runs, cheap.tasks, cheap.checked, cheap.passed) == (8, 4, 8, 6)
    # pass rate: 3 of 4 tasks, continuity-corrected Wilson with n = 4 tasks (not 8 trials)
    assert cheap.pass_rate.value == pytest.approx(0.75)
    assert cheap.pass_rate.low == pytest.approx(0.2194, abs=1e-3)
    assert cheap.pass_rate.high == pytest.approx(0.9868, abs=1e-3)
    assert cheap.judge_score.value == pytest.approx(7.0)
    # the judge gave 7 every time, yet the interval keeps a width: 4 tasks are 4 tasks
    assert cheap.judge_score.low is not None and cheap.judge_score.high is not None
    assert cheap.judge_score.low < 6 and cheap.judge_score.high > 8
    assert cheap.quality.low is not None and cheap.quality.high is not None
    assert cheap.quality.low < 0.73 < cheap.quality.high
    assert cheap.median_s == 10.0 and cheap.median_model_s == pytest.approx(8.0)
    assert cheap.median_wait_s == pytest.approx(1.5)  # the agent's 1.0 + 0.5 waiting for a slot
    by = by_model(three)
    # money: STRONG 8 × $0.10 = $0.80 for 8 solved; CHEAP $0.08 for 6; LOCAL $0 for 2
    assert by[STRONG].cost_usd == pytest.approx(0.80)
    assert by[STRONG].cost_per_solved_usd == pytest.approx(0.10)
    assert cheap.cost_per_solved_usd == pytest.approx(0.08 / 6)
    assert by[LOCAL].cost_per_solved_usd == 0.0
    assert by[LOCAL].local and not cheap.local


def test_recommendation_picks_value_speed_local_and_per_category(three: BakeoffSummary) -> None:
    rec = three.recommendation
    assert rec.best_quality == STRONG
    # acceptable (quality ≥ 0.7): STRONG 0.96 and CHEAP 0.73; per dollar 9.6 vs 73
    assert rec.best_value == CHEAP
    assert rec.fastest_acceptable == CHEAP
    assert rec.best_local == LOCAL and rec.local_good_enough is False
    # implement: CHEAP 0.88 clears the bar and is cheaper than STRONG.
    # debug: CHEAP (0.88 + 0.28) / 2 = 0.58 and LOCAL 0.12 fall short; only STRONG clears it.
    assert rec.per_category == {"debug": STRONG, "implement": CHEAP}
    assert three.categories["debug"][CHEAP] == pytest.approx(0.58)
    assert three.categories["implement"][LOCAL] == pytest.approx(0.42)
    assert any("best local model" in n and "falls short" in n for n in rec.notes)
    assert three.missing == 0


def test_a_free_instant_model_that_solves_nothing_ranks_below_one_that_passes_60_percent() -> None:
    zero = "script:zero.json"  # free, answers in 20 ms, solves nothing
    sixty = "openai:gpt-5-mini"  # $0.02 a run, 60 s, passes 3 of 5 tasks
    records = solver(zero, [False] * 5, cost=0.0, duration=0.02) + solver(
        sixty, [True, True, True, False, False], cost=0.02, duration=60.0
    )
    s = summarize(spec([zero, sixty], [f"t{i}" for i in range(5)], repeats=1), records)
    by = by_model(s)
    assert [m.model for m in s.ranking] == [sixty, zero]
    # speed and cost cannot lift a score above quality: 0 × anything = 0
    assert by[zero].overall == 0.0 and by[zero].grade == "F"
    assert by[zero].speed_score == 1.0 and by[zero].cost_score == 0.0  # nothing bought
    sixty_overall = by[sixty].overall
    assert sixty_overall is not None and sixty_overall > 0.3
    # 5 tasks cannot prove the gap, and the ranking line does not pretend it can
    (test,) = s.pairwise
    assert test.model_a == sixty and test.verdict == "indistinguishable"
    assert by[zero].group == by[sixty].group == "a"


def test_the_same_trials_get_the_same_letter_alone_or_in_any_field() -> None:
    tasks = [f"t{i}" for i in range(6)]
    mine = solver(CHEAP, [True, True, True, True, False, True], cost=0.004, duration=12.0)
    rivals = {
        STRONG: solver(STRONG, [True] * 6, cost=0.20, duration=3.0),
        "script:instant.json": solver("script:instant.json", [False] * 6, cost=0.0, duration=0.01),
    }
    alone = summarize(spec([CHEAP], tasks, repeats=1), mine)
    one = summarize(spec([CHEAP, STRONG], tasks, repeats=1), mine + rivals[STRONG])
    two = summarize(
        spec([CHEAP, *rivals], tasks, repeats=1), mine + [r for rs in rivals.values() for r in rs]
    )
    graded = [by_model(s)[CHEAP] for s in (alone, one, two)]
    assert {(m.grade, m.overall, m.speed_score, m.cost_score) for m in graded} == {
        (graded[0].grade, graded[0].overall, graded[0].speed_score, graded[0].cost_score)
    }
    assert graded[0].grade == "A"  # 5/6 = 0.83 quality, 12 s, $0.0048 per solved task


def test_an_unknown_price_never_grades_better_than_its_priced_twin() -> None:
    unknown, priced = "openrouter:mystery-model", "openai:gpt-5-mini"
    passes = [True, True, False, True]
    records = solver(unknown, passes, cost=None, duration=8.0, repeats=2) + solver(
        priced, passes, cost=0.03, duration=8.0, repeats=2
    )
    s = summarize(spec([unknown, priced], ["t0", "t1", "t2", "t3"]), records)
    by = by_model(s)
    assert by[unknown].cost_usd is None and by[unknown].cost_per_solved_usd is None
    assert by[unknown].cost_score == 0.0  # scored as the most expensive band, never as free
    unknown_overall, priced_overall = by[unknown].overall, by[priced].overall
    assert unknown_overall is not None and priced_overall is not None
    assert unknown_overall < priced_overall
    assert [m.model for m in s.ranking] == [priced, unknown]
    assert any(unknown in n and "never as free" in n for n in s.notes)
    assert s.recommendation.best_value == priced


def test_a_test_that_says_beats_is_never_contradicted_by_the_ranking() -> None:
    # 12 tasks: BEST passes all; MID passes 10; BAD passes 2 but is free and instant.
    tasks = [f"t{i}" for i in range(12)]
    best, mid, bad = STRONG, CHEAP, "script:fast.json"
    records = (
        solver(best, [True] * 12, cost=0.5, duration=300.0)
        + solver(mid, [True] * 10 + [False] * 2, cost=0.01, duration=5.0)
        + solver(bad, [True] * 2 + [False] * 10, cost=0.0, duration=0.01)
    )
    s = summarize(spec([bad, mid, best], tasks, repeats=1), records)
    verdicts = {(t.model_a, t.model_b): t.verdict for t in s.pairwise}
    # best vs bad: 10 tasks all one way, p = 2/1024, Holm ×3 → 0.006; mid vs bad: 8 tasks,
    # p = 2/256, Holm ×2 → 0.016: both beat bad.
    assert verdicts[(best, bad)] == "A better" and verdicts[(mid, bad)] == "A better"
    # best vs mid: only 2 tasks differ, p = 2/4 = 0.5: cannot be told apart, so the cheaper,
    # faster mid ranks first within their tier
    assert verdicts[(mid, best)] == "indistinguishable"
    assert [m.model for m in s.ranking] == [mid, best, bad]
    by = by_model(s)
    assert (by[mid].tier, by[best].tier, by[bad].tier) == (1, 1, 2)
    assert (by[mid].group, by[best].group, by[bad].group) == ("a", "a", "b")
    assert s.resolution.detectable_gap is not None and s.resolution.tasks == 12


def test_errors_count_nowhere_and_a_model_without_a_valid_trial_is_not_ranked() -> None:
    tasks = ["t0", "t1", "t2"]
    down = "ollama:gpt-oss:20b"
    flaky = [
        *solver(CHEAP, [True, False, True], cost=0.01, duration=10.0),
        trial("t1", CHEAP, 1, passed=None, status="error", cost=0.0, duration=0.02, error="500"),
    ]
    others = solver(STRONG, [True, True, False], cost=0.05, duration=20.0)
    dead = [
        trial(t, down, passed=None, status="error", cost=0.0, duration=0.025, error=msg)
        for t, msg in zip(tasks, ["connection refused", "connection refused", "401"], strict=True)
    ]
    with_dead = summarize(spec([CHEAP, STRONG, down], tasks), flaky + others + dead)
    without = summarize(spec([CHEAP, STRONG], tasks), flaky + others)
    assert [m.model for m in with_dead.ranking] == [m.model for m in without.ranking]
    assert [u.model_dump() for u in with_dead.unranked] == [
        {"model": down, "reason": "connection refused", "errors": 3, "internal_errors": 0}
    ]
    cheap = by_model(with_dead)[CHEAP]
    assert (cheap.runs, cheap.errors, cheap.checked, cheap.passed) == (3, 1, 3, 2)
    assert cheap.median_s == 10.0  # the 20 ms error is no evidence of speed
    assert cheap.pass_rate.value == pytest.approx(2 / 3)
    for before, after in zip(without.ranking, with_dead.ranking, strict=True):
        assert (before.grade, before.overall) == (after.grade, after.overall)
    assert {r["model"]: r["errors"] for r in with_dead.ranking_public()} == {CHEAP: 1, STRONG: 0}


def test_missing_and_ungraded_trials_are_reported() -> None:
    records = [trial("t1", CHEAP, 0), trial("t2", CHEAP, 0, passed=None)]
    s = summarize(spec([CHEAP, STRONG], ["t1", "t2"], repeats=1), records)
    assert s.missing == 2  # STRONG never ran
    assert [m.model for m in s.ranking] == [CHEAP]
    assert by_model(s)[CHEAP].quality.value == pytest.approx(1.0)  # the ungraded trial is left out
    assert [u.model_dump() for u in s.unranked] == [
        {"model": STRONG, "reason": "no trial ran", "errors": 0, "internal_errors": 0}
    ]
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


def test_judge_reliability_agreement_kappa_costs_and_family() -> None:
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
    # judge means 8.5, 8.5, 2.5, 3.5 → pass T, T, F, F vs checks T, T, F, T: p_o = 3/4,
    # p_e = 0.5·0.75 + 0.5·0.25 = 0.5, kappa = (0.75 - 0.5) / 0.5 = 0.5
    assert j.check_agreement == pytest.approx(0.5) and j.check_agreement_n == 4
    assert j.cost_usd == pytest.approx(8 * 0.002) and j.duration_s == pytest.approx(16.0)
    assert j.same_family == {sonnet: [CHEAP]}
    assert s.ranking[0].same_family_judges == [sonnet]
    assert any(sonnet in n and "same family" in n for n in s.notes)


def test_a_judge_that_always_passes_earns_no_agreement() -> None:
    # Checks pass 3 of 4; a judge giving 9 to everything agrees 75% of the time by chance alone.
    records = [trial(f"t{i}", CHEAP, passed=i != 3, judges={"j": 9}) for i in range(4)]
    s = summarize(spec([CHEAP], [f"t{i}" for i in range(4)], repeats=1), records)
    assert s.judging.check_agreement == pytest.approx(0.0)


def test_judge_costs_unknown_when_any_is() -> None:
    records = [trial("t1", CHEAP, judges={"j": 8}, judge_cost=None)]
    assert summarize(spec([CHEAP], ["t1"], repeats=1), records).judging.cost_usd is None


def test_head_to_head_counts_only_consistent_wins_and_tasks_not_repeats() -> None:
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
    assert a_wins == 3
    assert head_to_head.n == 1 and head_to_head.p_value == 1.0  # all on one task
    assert head_to_head.verdict == "indistinguishable"
    assert s.judging.pairwise_consistency == pytest.approx(0.8)
    assert s.judging.cost_usd == pytest.approx(10 * 0.0 + 5 * 0.001)
