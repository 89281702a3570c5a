"""Comparisons between models and between judges. The task is the unit: a model's repeats of a
task are averaged first (`task_means`), and every pair of models is compared with a sign-flip
test (exact up to 16 tasks, sampled above) on the per-task differences over the tasks both ran
(head-to-head judging: on each task's share of consistent wins). The p-values of one metric are
Holm-corrected across all pairs, so in a field of equally good models the chance of even one
false "X beats Y" stays at most ALPHA. From the same tests: tiers (consecutive models, in
quality order, no two of which differ) and the compact letter display (models sharing a letter
cannot be told apart; models sharing none differ). Also the plain sentence a test becomes and
how far the judges can be trusted (agreement with each other and, as Cohen's kappa, with the
checks; order consistency; judges grading their own model family). Verdicts are "A better", "B
better" or "indistinguishable"; A is the model listed first, the better ranked one in a summary."""

from __future__ import annotations

import itertools
import math
import re
import statistics
import string
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from bakeoff.evals.store.records import PairVerdict
from bakeoff.evals.store.rows import Trial
from bakeoff.evals.store.summary_records import (
    JudgeReliability,
    PairwiseTest,
    PowerEstimate,
    Resolution,
    Verdict,
)
from bakeoff.evals.verdict import stats
from bakeoff.models.model_id import name_of
from bakeoff.types import total_cost

SIGNIFICANCE = stats.ALPHA
"""A difference counts only when its Holm-adjusted p < SIGNIFICANCE."""
JUDGE_PASS_SCORE = 6.0
"""A judge's overall score at or above this counts as "the judge would pass it"."""
SPREAD_FLOOR = 0.1
"""Least spread of per-task differences assumed for the detectable gap, so a field of identical
results does not promise that any gap at all would show."""

TaskMeans = Mapping[str, Mapping[str, float]]
"""model -> task -> the mean of a value over that model's valid trials of the task."""

# Family stems: a judge grading its own lineage tends to favour it (self-preference), whichever
# provider serves it, so families are told apart by model name, not by provider.
_FAMILIES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), family)
    for pattern, family in (
        (r"claude|haiku|sonnet|opus", "claude"),
        (r"gpt|chatgpt|codex|o\d", "gpt"),
        (r"gemini|gemma", "gemini"),
        (r"qwen|qwq", "qwen"),
        (r"llama|codellama", "llama"),
        (r"mistral|mixtral|codestral|devstral|magistral|ministral|pixtral", "mistral"),
        (r"deepseek", "deepseek"),
        (r"phi", "phi"),
        (r"grok", "grok"),
        (r"kimi|moonshot", "kimi"),
        (r"glm|chatglm", "glm"),
    )
)


def model_family(model_id: str) -> str:
    """The family stem of a `provider:model` id: "claude", "gpt", "qwen"...; for an unknown
    name, its leading letters. A vendor prefix such as `anthropic/` or `Qwen/` is ignored."""
    name = (name_of(model_id) or model_id).lower().rsplit("/", 1)[-1]
    for pattern, family in _FAMILIES:
        if pattern.match(name):
            return family
    stem = re.match(r"[a-z]+", name)
    return stem.group(0) if stem else name


def same_family(judge_id: str, model_id: str) -> bool:
    """Whether a judge belongs to a contestant's model family (so its scores may be biased)."""
    return model_family(judge_id) == model_family(model_id)


def task_means(
    records: Sequence[Trial], value: Callable[[Trial], float | None]
) -> dict[str, dict[str, float]]:
    """Per model and task, the mean of `value` over the model's trials of that task that have
    one; trials that ended in an infrastructure error are no evidence and are left out."""
    groups: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        if r.status != "error" and (v := value(r)) is not None:
            groups[r.model][r.task].append(v)
    return {m: {t: math.fsum(vs) / len(vs) for t, vs in ts.items()} for m, ts in groups.items()}


def _verdict(p_holm: float, direction: float) -> Verdict:
    if p_holm >= SIGNIFICANCE or direction == 0:
        return "indistinguishable"
    return "A better" if direction > 0 else "B better"


