"""A bake-off in Inspect's eval-log format (inspect_ai's `EvalLog`, log schema version 2), so
`inspect view` opens it and `inspect_ai.log.read_eval_log` reads it. Inspect's logs each hold
one model, and its viewer compares models across logs, so a run becomes one log per model:
`PATH` itself for a one-model run, else `STEM-MODEL.SUFFIX` beside it. Each trial is a sample:
the task is its id and the repeat its epoch (from 1); the prompt is its input, the transcript
its messages, the final answer its output; its scores are `check` (1 or 0, the check's output
as explanation), `judge` (the counted judges' mean, 0..1, their reasons) and `quality`
(`trial_quality.trial_quality`, what bakeoff ranks on), each only where it exists. A trial that ended
in an infrastructure error carries Inspect's sample `error` and no score; one that ran out of
turns, time or its cost cap carries a `limit`. bakeoff's own facts (status, outcome, cost,
diff, tamper findings) are the sample's metadata. `.eval` is Inspect's zip (header.json,
samples/, summaries.json, _journal/start.json), `.json` its single document; both are written
without inspect_ai, streaming: one trial at a time goes to the zip or to a temporary file.
Everything passes the redaction filter on its way out."""

from __future__ import annotations

import json
import re
import shutil
import statistics
import tempfile
import uuid
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Literal

from bakeoff import __version__
from bakeoff.errors import UserError
from bakeoff.evals.store.records import GradeWeights, TrialRecord
from bakeoff.evals.store.summary_records import BakeoffSummary
from bakeoff.evals.verdict.outcomes import trial_outcome
from bakeoff.evals.verdict.trial_quality import trial_quality
from bakeoff.redact import Redactor, current
from bakeoff.report.export import public_status
from bakeoff.types import Message, Usage

LOG_VERSION = 2
"""The eval-log schema version written (inspect_ai's `EvalLog.version`)."""
InspectFormat = Literal["eval", "json"]
FORMATS: dict[str, InspectFormat] = {".eval": "eval", ".json": "json"}

_LIMITS = {"max_turns": "turn", "timeout": "time", "cost_limit": "cost", "runaway": "token"}
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def inspect_format(path: Path) -> InspectFormat:
    """The format a path asks for by its suffix; UserError for any other."""
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise UserError(
            f"--inspect {path}: name a file ending in .eval (Inspect's own format) or .json"
        )
    return fmt


def inspect_paths(path: Path, models: Iterable[str]) -> dict[str, Path]:
    """The log file of each model: `path` for a single model, else `STEM-MODEL.SUFFIX`."""
    models = list(dict.fromkeys(models))
    if len(models) == 1:
        return {models[0]: path}
    out: dict[str, Path] = {}
    taken: set[str] = set()
    for model in models:
        slug = _SAFE.sub("-", model).strip("-.") or "model"
        name, n = slug, 2
        while name in taken:  # `a:b` and `a/b` slug alike
            name, n = f"{slug}-{n}", n + 1
        taken.add(name)
        out[model] = path.with_name(f"{path.stem}-{name}{path.suffix}")
    return out


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, tz=UTC).isoformat() if t > 0 else ""


def _usage(u: Usage, cost: float | None) -> dict[str, Any]:
    return {
        "input_tokens": u.input_tokens,
        "output_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
        "input_tokens_cache_read": u.cached_tokens or None,
        "input_tokens_cache_write": u.cache_write_tokens or None,
        "reasoning_tokens": u.reasoning_tokens or None,
        "total_cost": cost,
    }


def _message(m: Message, model: str) -> dict[str, Any]:
    """One transcript message as Inspect's ChatMessage."""
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.role in ("system", "user"):
        out["source"] = "input"
    elif m.role == "assistant":
        out.update(source="generate", model=model)
        if m.tool_calls:
            out["tool_calls"] = [
                {
                    "id": c.id,
                    "function": c.name,
                    "arguments": c.arguments if isinstance(c.arguments, dict) else {},
                    "parse_error": c.malformed,
                    "type": "function",
                }
                for c in m.tool_calls
            ]
    elif m.role == "tool":
        out.update(tool_call_id=m.tool_call_id, function=m.name)
        if m.is_error:
            out["error"] = {"type": "unknown", "message": m.content}
    return out


def _scores(r: TrialRecord, weights: GradeWeights) -> dict[str, dict[str, Any]]:
    scores: dict[str, dict[str, Any]] = {}
    if r.status == "error":
        return scores
    if r.check is not None:
        c = r.check
        tests = f"{c.tests_passed}/{c.tests_total} tests" if c.tests_total else None
        scores["check"] = {
            "value": 1.0 if c.passed else 0.0,
            "answer": tests,
            "explanation": c.output[-4000:],
        }
    counted = [j for j in r.judges if j.counted and j.overall is not None]
    if r.judge_overall is not None:
        scores["judge"] = {
            "value": r.judge_overall / 10,
            "explanation": "\n\n".join(f"{j.judge}: {j.rationale}" for j in counted),
        }
    quality = trial_quality(r, weights)
    if quality is not None:
        scores["quality"] = {"value": quality}
    return scores


