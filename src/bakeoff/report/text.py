"""The reports' plain text: the cells (a cost, a share, a time, a 95% interval, a judge score,
solved out of checked, cost per solved and its source) and the lines around the comparison
(the solved, cost and outcome legends, the weights and bands, the recommendation, judging, each
judge's standing, the models not ranked). They are strings with no Rich or HTML in them, so the
terminal, the HTML report, the live board, the run details and the side-by-side views say the
same thing the same way; each caller adds its own styling and escaping."""

from __future__ import annotations

from collections.abc import Sequence

from bakeoff.evals.store.records import GradeWeights
from bakeoff.evals.store.summary_records import (
    BakeoffSummary,
    Interval,
    JudgeReliability,
    JudgeSummary,
    ModelSummary,
)
from bakeoff.evals.verdict.letters import letter_bands


def fmt_cost(cost: float | None) -> str:
    """ "unknown" for an unknown cost (never $0); a tiny cost keeps two significant digits
    rather than rounding to $0.0000."""
    if cost is None:
        return "unknown"
    if cost == 0:
        return "$0"
    if cost < 0.0001:
        return f"${cost:.2g}"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def fmt_pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.0f}%"


def fmt_seconds(s: float | None) -> str:
    if s is None:
        return "–"
    if 0 < s < 1:
        return f"{s * 1000:.0f} ms"
    return f"{s:.2f} s" if s < 10 else (f"{s:.1f} s" if s < 100 else f"{s:.0f} s")


def fmt_ci(iv: Interval, pct: bool) -> str:
    """The 95% interval as 'low–high' ('' when it could not be computed)."""
    if iv.low is None or iv.high is None:
        return ""
    if pct:
        return f"{100 * iv.low:.0f}–{100 * iv.high:.0f}%"
    return f"{iv.low:.1f}–{iv.high:.1f}"


def fmt_judge(iv: Interval) -> str:
    return "–" if iv.value is None else f"{iv.value:.1f}/10"


def fmt_pass(m: ModelSummary) -> str:
    """'4/10' under the column 'solved': trials whose check passed (every test) of those
    checked."""
    if not m.checked:
        return "–"
    return f"{m.passed}/{m.checked}"


def solved_legend(w: GradeWeights) -> str:
    """How solved and partial credit enter the numbers (trial_quality's and letters' module docstrings), shared by
    the terminal and HTML reports."""
    return (
        "solved: trials whose check passed, every test (its interval: the share of tasks "
        f"solved); quality = {fmt_pct(w.check)} check + {fmt_pct(w.judge)} judges, the check "
        "part being 1 when it passed, else the share of the tests the untouched fixture "
        "fails that it passed (partial credit: doing nothing earns 0), else 0; the letter is never better than the one the solved share earns: "
        "'B by partial credit' names the letter partial credit alone would give"
    )


def fmt_cost_per_solved(m: ModelSummary) -> str:
    # Unknown total cost makes the per-solved figure unknown too; with a known cost, no number
    # means nothing was solved, which is not the same thing: never "$0" for no solution.
    if m.cost_usd is None:
        return "unknown"
    if m.cost_per_solved_usd is None:
        return "— (none solved)" if m.checked else "—"
    return fmt_cost(m.cost_per_solved_usd)


def fmt_cost_source(m: ModelSummary) -> str:
    """Where the cost figure comes from, under it in the table (COST_LEGEND)."""
    if m.cost_usd is None:
        return ""  # the cost itself reads "unknown"
    return "free" if m.cost_source == "free" else "priced"


COST_LEGEND = (
    "cost: tokens × the price table (priced), $0 for a free model (free), or unknown where a "
    "price is missing, never $0; $/solved is — when nothing was solved"
)


def weights_line(w: GradeWeights) -> str:
    total = w.quality + w.speed + w.cost
    scale = "" if abs(total - 1) < 1e-9 else f" / {total:g}"
    return (
        f"Weights: quality = {fmt_pct(w.check)} checks + {fmt_pct(w.judge)} judges; "
        f"overall = quality × ({w.quality:g} + {w.speed:g} × speed + {w.cost:g} × cost){scale}; "
        f"acceptable quality ≥ {fmt_pct(w.quality_bar)}"
    )


