"""Issue 23, items 4 and 6 on the report: solved is the headline, and a letter never outruns the
solved rate without saying so; each judge's standing (counted or not) and its Cohen's kappa
against the checks are on the table and in the HTML. Built from records and from a real run of
a scripted contestant whose work passes some tests of every task but solves only one."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from rich.console import Console
from test_verdicts_round2 import by_model, shown, spec, trial

from bakeoff.evals.run.runner import BakeoffRequest, run_bakeoff
from bakeoff.evals.store.records import LetterFloors
from bakeoff.evals.store.store import Store
from bakeoff.evals.store.summary_records import JudgeSummary
from bakeoff.evals.verdict.grading import summarize
from bakeoff.evals.verdict.letters import capped
from bakeoff.report.html import write_html
from bakeoff.report.terminal import print_summary

PARTIAL, WHOLE = "openai:partial", "openai:whole"


def test_four_of_ten_solved_is_no_b_from_partial_credit(tmp_path: Path) -> None:
    # The audit's case: 4 exercises solved, the other 6 pass 6 of 10 tests: quality
    # (4 x 1 + 6 x 0.6) / 10 = 0.76, overall 0.74 after speed and cost: a B by partial credit.
    tasks = [f"t{i}" for i in range(10)]
    records = [trial(t, PARTIAL, tests=(10, 10) if i < 4 else (6, 10)) for i, t in enumerate(tasks)]
    records += [trial(t, WHOLE) for t in tasks]
    s = summarize(spec([PARTIAL, WHOLE], tasks), records)
    partial, whole = by_model(s)[PARTIAL], by_model(s)[WHOLE]
    assert partial.quality.value == pytest.approx(0.76)
    assert (partial.passed, partial.checked, partial.pass_rate.value) == (4, 10, 0.4)
    # 0.4 solved earns F; the B partial credit would give is kept beside it.
    assert (partial.grade, partial.partial_credit_grade) == ("F", "B")
    assert partial.quality_grade == "F"
    assert (whole.grade, whole.partial_credit_grade) == ("S", "-")
    row = next(r for r in s.ranking_public() if r["model"] == PARTIAL)
    assert (row["grade"], row["partial_credit_grade"]) == ("F", "B")
    assert (row["solved"], row["checked"]) == (4, 10)
    assert (
        next(r for r in s.ranking_public() if r["model"] == WHOLE)["partial_credit_grade"] is None
    )
    text = shown(s)
    header = next(line for line in text.splitlines() if "model" in line and "quality" in line)
    assert header.index("solved") < header.index("quality") < header.index("grade")
    assert "4/10" in text and "B by partial credit" in text
    words = " ".join(text.split())  # the legend wraps
    assert (
        "the share of the tests the untouched fixture fails that it passed (partial credit: doing nothing earns 0)"
        in words
    )
    html = write_html(s, records, tmp_path / "r.html").read_text()
    assert html.index(">Solved<") < html.index(">Grade<") < html.index(">Quality<")
    assert "B by partial credit" in html and "4/10" in html
    assert "Solved: trials whose check passed" in html
    assert "the letter is never better than the one the solved share earns" in html


def test_the_cap_only_lowers_and_needs_a_check() -> None:
    floors = LetterFloors()
    assert capped("B", 0.4, floors) == "F"
    assert capped("B", 0.75, floors) == "B"  # solved 0.75 earns B: nothing to cap
    assert capped("C", 1.0, floors) == "C"  # never raised by the solved rate
    assert capped("A", None, floors) == "A"  # judged only: no check, no cap
    assert capped("-", 0.0, floors) == "-"
    # A judged-only run keeps the judges' letter.
    tasks = ["t0", "t1"]
    from bakeoff.evals.store.records import JudgeScore

    judged = [
        trial(t, PARTIAL, tests=None, judges=[JudgeScore(judge="j", overall=9)]) for t in tasks
    ]
    (m,) = summarize(spec([PARTIAL], tasks), judged).ranking
    assert m.checked == 0 and m.partial_credit_grade == "-" and m.grade in ("S", "A")


CALC_TESTS = """
from calc import add, sub, mul, div
def test_add(): assert add(2, 3) == 5
def test_sub(): assert sub(5, 3) == 2
def test_mul(): assert mul(2, 3) == 6
def test_div(): assert div(6, 3) == 2
"""
ALL = "def add(a, b): return a + b\ndef sub(a, b): return a - b\n"
ALL += "def mul(a, b): return a * b\ndef div(a, b): return a / b\n"
THREE = ALL.replace("return a / b", "return a // b + 1")  # div is wrong: 3 of 4 tests


def calc_task(root: Path, name: str) -> Path:
    folder = root / name
    (folder / "files").mkdir(parents=True)
    (folder / "hidden").mkdir()
    (folder / "files" / "README.md").write_text("calculator\n")
    (folder / "hidden" / "hidden_test_calc.py").write_text(CALC_TESTS)
    (folder / "task.toml").write_text(
        f'name = "{name}"\nprompt = "[{name}] Write calc.py: add, sub, mul, div."\n'
        'category = "implement"\ndifficulty = 1\n'
        '[check]\ncommand = "python -m pytest -q hidden_test_calc.py"\ntimeout_s = 60\n'
    )
    return folder


async def test_a_real_run_solving_one_of_three_is_capped_and_says_so(
    tmp_path: Path, isolated_config: Path
) -> None:
    def write(content: str) -> list[dict[str, object]]:
        call = {"name": "write_file", "arguments": {"path": "calc.py", "content": content}}
        return [{"tool_calls": [call]}, {"text": "Done."}]

    contestant = tmp_path / "partial.json"
    contestant.write_text(
        json.dumps(
            {
                "scripts": [
                    {"prompt_contains": "[c0]", "turns": write(ALL)},
                    {"turns": write(THREE)},
                ]
            }
        )
    )
    tasks = [calc_task(tmp_path / "tasks", f"c{i}") for i in range(3)]
    out = await run_bakeoff(
        BakeoffRequest(models=[f"script:{contestant}"], tasks=tasks),
        store=Store(tmp_path / "r.sqlite"),
    )
    (m,) = out.summary.ranking
    # Quality (1 + 0.75 + 0.75) / 3 = 0.83, free and fast: an A by partial credit; 1 of 3
    # solved earns an F.
    assert (m.passed, m.checked) == (1, 3)
    assert m.quality.value == pytest.approx(2.5 / 3)
    assert (m.grade, m.partial_credit_grade) == ("F", "A")
    text = shown(out.summary)
    assert "1/3" in text and "A by partial credit" in text


def test_each_judges_standing_and_kappa_are_on_the_table_and_in_html(tmp_path: Path) -> None:
    tasks = ["t0"]
    records = [trial("t0", WHOLE)]
    s = summarize(spec([WHOLE], tasks, judges=["openai:good-judge", "openai:nine"]), records)
    s.judges = [
        JudgeSummary(
            model="openai:good-judge", calibrated=True, calibration_auc=1.0,
            agreement_kappa=0.8, agreement_n=10,
        ),
        JudgeSummary(
            model="openai:nine", calibrated=False, calibration_auc=0.5,
            agreement_kappa=0.0, agreement_n=10,
        ),
    ]  # fmt: skip
    out = io.StringIO()
    print_summary(s, Console(file=out, width=200, color_system=None))
    text = out.getvalue()
    assert (
        "Judge openai:good-judge: counted (passed calibration, AUC 1.00) · Cohen's kappa vs "
        "checks 0.80 (n=10)"
    ) in text
    assert "Judge openai:nine: UNCOUNTED (failed calibration, AUC 0.50)" in text
    assert "never counted in quality or head to head · Cohen's kappa vs checks 0.00" in text
    html = write_html(s, records, tmp_path / "r.html").read_text()
    assert "Judge openai:nine: UNCOUNTED" in html and "kappa vs checks 0.80 (n=10)" in html
