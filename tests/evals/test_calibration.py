"""Judges that earn their place, driven by real scripted judges: calibration on reference
solutions against broken ones (the untouched fixture, the solution truncated to its first
half), uncalibrated judges left out of quality and of the head-to-head tests, agreement with
the checks as Cohen's kappa that an echoing judge can only reach when shown the check, and
missing verdicts counted per judge."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from bakeoff.evals.run.runner import BakeoffRequest, build_outcome, run_bakeoff
from bakeoff.evals.store.records import BakeoffSpec, PairVerdict
from bakeoff.evals.store.store import Store
from bakeoff.evals.trial.task import TaskSpec, builtin_suite_dir, load_task
from bakeoff.evals.verdict import stats
from bakeoff.evals.verdict.calibration import (
    CLAIM,
    calibrate_judge,
    calibrate_run,
    calibration_tasks,
    reference_work,
    truncate,
)
from bakeoff.models.scripted import ScriptedModel
from bakeoff.types import Completion, Message, ToolSpec

CALC_TEST = """
from calc import add
def test_add(): assert add(2, 3) == 5
def test_add_neg(): assert add(-1, 1) == 0
"""
GOOD = "def add(a, b):\n    return a + b\n"
BAD = "def add(a, b):\n    return a - b\n"


def make_task(root: Path, name: str, *, judged: bool = True, solution: bool = True) -> TaskSpec:
    folder = root / name
    (folder / "files").mkdir(parents=True)
    (folder / "hidden").mkdir()
    (folder / "files" / "README.md").write_text("calculator project\n")
    (folder / "hidden" / "hidden_test_calc.py").write_text(CALC_TEST)
    if solution:
        (folder / "solution").mkdir()
        (folder / "solution" / "calc.py").write_text(GOOD)
    (folder / "task.toml").write_text(
        f'name = "{name}"\nprompt = "[{name}] Create calc.py with add(a, b)."\n'
        'category = "implement"\ndifficulty = 1\n'
        '[check]\ncommand = "python -m pytest -q hidden_test_calc.py"\ntimeout_s = 30\n'
        + ('[judge]\nrubric = "Correct and minimal."\n' if judged else "")
    )
    return load_task(folder)


def verdict(score: float) -> dict[str, Any]:
    body = {"criteria": {"correctness": score}, "overall": score, "rationale": f"{score}/10"}
    return {"text": json.dumps(body)}


def winner(n: str) -> dict[str, Any]:
    return {"text": json.dumps({"winner": n, "rationale": "."})}


NO_CHANGE = "(no files changed)"
# How a diff that holds the whole solution ends, on the calc tasks here and the built-in tasks
# that top up a run's calibration (the truncated solution never ends so).
WHOLE = [
    "return a + b\n\n</",
    "return -(-total // per_page)\n\n</",
    'return slug or "untitled"\n\n</',
]
FULL = WHOLE[0]


def reads_the_work(tag: str, turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Scripts that answer `turns` wherever the diff in `tag` holds a whole solution."""
    return [{"prompt_contains": f"{end}{tag}>", "turns": turns} for end in WHOLE]


SENSIBLE = {
    # Reads the work: the whole solution is good, no change or half of it is poor; head to
    # head it picks the whole solution.
    "scripts": [
        *reads_the_work("candidate_1_diff", [winner("1")]),
        *reads_the_work("candidate_2_diff", [winner("2")]),
        *reads_the_work("workspace_diff", [verdict(9)]),
        {"prompt_contains": "<workspace_diff>", "turns": [verdict(2)]},
        {"turns": [winner("tie")]},
    ]
}
POOR = len(SENSIBLE["scripts"]) - 2
"""Where SENSIBLE's score for poor work is, and before which a task-specific script goes."""
ANY_CHANGE_IS_9 = {
    # The audit's always-9 judge: 9 for any change, only an empty diff faults; head to head
    # it picks the whole solution, so it passes the old fixture-only calibration.
    "scripts": [
        {"prompt_contains": f"<workspace_diff>\n{NO_CHANGE}", "turns": [verdict(2)]},
        {"prompt_contains": "<workspace_diff>", "turns": [verdict(9)]},
        *reads_the_work("candidate_1_diff", [winner("1")]),
        *reads_the_work("candidate_2_diff", [winner("2")]),
    ]
}
ALWAYS_NINE = {
    # 9 for every trial whatever it holds, and the right pick head to head.
    "scripts": [
        *reads_the_work("candidate_1_diff", [winner("1")]),
        *reads_the_work("candidate_2_diff", [winner("2")]),
        {"turns": [verdict(9)]},
    ]
}
ALWAYS_TEN = [{"text": json.dumps({"overall": 10, "winner": "1", "rationale": "Perfect."})}]
GARBAGE = [{"text": "Looks fine to me!"}]
ECHO = {
    # Knows nothing but the check's verdict, when it is shown one.
    "scripts": [
        {"prompt_contains": "Automated check: PASSED", "turns": [verdict(9)]},
        {"prompt_contains": "Automated check: FAILED", "turns": [verdict(2)]},
        {"turns": [verdict(5)]},
    ]
}