def _prompt(r: TrialRecord) -> str:
    users = [m.content for m in r.agent.transcript if m.role == "user"]
    return users[0] if users else ""


def trial_sample(r: TrialRecord, weights: GradeWeights, model: str) -> dict[str, Any]:
    """One trial as Inspect's EvalSample (a JSON object, not yet redacted); `model` is the
    name it is shown by."""
    a = r.agent
    # The answer alone: a run that ended without one (an error, a limit) has none to show,
    # whatever its last message asked for.
    answer = {"role": "assistant", "content": a.answer, "source": "generate", "model": model}
    stop = {"completed": "stop", "runaway": "max_tokens"}.get(a.stop_reason, "unknown")
    sample: dict[str, Any] = {
        "id": r.task,
        "epoch": r.repeat + 1,
        "input": _prompt(r),
        "target": "",
        "messages": [_message(m, model) for m in a.transcript],
        "output": {
            "model": model,
            "choices": [{"message": answer, "stop_reason": stop}],
            "completion": a.answer,
            "usage": _usage(a.usage, a.cost_usd),
            "time": a.duration_s,
            "error": a.error,
        },
        "scores": _scores(r, weights) or None,
        "metadata": {
            "task": r.task,
            "category": r.category,
            "difficulty": r.difficulty,
            "repeat": r.repeat,
            "status": public_status(r),
            "outcome": trial_outcome(r),
            "stop_reason": a.stop_reason,
            "cost_usd": a.cost_usd,
            "turns": a.turns,
            "tool_calls": a.tool_calls,
            "sandboxed": r.sandboxed,
            "diff": r.diff,
            "tamper": [f.model_dump(mode="json") for f in r.tamper],
        },
        "model_usage": {model: _usage(a.usage, a.cost_usd)},
        "started_at": _iso(r.started_at),
        "completed_at": _iso(r.finished_at),
        "total_time": round(a.duration_s + r.slot_wait_s, 3),
        "working_time": round(a.duration_s, 3),
        "uuid": uuid.uuid4().hex,
    }
    if r.status == "error":
        sample["error"] = {
            "message": a.error or a.stop_reason,
            "traceback": "",
            "traceback_ansi": "",
        }
    if (kind := _LIMITS.get(a.stop_reason)) is not None:
        sample["limit"] = {"type": kind, "limit": 0, "reason": a.error or a.stop_reason}
    return sample


def sample_summary(sample: dict[str, Any]) -> dict[str, Any]:
    """The EvalSampleSummary Inspect's viewer lists samples by (no messages)."""
    keys = ("id", "epoch", "input", "target", "scores", "model_usage", "started_at",
            "completed_at", "total_time", "working_time", "uuid")  # fmt: skip
    out = {k: sample[k] for k in keys}
    out["metadata"] = {k: sample["metadata"][k] for k in ("status", "outcome", "cost_usd")}
    out["error"] = sample["error"]["message"] if "error" in sample else None
    out["limit"] = sample["limit"]["type"] if "limit" in sample else None
    out["message_count"] = len(sample["messages"])
    out["completed"] = True
    return out