def _with_holm(tests: list[PairwiseTest]) -> list[PairwiseTest]:
    adjusted = stats.holm([t.p_value if t.p_value is not None else 1.0 for t in tests])
    for t, p in zip(tests, adjusted, strict=True):
        t.p_holm = p
        t.verdict = _verdict(p, t.mean_diff or 0.0)
    return tests


def paired_tests(
    models: Sequence[str], means: TaskMeans, metric: Literal["quality", "pass"] = "quality"
) -> list[PairwiseTest]:
    """For every two of `models` that share a task (A listed first): the sign-flip test on the
    per-task differences of `means`, then Holm across all of them. a_wins / b_wins count tasks."""
    pairs = []
    for model_a, model_b in itertools.combinations(models, 2):
        ma, mb = means.get(model_a, {}), means.get(model_b, {})
        shared = sorted(ma.keys() & mb.keys())
        if shared:
            pairs.append((model_a, model_b, [ma[t] - mb[t] for t in shared]))
    p_values = stats.sign_flip_ps([d for _, _, d in pairs], stats.draws_for(len(pairs)))
    tests = [
        PairwiseTest(
            model_a=a,
            model_b=b,
            metric=metric,
            n=len(diffs),
            a_wins=sum(1 for d in diffs if d > 0),
            b_wins=sum(1 for d in diffs if d < 0),
            mean_diff=math.fsum(diffs) / len(diffs),
            p_value=p,
            verdict="indistinguishable",
        )
        for (a, b, diffs), p in zip(pairs, p_values, strict=True)
    ]
    return _with_holm(tests)


def judge_tests(models: Sequence[str], verdicts: Sequence[PairVerdict]) -> list[PairwiseTest]:
    """Head-to-head judging for every two of `models` that were compared: only a win named the
    same in both presentation orders counts (a flip is position bias, not preference). Per task,
    (A's wins - B's wins) / comparisons; the sign-flip test runs over tasks, then Holm. n counts
    tasks; a_wins / b_wins count the consistent wins themselves."""
    pairs = []
    for model_a, model_b in itertools.combinations(models, 2):
        group = [v for v in verdicts if {v.model_a, v.model_b} == {model_a, model_b}]
        if not group:
            continue
        per_task: dict[str, list[int]] = defaultdict(list)
        for v in group:
            per_task[v.task].append(
                (v.consistent and v.winner == model_a) - (v.consistent and v.winner == model_b)
            )
        nets = [sum(xs) / len(xs) for xs in per_task.values()]
        pairs.append((model_a, model_b, group, nets))
    p_values = stats.sign_flip_ps([nets for *_, nets in pairs], stats.draws_for(len(pairs)))
    tests = []
    for (model_a, model_b, group, nets), p in zip(pairs, p_values, strict=True):
        a_wins = sum(1 for v in group if v.consistent and v.winner == model_a)
        b_wins = sum(1 for v in group if v.consistent and v.winner == model_b)
        tests.append(
            PairwiseTest(
                model_a=model_a,
                model_b=model_b,
                metric="judge",
                n=len(nets),
                a_wins=a_wins,
                b_wins=b_wins,
                mean_diff=statistics.fmean(nets),
                p_value=p,
                verdict="indistinguishable",
            )
        )
    return _with_holm(tests)


def differ(tests: Sequence[PairwiseTest]) -> set[frozenset[str]]:
    """The pairs the tests tell apart."""
    return {frozenset((t.model_a, t.model_b)) for t in tests if t.verdict != "indistinguishable"}


def tiers(ordered: Sequence[str], tests: Sequence[PairwiseTest]) -> list[list[str]]:
    """Split `ordered` (best quality first) into consecutive tiers: a model joins the current
    tier when the tests tell it apart from no member, else it starts the next one."""
    apart = differ(tests)
    out: list[list[str]] = []
    for m in ordered:
        if out and not any(frozenset((m, x)) in apart for x in out[-1]):
            out[-1].append(m)
        else:
            out.append([m])
    return out