def bands_line(w: GradeWeights) -> str:
    """The absolute bands behind the speed and cost scores and the letters."""
    b = w.bands
    letters = ", ".join(f"{name} ≥ {floor:.2f}" for name, floor in letter_bands(b.letters)[:-1])
    return (
        f"Bands: speed 1 at ≤ {fmt_seconds(b.fast_s)} to 0 at ≥ {fmt_seconds(b.slow_s)} median; "
        f"cost 1 at ≤ {fmt_cost(b.cheap_usd)} to 0 at ≥ {fmt_cost(b.expensive_usd)} per solved "
        f"task (unknown price or nothing solved: 0), log scale; letters {letters}, else F"
    )


def recommendation_lines(summary: BakeoffSummary) -> list[tuple[str, str]]:
    """(label, text) pairs of the recommendation, shared by the terminal and HTML reports."""
    rec = summary.recommendation
    bar = fmt_pct(summary.spec.weights.quality_bar)
    none = f"no model reaches quality {bar}"
    lines = [
        ("Best quality", rec.best_quality or "–"),
        ("Best value", rec.best_value or none),
        ("Fastest acceptable", rec.fastest_acceptable or none),
    ]
    if rec.best_local is None:
        lines.append(("Best local", "no local model in this bake-off"))
    else:
        verdict = {
            True: f"good enough (quality ≥ {bar})",
            False: f"not good enough yet (quality < {bar})",
            None: "not enough graded runs to say",
        }[rec.local_good_enough]
        lines.append(("Best local", f"{rec.best_local} — {verdict}"))
    for cat, model in sorted(rec.per_category.items()):
        q = summary.categories.get(cat, {}).get(model) if model else None
        text = model if model else none
        if q is not None:
            text += f" (quality {fmt_pct(q)})"
        lines.append((f"Cheapest for {cat}", text))
    lines += [("Note", n) for n in rec.notes]
    return lines


def judging_line(j: JudgeReliability) -> str | None:
    if not j.judges:
        return None
    parts = [f"Judges: {', '.join(j.judges)}"]
    if j.agreement_alpha is not None:
        parts.append(f"agreement α={j.agreement_alpha:.2f}")
    if j.check_agreement is not None:
        n = f" (n={j.check_agreement_n})" if j.check_agreement_n else ""
        parts.append(f"agreement with checks κ={j.check_agreement:.2f}{n}")
    if j.pairwise_consistency is not None:
        parts.append(f"order-consistent {fmt_pct(j.pairwise_consistency)}")
    # Judging is paid for by the user too, but it is not the contestants' cost or time.
    parts.append(
        f"judging cost {fmt_cost(j.cost_usd)} and {fmt_seconds(j.duration_s)}, not counted in the table"
    )
    return " · ".join(parts)


def judge_lines(judges: Sequence[JudgeSummary]) -> list[str]:
    """One line per judge: whether its vote counts (its calibration's AUC) and its Cohen's
    kappa against the checks. Shared by the terminal and HTML reports."""
    lines = []
    for j in judges:
        auc = "" if j.calibration_auc is None else f", AUC {j.calibration_auc:.2f}"
        standing = {
            True: f"counted (passed calibration{auc})",
            False: f"UNCOUNTED (failed calibration{auc}): its scores are shown, never "
            "counted in quality or head to head",
            None: "not calibrated (it graded nothing that needed it)",
        }[j.calibrated]
        if not j.agreement_n:
            kappa = "no trial with both a check and its verdict"
        elif j.agreement_kappa is None:
            kappa = f"kappa vs checks undefined (n={j.agreement_n}: one answer throughout)"
        else:
            kappa = f"Cohen's kappa vs checks {j.agreement_kappa:.2f} (n={j.agreement_n})"
        lines.append(f"Judge {j.model}: {standing} · {kappa}")
    return lines


OUTCOME_LEGEND = (
    "timeouts: trials where the model ran out of its own time, turns or cost cap (they count "
    "in its numbers); errors: infrastructure failures (auth, unreachable, 5xx, a crash), left "
    "out of every number; incomplete: planned trials without a result, so the model ranks "
    "below every complete one (rerun them with --retry-errors); judge-injection: its work "
    "tried to steer the judge, which scores that trial's judge part 0"
)


def unranked_lines(summary: BakeoffSummary) -> list[str]:
    """One line per model that is not ranked: its errors and their reason. Shared with HTML."""
    return [
        f"Not ranked: {u.model} — "
        + (f"{u.errors} error{'s' if u.errors != 1 else ''}: " if u.errors else "")
        + u.reason
        for u in summary.unranked
    ]