class RecordingJudge(ScriptedModel):
    """A scripted judge that keeps every conversation it was sent."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.seen: list[list[Message]] = []

    async def _request(
        self, messages: Sequence[Message], tools: Sequence[ToolSpec], max_output_tokens: int | None
    ) -> Completion:
        self.seen.append(list(messages))
        return await super()._request(messages, tools, max_output_tokens)


def script(tmp: Path, name: str, content: Any) -> Path:
    path = tmp / f"{name}.json"
    path.write_text(json.dumps(content))
    return path


def solver(content: str) -> list[dict[str, Any]]:
    write = {"name": "write_file", "arguments": {"path": "calc.py", "content": content}}
    return [{"tool_calls": [write]}, {"text": "Done. All tests pass."}]


@pytest.fixture
def tasks(tmp_path: Path) -> list[TaskSpec]:
    return [make_task(tmp_path / "tasks", f"calc{i}") for i in range(3)]


async def test_a_sensible_judge_is_calibrated(tmp_path: Path, tasks: list[TaskSpec]) -> None:
    judge = RecordingJudge(script(tmp_path, "sensible", SENSIBLE))
    cal = await calibrate_judge(judge, tasks)
    assert cal.calibrated is True, cal.reason
    assert [t.task for t in cal.tasks] == ["calc0", "calc1", "calc2"]
    for item in cal.tasks:
        assert (item.reference_score, item.fixture_score, item.truncated_score) == (9, 2, 2)
        assert item.pair_winner == "reference" and item.separated and item.errors == []
    assert cal.required == 2 and cal.margin == 2.0
    assert (cal.auc, cal.reference_mean, cal.broken_mean) == (1.0, 9.0, 2.0)
    assert cal.reason.startswith("AUC 1.00 over reference vs broken scores (needs 0.8)")
    assert "reference 9.0, broken 2.0" in cal.reason and "on 3 of 3 tasks" in cal.reason
    # Per task: three works scored (reference, fixture, truncated), one comparison each order.
    assert len(judge.seen) == 5 * len(tasks)
    prompts = [m[1].content for m in judge.seen]
    assert sum(f"<workspace_diff>\n{NO_CHANGE}" in p for p in prompts) == len(tasks)
    # The head to head is reference against the truncated solution, never the empty fixture.
    pairs = [p for p in prompts if "<candidate_1_diff>" in p]
    assert len(pairs) == 2 * len(tasks) and not any(NO_CHANGE in p for p in pairs)
    assert all("+def add(a, b):\n\n</candidate_" in p for p in pairs)
    # Blind: nothing tells the judge which side is the reference.
    words = ("reference", "fixture", "truncated", "broken")
    assert not any(w in p.lower() for p in prompts for w in words)


async def test_an_always_10_judge_is_not_calibrated(tmp_path: Path, tasks: list[TaskSpec]) -> None:
    judge = RecordingJudge(script(tmp_path, "ten", ALWAYS_TEN))
    cal = await calibrate_judge(judge, tasks)
    assert cal.calibrated is False
    assert all(
        (t.reference_score, t.fixture_score, t.truncated_score) == (10, 10, 10) for t in cal.tasks
    )
    # "Candidate 1" in both orders is position bias, not a choice.
    assert all(t.pair_winner is None and not t.separated for t in cal.tasks)
    assert cal.auc == 0.5 and "on 0 of 3 tasks (needs 2" in cal.reason


async def test_an_always_9_judge_fails_though_it_picks_well_head_to_head(
    tmp_path: Path, tasks: list[TaskSpec]
) -> None:
    cal = await calibrate_judge(RecordingJudge(script(tmp_path, "nine", ALWAYS_NINE)), tasks)
    assert all(t.pair_winner == "reference" for t in cal.tasks)
    assert cal.auc == 0.5 and cal.broken_mean == cal.reference_mean == 9.0
    assert cal.calibrated is False and "AUC 0.50" in cal.reason


async def test_a_judge_that_gives_9_to_any_change_fails_on_the_truncated_solution(
    tmp_path: Path, tasks: list[TaskSpec]
) -> None:
    # Against the untouched fixture alone (the old calibration) it separates every task.
    cal = await calibrate_judge(RecordingJudge(script(tmp_path, "any", ANY_CHANGE_IS_9)), tasks)
    assert all((t.reference_score, t.fixture_score) == (9, 2) for t in cal.tasks)
    assert all(t.truncated_score == 9 and not t.separated for t in cal.tasks)
    # 9 reference x 3 fixture pairs won, 9 x 3 truncated pairs tied: (9 + 4.5) / 18.
    assert cal.auc == pytest.approx(0.75)
    assert cal.reference_mean - cal.broken_mean >= 2  # the mean gap alone would let it pass
    assert cal.calibrated is False


async def test_a_judge_preferring_the_reference_by_too_little_is_not_calibrated(
    tmp_path: Path, tasks: list[TaskSpec]
) -> None:
    timid = json.loads(json.dumps(SENSIBLE))
    timid["scripts"][POOR]["turns"] = [verdict(7.5)]  # the reference scores 9: 1.5 points above
    cal = await calibrate_judge(RecordingJudge(script(tmp_path, "timid", timid)), tasks)
    assert all(t.pair_winner == "reference" and not t.separated for t in cal.tasks)
    # It orders every pair rightly (AUC 1), but not by a margin a score difference can carry.
    assert cal.auc == 1.0 and cal.calibrated is False


async def test_one_task_of_three_may_fail_but_not_two(tmp_path: Path) -> None:
    root = tmp_path / "tasks"
    tasks = [make_task(root, n) for n in ("calc0", "calc1", "calc2")]
    # On calc2 the judge thinks nothing of the change.
    sloppy = json.loads(json.dumps(SENSIBLE))
    sloppy["scripts"].insert(POOR - 3, {"prompt_contains": "[calc2]", "turns": [verdict(5)]})
    cal = await calibrate_judge(RecordingJudge(script(tmp_path, "s1", sloppy)), tasks)
    assert [t.separated for t in cal.tasks] == [True, True, False]
    assert cal.calibrated is True
    sloppy["scripts"].insert(POOR - 3, {"prompt_contains": "[calc1]", "turns": [verdict(5)]})
    cal = await calibrate_judge(RecordingJudge(script(tmp_path, "s2", sloppy)), tasks)
    assert cal.calibrated is False


async def test_a_judge_that_answers_garbage_fails_calibration_with_its_errors_shown(
    tmp_path: Path, tasks: list[TaskSpec]
) -> None:
    cal = await calibrate_judge(RecordingJudge(script(tmp_path, "junk", GARBAGE)), tasks)
    assert cal.calibrated is False
    assert all(t.reference_score is None and t.fixture_score is None for t in cal.tasks)
    assert all(len(t.errors) == 4 for t in cal.tasks)  # reference, fixture, truncated, pair
    assert cal.auc is None and "AUC undefined" in cal.reason
    assert "12 calibration requests got no usable verdict" in cal.reason


def test_the_reference_is_the_solution_over_the_fixture(tmp_path: Path) -> None:
    task = make_task(tmp_path, "calc")
    answer, diff = reference_work(task)
    assert answer == CLAIM
    assert "+++ b/calc.py" in diff and "+    return a + b" in diff
    assert "README" not in diff
    # An answer-only task: the answer is the solution's ANSWER.txt, which is not in the diff.
    answered = builtin_suite_dir() / "http-status-answer"
    answer, diff = reference_work(load_task(answered))
    assert answer == (answered / "solution" / "ANSWER.txt").read_text()
    assert "ANSWER.txt" not in diff


def test_the_broken_version_is_the_solution_cut_to_its_first_half(tmp_path: Path) -> None:
    answer, diff = reference_work(make_task(tmp_path, "calc"), truncated=True)
    assert answer == CLAIM
    assert "+def add(a, b):" in diff and "return" not in diff
    # A fix: the second half of the fixed file is gone, so the diff removes lines.
    fixed = load_task(builtin_suite_dir() / "fix-pagination")
    _, cut = reference_work(fixed, truncated=True)
    assert cut != reference_work(fixed)[1] and "\n-" in cut
    # An answer keeps its first half of words; a one-word answer becomes the bare claim.
    assert truncate("HTTP 418 I am a teapot", sep=" ") == "HTTP 418 I"
    assert truncate("404", sep=" ") == ""
    assert truncate("a\nb\nc\n") == "a\n" and truncate("only\n") == ""


def test_calibration_uses_the_runs_tasks_first_then_the_built_in_suite(tmp_path: Path) -> None:
    root = tmp_path / "tasks"
    unjudged = make_task(root, "a-unjudged", judged=False)
    judged = make_task(root, "b-judged")
    unsolved = make_task(root, "c-unsolved", solution=False)
    picked = calibration_tasks([unjudged, judged, unsolved])
    assert [t.name for t in picked] == ["b-judged", "a-unjudged", "fix-pagination"]
    own = [make_task(root, f"own{i}") for i in range(4)]
    assert [t.name for t in calibration_tasks(own)] == ["own0", "own1", "own2"]
    assert [t.name for t in calibration_tasks([unsolved], limit=2)] == [
        "fix-pagination",
        "implement-slugify",
    ]


async def test_a_stored_calibration_is_not_asked_again(
    tmp_path: Path, tasks: list[TaskSpec]
) -> None:
    store = Store(tmp_path / "r.sqlite")
    judge = RecordingJudge(script(tmp_path, "sensible", SENSIBLE))
    store.create_run(BakeoffSpec(run_id="r1", task_paths=[], task_names=[], models=[]))
    first = await calibrate_run(store, "r1", tasks, {"j": judge})
    asked = len(judge.seen)
    assert first["j"].calibrated is True and first["j"].judge == "j" and asked == 15
    again = await calibrate_run(store, "r1", tasks, {"j": judge})
    assert again == first and len(judge.seen) == asked
    assert store.calibrations("r1") == [first["j"]]


async def run(
    tmp_path: Path, judge: Any, models: Sequence[str], **kwargs: Any
) -> Any:  # a BakeoffOutcome
    task = make_task(tmp_path / "run-tasks", "calc")
    request = BakeoffRequest(
        models=models,
        tasks=[task.path],
        judges=[f"script:{script(tmp_path, 'judge', judge)}"],
        **kwargs,
    )
    return await run_bakeoff(request, store=Store(tmp_path / "r.sqlite"))


@pytest.fixture
def field(tmp_path: Path) -> list[str]:
    return [
        f"script:{script(tmp_path, 'good', solver(GOOD))}",
        f"script:{script(tmp_path, 'bad', solver(BAD))}",
    ]


def by_model(outcome: Any) -> dict[str, Any]:
    return {m.model.removeprefix("script:"): m for m in outcome.summary.ranking}


async def test_an_uncalibrated_judges_scores_are_shown_but_left_out_of_quality(
    tmp_path: Path, field: list[str], isolated_config: Path
) -> None:
    out = await run(tmp_path, ALWAYS_TEN, field)
    (judge,) = out.summary.judges
    assert judge.calibrated is False and "0 of 3 tasks" in judge.calibration
    assert judge.judged == 2 and judge.mean_score == 10.0
    for record in out.records:
        assert [(s.overall, s.counted) for s in record.judges] == [(10.0, False)]
    models = by_model(out)
    # Quality is the check's alone: the failing model does not get 0.4 for a judge's 10.
    assert models["bad"].quality.value == 0.0
    assert models["good"].quality.value == 1.0
    assert models["bad"].judge_score.value is None
    public = judge.public()
    assert {"model", "calibrated", "agreement_kappa", "missing_verdicts"} <= set(public)
    assert public["calibrated"] is False and public["missing_verdicts"] == 0
    assert public["calibration_cost_usd"] == 0.0
    assert any("is uncounted" in n and "left out of quality" in n for n in out.summary.notes)
    # The report reads the same from the store.
    again = build_outcome(Store(tmp_path / "r.sqlite"), out.run_id)
    assert again.summary.judges == out.summary.judges
    assert by_model(again)["bad"].quality.value == 0.0


async def test_a_calibrated_judges_scores_count(
    tmp_path: Path, field: list[str], isolated_config: Path
) -> None:
    out = await run(tmp_path, SENSIBLE, field)
    (judge,) = out.summary.judges
    assert judge.calibrated is True
    assert all(s.counted for r in out.records for s in r.judges)
    # The sensible judge gives the wrong body 2: 0.6 x check 0 + 0.4 x 0.2.
    assert by_model(out)["bad"].quality.value == pytest.approx(0.4 * 0.2)
    assert by_model(out)["good"].quality.value == pytest.approx(0.6 + 0.4 * 0.9)


async def test_a_judge_echoing_the_check_agrees_only_when_shown_it(
    tmp_path: Path, field: list[str], isolated_config: Path
) -> None:
    blind = await run(tmp_path / "blind", ECHO, field)
    (judge,) = blind.summary.judges
    assert judge.sees_checks is False and judge.agreement_n == 2
    # It cannot see the check, so it says 5 to both: no better than chance.
    assert [s.overall for r in blind.records for s in r.judges] == [5.0, 5.0]
    assert judge.agreement_kappa == 0.0
    shown = await run(tmp_path / "shown", ECHO, field, judge_sees_checks=True)
    (judge,) = shown.summary.judges
    assert judge.sees_checks is True and shown.summary.spec.judge_sees_checks is True
    assert judge.agreement_kappa == 1.0 and judge.agreement_n == 2
    assert any("kappa 1.00 (n=2" in n and "circular" in n for n in shown.summary.notes)
    assert any("kappa 0.00 (n=2" in n and "circular" not in n for n in blind.summary.notes)


async def test_missing_verdicts_are_counted_per_judge_and_quality_says_so(
    tmp_path: Path, field: list[str], isolated_config: Path
) -> None:
    out = await run(tmp_path, GARBAGE, field)
    (judge,) = out.summary.judges
    assert judge.missing_verdicts == 2 and judge.judged == 0
    assert judge.missing_by_reason == {"no_verdict": 2}
    assert judge.calibrated is False and judge.agreement_kappa is None
    assert by_model(out)["good"].quality.value == 1.0
    assert any(
        n.endswith(
            "gave no verdict on 2 of 2 trials (2 no verdict); judge scores cover the "
            "0 judged trials only."
        )
        for n in out.summary.notes
    )


def test_agreement_is_cohens_kappa_not_a_raw_share() -> None:
    # 3 of 4 agree, but half of it is what the raters' base rates give by chance.
    assert stats.cohen_kappa([True, True, False, False], [True, False, False, False]) == 0.5
    # A judge that fails everything agrees 90% with checks that fail 90%: kappa 0.
    checks = [True] + [False] * 9
    assert stats.cohen_kappa([False] * 10, checks) == 0.0


async def test_an_uncounted_judge_has_no_say_head_to_head(
    tmp_path: Path, field: list[str], isolated_config: Path
) -> None:
    # A judge that picks the whole solution head to head but scores everything 9 fails
    # calibration: it is not asked to compare the contestants, and a verdict of it stored by an
    # older run does not count either.
    out = await run(tmp_path, ALWAYS_NINE, field, pairwise=True)
    (judge,) = out.summary.judges
    assert judge.calibrated is False and out.store is not None
    assert out.store.verdicts(out.run_id) == []
    assert not [t for t in out.summary.pairwise if t.metric == "judge"]
    good, bad = field
    for k in range(3):
        out.store.add_verdict(
            out.run_id,
            PairVerdict(
                task="calc", repeat=0, judge=judge.model, model_a=good, model_b=bad,
                winner=good if k else bad, consistent=True,
            ),
        )  # fmt: skip
    again = build_outcome(out.store, out.run_id)
    assert not [t for t in again.summary.pairwise if t.metric == "judge"]
    assert again.summary.judging.pairwise_consistency is None


async def test_a_calibrated_judge_is_asked_head_to_head_and_counts(
    tmp_path: Path, field: list[str], isolated_config: Path
) -> None:
    out = await run(tmp_path, SENSIBLE, field, pairwise=True)
    assert out.summary.judges[0].calibrated is True
    (h2h,) = [t for t in out.summary.pairwise if t.metric == "judge"]
    assert (h2h.a_wins, h2h.b_wins) in ((1, 0), (0, 1))
    assert out.summary.judging.pairwise_consistency == 1.0