@dataclass
class _ModelLog:
    """One model's log while its trials stream in: what its header needs, and its samples."""

    model: str
    path: Path
    fmt: InspectFormat
    redactor: Redactor
    summaries: list[dict[str, Any]] = field(default_factory=list)
    values: dict[str, list[float]] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)
    costs: list[float | None] = field(default_factory=list)
    started: list[float] = field(default_factory=list)
    finished: list[float] = field(default_factory=list)
    tasks: dict[str, None] = field(default_factory=dict)
    _zip: zipfile.ZipFile | None = None
    _tmp: IO[str] | None = None

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.fmt == "eval":
            self._zip = zipfile.ZipFile(self.path, "w", compression=zipfile.ZIP_DEFLATED)
        else:
            # Held open across `add` calls; `close` or `abandon` closes it.
            self._tmp = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115

    def add(self, r: TrialRecord, weights: GradeWeights) -> None:
        sample = self.redactor.json(trial_sample(r, weights, self.model))
        n = len(self.summaries)
        self.summaries.append(sample_summary(sample))
        for name, score in (sample["scores"] or {}).items():
            self.values.setdefault(name, []).append(float(score["value"]))
        self.usage += r.agent.usage
        self.costs.append(r.agent.cost_usd)
        self.started += [r.started_at] if r.started_at > 0 else []
        self.finished += [r.finished_at] if r.finished_at > 0 else []
        self.tasks[r.task] = None
        text = json.dumps(sample, ensure_ascii=False)
        if self._zip is not None:
            # The member's name is ours (the reader takes any samples/*.json): a task name
            # need not be a safe file name; the sample's own id stays the task's name.
            safe = _SAFE.sub("_", r.task)[:80]
            self._zip.writestr(f"samples/{n + 1:06d}-{safe}_epoch_{r.repeat + 1}.json", text)
        elif self._tmp is not None:
            self._tmp.write(("," if n else "") + text)

    def header(self, summary: BakeoffSummary) -> dict[str, Any]:
        spec = summary.spec
        created = spec.created_at or (min(self.started) if self.started else 0.0)
        costs = self.costs
        total_cost = None if any(c is None for c in costs) else sum(c or 0.0 for c in costs)
        model_usage = {self.model: _usage(self.usage, total_cost)}
        scored = {name: len(v) for name, v in self.values.items()}
        total = len(self.summaries)
        metric = {"check": "accuracy", "judge": "mean", "quality": "mean"}
        eval_spec = {
            "eval_id": uuid.uuid4().hex,
            "run_id": spec.run_id,
            "created": _iso(created) or datetime.now(tz=UTC).isoformat(),
            "task": "bakeoff",
            "task_id": spec.run_id,
            "task_display_name": f"bakeoff {spec.run_id}",
            "task_attribs": {},
            "task_args": {},
            "dataset": {
                "name": "bakeoff",
                "samples": len(self.tasks),
                "sample_ids": list(self.tasks),
            },
            "model": self.model,
            "config": {"epochs": spec.repeats},
            "packages": {"bakeoff": __version__},
            "metadata": {
                "bakeoff_run_id": spec.run_id,
                "judges": spec.judges,
                "labels": spec.labels,
                "tags": spec.tags,
            },
        }
        results = {
            "total_samples": total,
            "completed_samples": total,
            "scores": [
                {
                    "name": name,
                    "scorer": name,
                    "scored_samples": scored[name],
                    "unscored_samples": total - scored[name],
                    "metrics": {
                        metric[name]: {"name": metric[name], "value": statistics.fmean(values)}
                    },
                }
                for name, values in self.values.items()
            ],
        }
        stats = {
            "started_at": _iso(min(self.started)) if self.started else "",
            "completed_at": _iso(max(self.finished)) if self.finished else "",
            "model_usage": model_usage,
        }
        header: dict[str, Any] = self.redactor.json(
            {
                "version": LOG_VERSION,
                "status": "success",
                "eval": eval_spec,
                "plan": {"name": "plan", "steps": [{"solver": "bakeoff nano agent"}]},
                "results": results,
                "stats": stats,
            }
        )
        return header

    def close(self, summary: BakeoffSummary) -> None:
        header = self.header(summary)
        if self._zip is not None:
            with self._zip as z:
                start = {k: header[k] for k in ("version", "eval", "plan")}
                z.writestr("_journal/start.json", json.dumps(start, ensure_ascii=False))
                z.writestr("summaries.json", json.dumps(self.summaries, ensure_ascii=False))
                z.writestr("header.json", json.dumps(header, ensure_ascii=False))
        elif self._tmp is not None:
            with self._tmp as tmp, self.path.open("w", encoding="utf-8") as out:
                out.write(json.dumps(header, ensure_ascii=False)[:-1] + ', "samples": [')
                tmp.seek(0)
                shutil.copyfileobj(tmp, out)
                out.write("]}\n")

    def abandon(self) -> None:
        for handle in (self._zip, self._tmp):
            if handle is not None:
                handle.close()
        self.path.unlink(missing_ok=True)


def write_inspect(
    summary: BakeoffSummary, records: Iterable[TrialRecord], path: Path | str
) -> list[Path]:
    """Write the run as Inspect eval logs (module docstring), one per model of the run that has
    a trial, and return their paths. `records` are read once, one at a time."""
    path = Path(path)
    fmt = inspect_format(path)
    spec = summary.spec
    shown = {m: spec.labels.get(m, m) for m in spec.models}
    redactor = current()
    logs: dict[str, _ModelLog] = {}
    try:
        for r in records:
            log = logs.get(r.model)
            if log is None:
                shown.setdefault(r.model, r.model)  # a trial of a model the spec lacks
                where = inspect_paths(path, shown.values())[shown[r.model]]
                log = logs[r.model] = _ModelLog(shown[r.model], where, fmt, redactor)
                log.open()
            log.add(r, spec.weights)
        for log in logs.values():
            log.close(summary)
    except BaseException:
        for log in logs.values():
            log.abandon()
        raise
    return [log.path for log in logs.values()]
