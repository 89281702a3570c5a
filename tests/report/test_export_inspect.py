"""Exports of a run for other tools: JSON lines of every trial, and Inspect's eval-log format
(`.eval` zip and `.json`), checked here by its structure and, with the bench extra installed,
by inspect_ai's own reader — what `inspect view` uses to open it."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from bakeoff.cli import main
from bakeoff.errors import UserError
from bakeoff.evals.store.records import TrialRecord
from bakeoff.evals.store.store import Store
from bakeoff.evals.store.summary_records import BakeoffSummary
from bakeoff.evals.verdict.trial_quality import trial_quality
from bakeoff.report.export import write_jsonl
from bakeoff.report.export_inspect import inspect_paths, write_inspect

SECRET = "sk-test-0123456789abcdef-SECRET"


def _zip_json(path: Path, name: str) -> object:
    with zipfile.ZipFile(path) as z:
        return json.loads(z.read(name))


def _samples(path: Path) -> list[dict[str, object]]:
    if path.suffix == ".json":
        samples: list[dict[str, object]] = json.loads(path.read_text())["samples"]
        return samples
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.startswith("samples/")]
        return [json.loads(z.read(n)) for n in names]


def test_jsonl_holds_every_record_whole_one_a_line(
    records: list[TrialRecord], tmp_path: Path
) -> None:
    hostile = records[0].model_copy(deep=True)
    hostile.agent.answer = "line one\u2028line two\u0085three\x00\nfour"
    out = write_jsonl([hostile, *records[1:]], tmp_path / "t.jsonl")
    lines = out.read_text(encoding="utf-8").splitlines()  # splits on U+2028 too
    assert len(lines) == len(records)
    back = [TrialRecord.model_validate_json(line) for line in lines]
    assert back[0].agent.answer == hostile.agent.answer
    assert [(r.task, r.model, r.repeat) for r in back] == [
        (r.task, r.model, r.repeat) for r in records
    ]


def test_one_inspect_log_per_model_named_after_it(tmp_path: Path) -> None:
    one = inspect_paths(tmp_path / "run.eval", ["openai:gpt-5"])
    assert one == {"openai:gpt-5": tmp_path / "run.eval"}
    many = inspect_paths(tmp_path / "run.eval", ["ollama:gpt-oss:20b", "ollama/gpt-oss/20b", "x"])
    assert [p.name for p in many.values()] == [
        "run-ollama-gpt-oss-20b.eval",
        "run-ollama-gpt-oss-20b-2.eval",  # two ids that slug alike never share a file
        "run-x.eval",
    ]


@pytest.mark.parametrize("suffix", [".eval", ".json"])
def test_inspect_log_holds_every_trial_as_a_sample(
    summary: BakeoffSummary, records: list[TrialRecord], tmp_path: Path, suffix: str
) -> None:
    paths = write_inspect(summary, records, tmp_path / f"run{suffix}")
    models = summary.spec.models
    assert len(paths) == len(models)
    weights = summary.spec.weights
    for model, path in zip(models, paths, strict=True):
        mine = {(r.task, r.repeat + 1): r for r in records if r.model == model}
        samples = _samples(path)
        assert len(samples) == len(mine)
        for s in samples:
            r = mine[(str(s["id"]), int(s["epoch"]))]  # type: ignore[call-overload]
            assert s["input"] == f"Solve {r.task}."
            assert len(s["messages"]) == len(r.agent.transcript)  # type: ignore[arg-type]
            scores = s["scores"] or {}
            if r.status == "error":
                assert s["error"]["message"]  # type: ignore[index]
                assert not scores
                continue
            assert "error" not in s
            if r.check is not None:
                assert scores["check"]["value"] == (1.0 if r.check.passed else 0.0)  # type: ignore[index]
            q = trial_quality(r, weights)
            assert scores["quality"]["value"] == pytest.approx(q)  # type: ignore[index]
    header = (
        json.loads(paths[0].read_text())
        if suffix == ".json"
        else _zip_json(paths[0], "header.json")
    )
    assert header["version"] == 2  # type: ignore[index]
    assert header["eval"]["model"] == summary.spec.models[0]  # type: ignore[index]
    assert header["results"]["total_samples"] == len(  # type: ignore[index]
        [r for r in records if r.model == summary.spec.models[0]]
    )


def test_inspect_zip_has_the_members_inspect_reads(
    summary: BakeoffSummary, records: list[TrialRecord], tmp_path: Path
) -> None:
    path = write_inspect(summary, records, tmp_path / "run.eval")[0]
    with zipfile.ZipFile(path) as z:
        names = set(z.namelist())
    assert {"header.json", "summaries.json", "_journal/start.json"} <= names
    summaries = _zip_json(path, "summaries.json")
    assert isinstance(summaries, list)
    assert len(summaries) == len([n for n in names if n.startswith("samples/")])


def test_inspect_export_is_redacted(
    summary: BakeoffSummary,
    records: list[TrialRecord],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BAKEOFF_TEST_API_KEY", SECRET)
    leaky = records[0].model_copy(deep=True)
    leaky.agent.answer = f"the key is {SECRET}"
    for suffix in (".eval", ".json"):
        paths = write_inspect(summary, [leaky, *records[1:]], tmp_path / f"r{suffix}")
        for model, path in zip(summary.spec.models, paths, strict=True):
            raw = path.read_bytes()
            if suffix == ".eval":
                with zipfile.ZipFile(path) as z:
                    raw = b"".join(z.read(n) for n in z.namelist())
            assert SECRET.encode() not in raw
            assert (b"the key is [redacted]" in raw) == (model == leaky.model)


def test_a_wrong_suffix_is_refused_in_one_line(
    summary: BakeoffSummary, records: list[TrialRecord], tmp_path: Path
) -> None:
    with pytest.raises(UserError, match=r"\.eval .* or \.json"):
        write_inspect(summary, records, tmp_path / "run.txt")
    assert not list(tmp_path.iterdir())


def _stored_run(tmp_path: Path, summary: BakeoffSummary, records: list[TrialRecord]) -> Path:
    db = tmp_path / "results.sqlite"
    store = Store(db)
    store.create_run(summary.spec)
    for r in records:
        store.add_trial(r)
    store.set_status(summary.run_id, "finished")
    store.close()
    return db


def test_report_cli_writes_jsonl_and_inspect_logs(
    summary: BakeoffSummary,
    records: list[TrialRecord],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = _stored_run(tmp_path, summary, records)
    out = tmp_path / "out"
    code = main(
        ["report", summary.run_id, "--store", str(db), "--jsonl", str(out / "t.jsonl"),
         "--inspect", str(out / "run.eval"), "--json"]
    )  # fmt: skip
    assert code in (0, 1, 3)
    lines = (out / "t.jsonl").read_text().splitlines()
    assert len(lines) == len(records)
    logs = sorted(out.glob("run-*.eval"))
    assert len(logs) == len(summary.spec.models)
    assert f"Inspect log: {logs[0]}" in capsys.readouterr().err


def test_report_cli_refuses_a_wrong_suffix_before_any_work(
    summary: BakeoffSummary,
    records: list[TrialRecord],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    db = _stored_run(tmp_path, summary, records)
    code = main(["report", summary.run_id, "--store", str(db), "--inspect", "run.txt"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and ".eval" in err


# ---- inspect_ai's own reader (the bench extra) -----------------------------------------------


@pytest.mark.parametrize("suffix", [".eval", ".json"])
def test_inspect_ai_reads_the_log(
    summary: BakeoffSummary, records: list[TrialRecord], tmp_path: Path, suffix: str
) -> None:
    inspect_log = pytest.importorskip("inspect_ai.log")
    paths = write_inspect(summary, records, tmp_path / f"run{suffix}")
    for model, path in zip(summary.spec.models, paths, strict=True):
        mine = [r for r in records if r.model == model]
        log = inspect_log.read_eval_log(str(path))
        assert log.status == "success"
        assert log.eval.model == model
        assert log.samples is not None and len(log.samples) == len(mine)
        assert log.results.total_samples == len(mine)
        by_key = {(r.task, r.repeat + 1): r for r in mine}
        for sample in log.samples:
            r = by_key[(sample.id, sample.epoch)]
            assert sample.output.completion == r.agent.answer
            roles = [m.role for m in sample.messages]
            assert roles == [m.role for m in r.agent.transcript]
            if r.status == "error":
                assert sample.error is not None
            elif r.check is not None:
                assert sample.scores["check"].value == (1.0 if r.check.passed else 0.0)
        header = inspect_log.read_eval_log(str(path), header_only=True)
        assert header.samples is None and header.eval.task == "bakeoff"
        if suffix == ".eval":
            summaries = inspect_log.read_eval_log_sample_summaries(str(path))
            assert len(summaries) == len(mine)
