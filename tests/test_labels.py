"""Run labels and the filters over past runs, as a user meets them: `bakeoff run --label KEY=VALUE`
stored with the run, shown by `bakeoff runs` and in the HTML report's header, and `bakeoff runs
--label/--model/--since/--status` choosing among real runs of scripted models in a real SQLite
store. Labels are the user's text, so hostile ones (control characters, markup, sizes) are
refused in one line or shown as text."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from bakeoff.cli import main
from bakeoff.evals.store.store import Store
from bakeoff.labels import MAX_LABELS, MAX_VALUE, merge_labels, parse_label


def _project(root: Path) -> Path:
    task = root / "hello"
    (task / "files").mkdir(parents=True)
    (task / "task.toml").write_text(
        'name = "hello"\nprompt = "Write hello.txt saying hi."\ncategory = "files"\n'
        "difficulty = 1\n[check]\n"
        "command = \"python -c \\\"import pathlib; assert pathlib.Path('hello.txt').read_text()"
        " == 'hi'\\\"\"\n"
    )
    for name, content in (("good", "hi"), ("bad", "bye")):
        call = {"name": "write_file", "arguments": {"path": "hello.txt", "content": content}}
        (root / f"{name}.json").write_text(json.dumps([{"tool_calls": [call]}, {"text": "ok"}]))
    return root


def _run(root: Path, run_id: str, model: str, *flags: str) -> int:
    return main(["run", str(root / "hello"), "--models", f"script:{model}.json", "--store",
                 str(root / "db.sqlite"), "--run-id", run_id, "--json", *flags])  # fmt: skip


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three stored runs: r-infra (good; team=infra, ci=1), r-web (bad; team=web), r-none."""
    root = _project(tmp_path_factory.mktemp("labels"))
    with pytest.MonkeyPatch.context() as mp:
        (root / "bakeoff.toml").write_text("")
        mp.setenv("BAKEOFF_CONFIG", str(root / "bakeoff.toml"))
        mp.chdir(root)
        assert _run(root, "r-infra", "good", "--label", "team=infra", "--label", "ci=1") == 0
        assert _run(root, "r-web", "bad", "--label", "team=<b>web</b>") in (0, 1)
        assert _run(root, "r-none", "good") == 0
    return root


