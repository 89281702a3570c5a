"""One run of a bake-off as an HTML <details> block for the report: status, answer, timings,
usage, cost, the whole transcript (every message, tool call with its JSON arguments, and tool
result with its error flag), the workspace diff, the check's output and each judge's scores and
rationale. All of it is model output or user data, so every string is escaped."""

from __future__ import annotations

import json
from html import escape

from bakeoff.evals.store.records import TrialRecord
from bakeoff.evals.verdict.outcomes import trial_outcome
from bakeoff.report.text import fmt_cost, fmt_seconds
from bakeoff.report.tokens import usage_text
from bakeoff.types import Message, Usage


def render_run(r: TrialRecord, anchor: str) -> str:
    """One run as a closed <details id=anchor>; its summary line says task, model, verdict."""
    a = r.agent
    verdict = {
        True: '<span class="pass">✓ passed</span>',
        False: '<span class="fail">✗ failed</span>',
        None: "",
    }[r.passed]
    judge = "" if r.judge_overall is None else f" · judge {r.judge_overall:.1f}"
    summary = (
        f"<b>{escape(r.task)}</b> · {escape(r.model)} · repeat {r.repeat} · {escape(trial_outcome(r))} "
        f"{verdict}{judge} · {fmt_seconds(a.duration_s)} · {escape(fmt_cost(a.cost_usd))}"
    )
    facts = [
        ("Status", f"{trial_outcome(r)} (agent stopped: {a.stop_reason})"),
        ("Task", f"{r.task} — {r.category}, difficulty {r.difficulty}"),
        (
            "Timings",
            f"total {fmt_seconds(a.duration_s)} · model {fmt_seconds(a.model_time_s)} · tools "
            f"{fmt_seconds(a.tool_time_s)} · waiting {fmt_seconds(a.wait_time_s + r.slot_wait_s)} · "
            f"warm-up {fmt_seconds(a.warmup_s)}",
        ),
        ("Usage", f"{a.turns} turns · {a.tool_calls} tool calls · {_usage(a.usage)}"),
        ("Cost", fmt_cost(a.cost_usd) + _why_unknown(a.cost_usd, a.usage)),
    ]
    if a.error:
        facts.append(("Error", a.error))
    if not r.sandboxed:
        facts.append(("Sandbox", "UNSANDBOXED: contestant code ran without the OS sandbox"))
    dl = "".join(f"<dt>{k}</dt><dd>{escape(v)}</dd>" for k, v in facts)
    parts = [
        f'<dl class="meta">{dl}</dl><h3>Answer</h3><pre class="answer">{escape(a.answer) or "(no answer)"}</pre>',
        f'<h3>Transcript</h3><div class="transcript">{"".join(_message(m) for m in a.transcript)}</div>',
        f"<h3>Workspace diff</h3>{_diff(r.diff)}",
        _tamper(r),
        _check(r),
        _judges(r),
    ]
    return (
        f'<details class="run" id="{anchor}"><summary>{summary}</summary>'
        f'<div class="body">{"".join(parts)}</div></details>'
    )


def _usage(u: Usage) -> str:
    if not u.known:  # lower bounds or unknown, said in words
        return usage_text(u)
    return (
        f"input {u.input_tokens} (cached {u.cached_tokens}, cache write "
        f"{u.cache_write_tokens}) · output {u.output_tokens} (reasoning {u.reasoning_tokens})"
    )


def _why_unknown(cost: float | None, u: Usage) -> str:
    if cost is not None or u.known:
        return ""
    return " (the server did not report the tokens of every request)"


def _message(m: Message) -> str:
    role = m.role
    if role == "tool":
        flag = ' <span class="fail">error</span>' if m.is_error else ""
        took = "" if m.duration_s is None else f" · {fmt_seconds(m.duration_s)}"
        label = (
            f'tool result</span> <b class="mono">{escape(m.name or "?")}</b> '
            f"<small>{escape(m.tool_call_id or '')}{took}</small>{flag}"
        )
    else:
        label = f"{escape(role)}</span>"
    calls = "".join(
        f'<div class="toolcall">→ <b>{escape(c.name)}</b> <small>{escape(c.id)}</small>'
        f"<pre>{escape(c.malformed if c.malformed is not None else json.dumps(c.arguments, indent=2, ensure_ascii=False))}</pre></div>"
        for c in m.tool_calls
    )
    content = f"<pre>{escape(m.content)}</pre>" if m.content else ""
    cls = f"msg {role}" + (" error" if m.is_error else "")
    return f'<div class="{cls}"><div><span class="role">{label}</div>{content}{calls}</div>'


def _diff(diff: str) -> str:
    if not diff.strip():
        return '<p class="muted">No changes.</p>'
    lines = []
    for line in diff.splitlines():
        cls = (
            "add"
            if line.startswith("+") and not line.startswith("+++")
            else "del"
            if line.startswith("-") and not line.startswith("---")
            else "hunk"
            if line.startswith("@@")
            else ""
        )
        lines.append(f'<span class="{cls}">{escape(line)}</span>' if cls else escape(line))
    return f'<pre class="diff">{chr(10).join(lines)}</pre>'


def _tamper(r: TrialRecord) -> str:
    if not r.tamper:
        return ""
    rows = "".join(
        f'<li><span class="{"fail" if f.severity == "void" else "muted"}">{f.severity}</span> '
        f"{escape(f.path)}{'' if f.line is None else f':{f.line}'}: {escape(f.why)}"
        + (f" — <code>{escape(f.excerpt)}</code>" if f.excerpt else "")
        + "</li>"
        for f in r.tamper
    )
    return (
        "<h3>Tamper scan</h3><p>What the contestant wrote that aims at the grader "
        "(<b>void</b> voids a pass; <b>flag</b> is shown to the judge).</p>"
        f'<ul class="tamper">{rows}</ul>'
    )


def _check(r: TrialRecord) -> str:
    c = r.check
    if c is None:
        return '<h3>Check</h3><p class="muted">No check for this task.</p>'
    verdict = '<span class="pass">passed</span>' if c.passed else '<span class="fail">failed</span>'
    tests = "" if c.tests_total is None else f" · tests {c.tests_passed}/{c.tests_total}"
    extra = " · timed out" if c.timed_out else f" · exit {c.exit_code}"
    return (
        f"<h3>Check</h3><p>{verdict}{escape(tests + extra)} · {fmt_seconds(c.duration_s)}</p>"
        f'<pre class="check">{escape(c.output) or "(no output)"}</pre>'
    )


def _judges(r: TrialRecord) -> str:
    if not r.judges:
        return ""
    out = ["<h3>Judges</h3>"]
    for j in r.judges:
        overall = "–" if j.overall is None else f"{j.overall:.1f}/10"
        crit = " · ".join(f"{escape(k)} {v:g}" for k, v in j.criteria.items())
        cost = f"{fmt_cost(j.cost_usd)}, {fmt_seconds(j.duration_s)}"
        err = f'<p class="fail">{escape(j.error)}</p>' if j.error else ""
        out.append(
            f'<div class="judge"><p><b>{escape(j.judge)}</b>: {overall}'
            f"{' · ' + crit if crit else ''} <small>(judging {escape(cost)})</small></p>{err}"
            f"<pre>{escape(j.rationale) or '(no rationale)'}</pre></div>"
        )
    return "".join(out)
