"""Comparisons between models and between judges: paired tests over the (task, repeat) keys two
models share (exact McNemar on pass/fail, paired bootstrap with a sign-flip p on quality, a sign
test on head-to-head judge wins), the plain sentence each test becomes in a report, and how far
the judges can be trusted (agreement with each other and with the checks, order consistency,
judges grading their own model family). Verdicts are "A better", "B better" or
"indistinguishable"; A is always the model listed first, the better ranked one in a summary."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence

from bakeoff.evals import stats
from bakeoff.evals.records import JudgeReliability, PairVerdict, PairwiseTest, TrialRecord

SIGNIFICANCE = 0.05
"""A difference counts only when p < SIGNIFICANCE (and, for scores, the 95% CI excludes 0)."""
JUDGE_PASS_SCORE = 6.0
"""A judge's overall score at or above this counts as "the judge would pass it"."""

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
    name = (model_id.partition(":")[2] or model_id).lower().rsplit("/", 1)[-1]
    for pattern, family in _FAMILIES:
        if pattern.match(name):
            return family
    stem = re.match(r"[a-z]+", name)
    return stem.group(0) if stem else name


def same_family(judge_id: str, model_id: str) -> bool:
    """Whether a judge belongs to a contestant's model family (so its scores may be biased)."""
    return model_family(judge_id) == model_family(model_id)


def _verdict(p: float, direction: float, ci: tuple[float, float] | None = None) -> str:
    if p >= SIGNIFICANCE or direction == 0 or (ci is not None and ci[0] <= 0 <= ci[1]):
        return "indistinguishable"
    return "A better" if direction > 0 else "B better"


def paired_tests(
    models: Sequence[str],
    records: Sequence[TrialRecord],
    quality: Callable[[TrialRecord], float | None],
) -> list[PairwiseTest]:
    """For every two of `models` (A listed first), paired tests over the (task, repeat) keys
    both ran: McNemar on pass/fail where both were checked, paired bootstrap on `quality`."""
    by_model: dict[str, dict[tuple[str, int], TrialRecord]] = {m: {} for m in models}
    for r in records:
        if r.model in by_model:
            by_model[r.model][(r.task, r.repeat)] = r
    tests: list[PairwiseTest] = []
    for model_a, model_b in itertools.combinations(models, 2):
        ra, rb = by_model[model_a], by_model[model_b]
        passes: list[tuple[bool, bool]] = []
        scores: list[tuple[float, float]] = []
        for key in sorted(ra.keys() & rb.keys()):
            a, b = ra[key], rb[key]
            if a.passed is not None and b.passed is not None:
                passes.append((a.passed, b.passed))
            qa, qb = quality(a), quality(b)
            if qa is not None and qb is not None:
                scores.append((qa, qb))
        if passes:
            a_only, b_only, p = stats.mcnemar([x for x, _ in passes], [y for _, y in passes])
            tests.append(
                PairwiseTest(
                    model_a=model_a,
                    model_b=model_b,
                    metric="pass",
                    n=len(passes),
                    a_wins=a_only,
                    b_wins=b_only,
                    mean_diff=(a_only - b_only) / len(passes),  # difference in pass rate
                    p_value=p,
                    verdict=_verdict(p, a_only - b_only),
                )
            )
        if scores:
            diff, low, high, p = stats.paired_bootstrap(
                [x for x, _ in scores], [y for _, y in scores]
            )
            tests.append(
                PairwiseTest(
                    model_a=model_a,
                    model_b=model_b,
                    metric="quality",
                    n=len(scores),
                    a_wins=sum(1 for x, y in scores if x > y),
                    b_wins=sum(1 for x, y in scores if y > x),
                    mean_diff=diff,
                    ci_low=low,
                    ci_high=high,
                    p_value=p,
                    verdict=_verdict(p, diff, (low, high)),
                )
            )
    return tests


def judge_tests(models: Sequence[str], verdicts: Sequence[PairVerdict]) -> list[PairwiseTest]:
    """Head-to-head judging for every two of `models` that were compared: only a win named the
    same in both presentation orders counts (a flip is position bias, not preference); n counts
    every comparison, ties and flips included; the p-value is a sign test on the wins."""
    tests: list[PairwiseTest] = []
    for model_a, model_b in itertools.combinations(models, 2):
        pair = {model_a, model_b}
        group = [v for v in verdicts if {v.model_a, v.model_b} == pair]
        if not group:
            continue
        a_wins = sum(1 for v in group if v.consistent and v.winner == model_a)
        b_wins = sum(1 for v in group if v.consistent and v.winner == model_b)
        p = stats.sign_test(a_wins, b_wins)
        tests.append(
            PairwiseTest(
                model_a=model_a,
                model_b=model_b,
                metric="judge",
                n=len(group),
                a_wins=a_wins,
                b_wins=b_wins,
                p_value=p,
                verdict=_verdict(p, a_wins - b_wins),
            )
        )
    return tests


def judge_reliability(
    judges: Sequence[str],
    records: Sequence[TrialRecord],
    verdicts: Sequence[PairVerdict],
    models: Sequence[str],
) -> JudgeReliability:
    """How far the judges can be trusted. agreement_alpha: Krippendorff's alpha (interval) of
    the overall scores, trials x judges, with two judges or more; check_agreement: share of
    trials with a check and a judge score where (score >= 6) == passed; pairwise_consistency:
    share of head-to-head verdicts stable across both orders. `judges` lists the planned ones;
    any other judge found in the records is added."""
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
        (score >= JUDGE_PASS_SCORE) == passed
        for r in records
        if (score := r.judge_overall) is not None and (passed := r.passed) is not None
    ]
    costs = [s.cost_usd for r in records for s in r.judges] + [v.cost_usd for v in verdicts]
    known = [c for c in costs if c is not None]
    families = {j: [m for m in models if same_family(j, m)] for j in found}
    return JudgeReliability(
        judges=found,
        agreement_alpha=alpha,
        check_agreement=sum(both) / len(both) if both else None,
        pairwise_consistency=(
            sum(1 for v in verdicts if v.consistent) / len(verdicts) if verdicts else None
        ),
        same_family={j: ms for j, ms in families.items() if ms},
        cost_usd=sum(known) if len(known) == len(costs) else None,
        duration_s=sum(s.duration_s for r in records for s in r.judges)
        + sum(v.duration_s for v in verdicts),
    )


def pair_sentence(t: PairwiseTest) -> str:
    """One sentence on a paired test, e.g. "a and b cannot be told apart on pass rate (McNemar
    p=0.48, n=16)." or "a beats b on quality (mean difference +0.31, 95% CI ...)."."""
    p = _num(t.p_value, ".2g")
    if t.metric == "pass":
        what, detail = "on pass rate", f"McNemar p={p}, n={t.n}"
    elif t.metric == "judge":
        what = "in head-to-head judging"
        detail = f"consistent wins {t.a_wins}:{t.b_wins} of {t.n}, sign test p={p}"
    else:
        what = "on quality"
        detail = (
            f"mean difference {_num(t.mean_diff, '+.2f')}, 95% CI {_num(t.ci_low, '+.2f')} "
            f"to {_num(t.ci_high, '+.2f')}, p={p}, n={t.n}"
        )
    if t.verdict == "indistinguishable":
        return f"{t.model_a} and {t.model_b} cannot be told apart {what} ({detail})."
    winner, loser = (t.model_a, t.model_b) if t.verdict == "A better" else (t.model_b, t.model_a)
    return f"{winner} beats {loser} {what} ({detail})."


def _num(x: float | None, spec: str) -> str:
    return "?" if x is None else format(x, spec)