def compact_letters(ordered: Sequence[str], tests: Sequence[PairwiseTest]) -> dict[str, str]:
    """The compact letter display of the tests (Piepho's insert-and-absorb): every model gets
    one or more letters; two models share a letter exactly when the tests do not tell them
    apart. Letters run a, b, c... from the best-ranked model of `ordered` down."""
    groups: list[frozenset[str]] = [frozenset(ordered)] if ordered else []
    for pair in sorted(differ(tests), key=sorted):
        a, b = sorted(pair)
        split: list[frozenset[str]] = []
        for g in groups:
            split += [g - {a}, g - {b}] if pair <= g else [g]
        unique = list(dict.fromkeys(split))
        groups = [g for g in unique if g and not any(g < h for h in unique)]
    rank = {m: i for i, m in enumerate(ordered)}
    groups.sort(key=lambda g: sorted(rank[m] for m in g))
    symbols = string.ascii_lowercase + string.ascii_uppercase
    letters = dict.fromkeys(ordered, "")
    for i, g in enumerate(groups):
        for m in g:
            letters[m] += symbols[i] if i < len(symbols) else "*"
    return letters


POWER_GAPS = (0.1, 0.2, 0.3)
"""Quality gaps whose power every report states for the run's own design."""
SHOWN_GAP = 0.3
"""The gap whose power the report states for other designs (more repeats, more tasks)."""
POWER_TARGET = 0.8


def power_estimates(
    n_tasks: int, repeats: int, level: float, n_tests: int
) -> tuple[list[PowerEstimate], float | None]:
    """Power at POWER_GAPS for this design, at SHOWN_GAP for three more repeats' worth (x3),
    twice the tasks and both, and the least gap (of 0.05, 0.10, ... 1.0) found POWER_TARGET of
    the time here (power grows with the gap, so a bisection finds it)."""

    def found(gap: float, n: int, k: int) -> PowerEstimate:
        p = stats.power(gap, n, k, level=level, n_tests=n_tests, alpha=SIGNIFICANCE)
        return PowerEstimate(tasks=n, repeats=k, gap=gap, found=p)

    rows = [found(g, n_tasks, repeats) for g in POWER_GAPS]
    for n, k in ((n_tasks, 3 * repeats), (2 * n_tasks, repeats), (2 * n_tasks, 3 * repeats)):
        rows.append(found(SHOWN_GAP, n, k))
    grid = [round(0.05 * i, 2) for i in range(1, 21)]
    lo, hi = 0, len(grid)
    while lo < hi:
        mid = (lo + hi) // 2
        if found(grid[mid], n_tasks, repeats).found >= POWER_TARGET:
            hi = mid
        else:
            lo = mid + 1
    return rows, grid[lo] if lo < len(grid) else None


def resolution(tests: Sequence[PairwiseTest], means: TaskMeans, repeats: int = 1) -> Resolution:
    """What the quality tests could resolve: pairs, tasks, the pooled spread of the per-task
    differences, the smallest gap that could show (stats.detectable_gap), and the power of
    this run's design and of larger ones at the tested models' mean quality
    (`power_estimates`)."""
    if not tests:
        return Resolution(alpha=SIGNIFICANCE)
    variances = []
    for t in tests:
        ma, mb = means[t.model_a], means[t.model_b]
        diffs = [ma[k] - mb[k] for k in ma.keys() & mb.keys()]
        if len(diffs) >= 2:
            variances.append(statistics.variance(diffs))
    spread = math.sqrt(statistics.fmean(variances)) if variances else None
    n = max(t.n for t in tests)
    tested = {m for t in tests for m in (t.model_a, t.model_b)}
    values = [v for m in tested for v in means[m].values()]
    level = statistics.fmean(values) if values else 0.5
    power, gap_80 = power_estimates(n, repeats, level, len(tests))
    return Resolution(
        tasks=n,
        pairs=len(tests),
        alpha=SIGNIFICANCE,
        spread=spread,
        detectable_gap=stats.detectable_gap(
            n, len(tests), max(spread or 0.0, SPREAD_FLOOR), SIGNIFICANCE
        ),
        tasks_needed=stats.tasks_needed(len(tests), SIGNIFICANCE),
        repeats=repeats,
        level=level,
        power=power,
        gap_found_80=gap_80,
    )