def _listed(root: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> list[str]:
    capsys.readouterr()
    assert main(["runs", "--store", str(root / "db.sqlite"), "--json", *flags]) == 0
    return [r["run_id"] for r in json.loads(capsys.readouterr().out)]


def test_labels_are_stored_and_shown_by_runs_and_the_report(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = Store(runs / "db.sqlite")
    assert store.get_spec("r-infra").tags == {"team": "infra", "ci": "1"}
    assert store.get_spec("r-none").tags == {}
    capsys.readouterr()
    assert main(["runs", "--store", str(runs / "db.sqlite")]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["r-infra"].endswith("script:good  team=infra  ci=1")
    assert lines["r-none"].endswith("script:good")
    assert main(["runs", "--store", str(runs / "db.sqlite"), "--json"]) == 0
    listed = {r["run_id"]: r for r in json.loads(capsys.readouterr().out)}
    assert listed["r-web"]["labels"] == {"team": "<b>web</b>"}
    html = (runs / "reports" / "r-web.html").read_text()
    assert "<dt>Labels</dt><dd>team=&lt;b&gt;web&lt;/b&gt;</dd>" in html  # text, not markup
    assert "<dt>Labels</dt>" not in (runs / "reports" / "r-none.html").read_text()


def test_runs_filters_by_label_model_status_and_date(
    runs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _listed(runs, capsys, "--label", "team=infra") == ["r-infra"]
    assert _listed(runs, capsys, "--label", "team=infra", "--label", "ci=1") == ["r-infra"]
    assert _listed(runs, capsys, "--label", "team=infra", "--label", "ci=2") == []
    assert _listed(runs, capsys, "--label", "team=<b>web</b>") == ["r-web"]
    assert _listed(runs, capsys, "--label", "team=inf") == []  # a value matches exactly
    assert sorted(_listed(runs, capsys, "--model", "good")) == ["r-infra", "r-none"]
    assert _listed(runs, capsys, "--model", "BAD.json") == ["r-web"]  # the id, any case
    assert sorted(_listed(runs, capsys, "--status", "finished")) == ["r-infra", "r-none", "r-web"]
    assert _listed(runs, capsys, "--status", "interrupted") == []
    today = time.strftime("%Y-%m-%d")
    assert len(_listed(runs, capsys, "--since", today, "--model", "good")) == 2
    assert _listed(runs, capsys, "--since", "2999-01-01") == []
    capsys.readouterr()
    assert main(["runs", "--store", str(runs / "db.sqlite"), "--since", "2999-01-01"]) == 0
    assert "no run matches these filters" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--status", "done"], "give one of running, interrupted, budget_stopped"),
        (["--since", "2026-13-01"], "is not a date: give YYYY-MM-DD"),
        (["--since", "yesterday"], "is not a date"),
        (["--label", "team"], "give KEY=VALUE"),
        (["--label", "a b=c"], "is not a plain name"),
    ],
)
def test_bad_filters_are_refused_in_one_line(
    runs: Path, capsys: pytest.CaptureFixture[str], argv: list[str], says: str
) -> None:
    capsys.readouterr()
    assert _exit_code(["runs", "--store", str(runs / "db.sqlite"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1


def _exit_code(argv: list[str]) -> int | str | None:
    try:
        return main(argv)
    except SystemExit as exc:  # argparse's refusals
        return exc.code


@pytest.mark.parametrize(
    ("label", "says"),
    [
        ("noequals", "give KEY=VALUE"),
        ("=value", "is not a plain name"),
        ("bad key=x", "is not a plain name"),
        ("k/../x=1", "is not a plain name"),
        ("k" * 65 + "=1", "is not a plain name"),
        ("k=\x1b[31mred", "printable"),  # a terminal escape would repaint `bakeoff runs`
        ("k=a\nb", "printable"),
        ("k=\u202eevil", "printable"),  # a bidi override would reorder what is shown
        ("k=bad\udc80", "printable"),  # a lone surrogate from argv cannot even be stored
        ("k=" + "v" * (MAX_VALUE + 1), f"at most {MAX_VALUE}"),
    ],
)
def test_hostile_labels_are_refused_before_anything_runs(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str], label: str, says: str
) -> None:
    _project(tmp_path)
    assert _exit_code(["run", str(tmp_path / "hello"), "--models", "script:good.json",
                       "--store", str(tmp_path / "db.sqlite"), "--label", label]) == 2  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert says in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "db.sqlite").exists()  # refused before the store was made


def test_too_many_labels_and_a_label_on_a_resumed_run_are_refused(
    runs: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    standing = ", ".join(f'k{i} = "v"' for i in range(MAX_LABELS))
    isolated_config.write_text(f"[defaults]\nlabels = {{ {standing} }}\n")
    capsys.readouterr()
    assert _run(runs, "r-many", "good", "--label", "one=more") == 2
    assert f"a run takes at most {MAX_LABELS}" in capsys.readouterr().err
    isolated_config.write_text("")
    code = main(["run", "--resume", "r-none", "--store", str(runs / "db.sqlite"),
                 "--label", "late=1"])  # fmt: skip
    assert code == 2 and "a resumed run keeps the labels" in capsys.readouterr().err
    assert Store(runs / "db.sqlite").get_spec("r-none").tags == {}


def test_the_label_rules() -> None:
    assert parse_label(" team = infra ") == ("team", "infra")
    assert parse_label("url=https://x.example/?a=b") == ("url", "https://x.example/?a=b")
    assert parse_label("empty=") == ("empty", "")
    assert merge_labels({"a": "1", "b": "2"}, [("b", "3")]) == {"a": "1", "b": "3"}
    with pytest.raises(ValueError, match="at most"):
        merge_labels({f"k{i}": "v" for i in range(MAX_LABELS + 1)})


def test_a_run_whose_spec_rotted_is_listed_but_never_matches_a_label(
    runs: Path, tmp_path: Path
) -> None:
    db = tmp_path / "copy.sqlite"
    with sqlite3.connect(runs / "db.sqlite") as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    with sqlite3.connect(db) as raw:
        raw.execute("UPDATE runs SET spec = '{not json' WHERE run_id = 'r-infra'")
    store = Store(db)
    assert "r-infra" in [r["run_id"] for r in store.list_runs()]
    assert store.list_runs(labels={"team": "infra"}) == []
    assert [r["run_id"] for r in store.list_runs(model="bad")] == ["r-web"]