def judge_reliability(
    judges: Sequence[str],
    records: Sequence[Trial],
    verdicts: Sequence[PairVerdict],
    models: Sequence[str],
) -> JudgeReliability:
    """How far the judges can be trusted. agreement_alpha: Krippendorff's alpha (interval) of
    the overall scores, trials x judges, with two judges or more; check_agreement: Cohen's
    kappa of (judges' mean score >= 6) against the check's verdict, with its n, over valid
    trials with both; pairwise_consistency: share of head-to-head verdicts stable across both
    orders. `judges` lists the planned ones; any other judge found in the records is added."""
    names = [
        *judges,
        *(s.judge for r in records for s in r.judges),
        *(v.judge for v in verdicts),
    ]
    found = list(dict.fromkeys(names))
    alpha = None
    if len(found) >= 2:
        rows = [{s.judge: s.overall for s in r.judges} for r in records if r.judges]
        alpha = stats.krippendorff_alpha_interval([[row.get(j) for j in found] for row in rows])
    both = [
        (score >= JUDGE_PASS_SCORE, passed)
        for r in records
        if r.status != "error"
        and (score := r.judge_overall) is not None
        and (passed := r.passed) is not None
    ]
    costs = [s.cost_usd for r in records for s in r.judges] + [v.cost_usd for v in verdicts]
    families = {j: [m for m in models if same_family(j, m)] for j in found}
    return JudgeReliability(
        judges=found,
        agreement_alpha=alpha,
        check_agreement=stats.cohen_kappa([j for j, _ in both], [c for _, c in both]),
        check_agreement_n=len(both),
        pairwise_consistency=(
            sum(1 for v in verdicts if v.consistent) / len(verdicts) if verdicts else None
        ),
        same_family={j: ms for j, ms in families.items() if ms},
        cost_usd=total_cost(costs),
        duration_s=sum(s.duration_s for r in records for s in r.judges)
        + sum(v.duration_s for v in verdicts),
    )


def pair_sentence(t: PairwiseTest) -> str:
    """One sentence on a paired test, e.g. "a and b cannot be told apart on quality (mean
    difference +0.12 over 5 tasks, p=0.31, Holm-adjusted p=1)." or "a beats b on quality ..."."""
    p, p_holm = _num(t.p_value, ".2g"), _num(t.p_holm, ".2g")
    if t.metric == "judge":
        what = "in head-to-head judging"
        detail = f"consistent wins {t.a_wins}:{t.b_wins} over {t.n} tasks"
    else:
        what = "on quality" if t.metric == "quality" else "on pass rate"
        detail = f"mean difference {_num(t.mean_diff, '+.2f')} over {t.n} tasks"
    detail += f", p={p}, Holm-adjusted p={p_holm}"
    if t.verdict == "indistinguishable":
        return f"{t.model_a} and {t.model_b} cannot be told apart {what} ({detail})."
    winner, loser = (t.model_a, t.model_b) if t.verdict == "A better" else (t.model_b, t.model_a)
    return f"{winner} beats {loser} {what} ({detail})."


def _num(x: float | None, spec: str) -> str:
    return "?" if x is None else format(x, spec)


def winners_first(order: Sequence[str], tests: Sequence[PairwiseTest]) -> list[str]:
    """`order` with the winner of any test ranked below its loser moved to just above it. Only
    possible when the order is not by the tested means (models of one tier ordered by overall
    score, or a model's quality over tasks the test did not compare); a guard bounds the passes
    should the tests ever form a cycle. Tests of models not in `order` are ignored."""
    names = list(order)
    for _ in range(len(names) ** 2):
        wrong = [
            (winner, loser)
            for t in tests
            if t.verdict != "indistinguishable" and {t.model_a, t.model_b} <= set(names)
            for winner, loser in [
                (t.model_a, t.model_b) if t.verdict == "A better" else (t.model_b, t.model_a)
            ]
            if names.index(winner) > names.index(loser)
        ]
        if not wrong:
            break
        winner, loser = wrong[0]
        names.remove(winner)
        names.insert(names.index(loser), winner)
    return names


def flip(t: PairwiseTest) -> PairwiseTest:
    """The same test with A and B swapped."""
    verdict: Verdict = {"A better": "B better", "B better": "A better"}.get(  # type: ignore[assignment]
        t.verdict, t.verdict
    )
    return t.model_copy(
        update={
            "model_a": t.model_b,
            "model_b": t.model_a,
            "a_wins": t.b_wins,
            "b_wins": t.a_wins,
            "mean_diff": None if t.mean_diff is None else -t.mean_diff,
            "verdict": verdict,
        }
    )
