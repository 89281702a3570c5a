"""Bad values on the command line and bad files behind it: each is refused while the arguments
are parsed (or before anything runs), with exit status 2 and one line on stderr that names the
flag and the value — never a traceback, a hang, a file written outside the store, or memory
eaten by a device file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakeoff import user_files
from bakeoff.cli import main

PROMPT = "Create hello.py that prints hello"


def one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def refused(capsys: pytest.CaptureFixture[str], *argv: str, lines: int = 1) -> str:
    """The stderr of a command refused with exit status 2: one line, unless `lines` allows
    more (the preflight lists every model it refused, one per line)."""
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse refuses by exiting
        code = exc.code  # type: ignore[assignment]
    out, err = capsys.readouterr()
    assert code == 2, (out, err)
    assert "Traceback" not in err
    return one_line(err) if lines == 1 else err


RUN = ["run", PROMPT, "--models", "script:nowhere.json", "--no-preflight"]

BAD_VALUES = [
    ("--timeout", "nan"),
    ("--timeout", "inf"),
    ("--timeout", "-1"),
    ("--timeout", "0"),
    ("--timeout", "1e300"),
    ("--timeout", "soon"),
    ("--repeats", "1e20"),
    ("--repeats", "100000000000000000000"),
    ("--repeats", "0"),
    ("--repeats", "-2"),
    ("--max-parallel", "0"),
    ("--max-parallel", "-3"),
    ("--max-parallel", "99999999"),
    ("--max-cost", "-5"),
    ("--max-cost", "nan"),
    ("--max-cost", "inf"),
    ("--max-turns", "0"),
    ("--max-turns", "2.5"),
    ("--max-output-tokens", "0"),
    ("--max-output-tokens", "-1"),
    ("--run-id", "../../x"),
    ("--run-id", ".."),
    ("--run-id", "."),
    ("--run-id", ""),
    ("--run-id", "a/b"),
    ("--run-id", "a b"),
    ("--run-id", "x" * 200),
    ("--run-id", "latest"),
    ("--resume", "../x"),
    ("--retry-errors", "/etc/passwd"),
]


@pytest.mark.parametrize(("flag", "value"), BAD_VALUES, ids=lambda v: str(v)[:20])
def test_a_bad_run_flag_is_one_line_at_parse_time(
    tmp_path: Path,
    isolated_config: Path,
    capsys: pytest.CaptureFixture[str],
    flag: str,
    value: str,
) -> None:
    line = refused(capsys, *RUN, flag, value, "--store", str(tmp_path / "s.sqlite"))
    assert flag in line
    assert not (tmp_path / "s.sqlite").exists()  # refused before anything was opened


@pytest.mark.parametrize(
    "argv",
    [
        ["agent", "hi", "-m", "local", "--timeout", "nan"],
        ["agent", "hi", "-m", "local", "--max-turns", "0"],
        ["agent", "hi", "-m", "local", "--max-cost", "-1"],
        ["report", "../../etc/x"],
        ["report", "a/b", "--json"],
        ["compare", "../a", "latest"],
        ["compare", "latest", ""],
        ["demo", "--repeats", "0"],
        ["demo", "--timeout", "-inf"],
    ],
    ids=lambda a: " ".join(a)[:30],
)
def test_other_commands_refuse_bad_values_in_one_line(
    isolated_config: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    refused(capsys, *argv)


def test_good_values_still_parse() -> None:
    from bakeoff.cli import build_parser

    args = build_parser().parse_args(
        [*RUN, "--timeout", "2.5", "--repeats", "3", "--max-parallel", "4", "--max-cost", "0.5",
         "--max-turns", "7", "--run-id", "20261129-120000-ab12", "--resume", "latest"]
    )  # fmt: skip
    assert (args.timeout, args.repeats, args.max_parallel) == (2.5, 3, 4)
    assert (args.max_cost, args.max_turns, args.run_id) == (0.5, 7, "20261129-120000-ab12")
    assert args.resume == "latest"
    report = build_parser().parse_args(["report", "my.run_2-b"])
    assert report.run_id == "my.run_2-b"


def test_a_report_never_lands_outside_the_store(tmp_path: Path) -> None:
    from bakeoff.errors import UserError
    from bakeoff.evals.verdict.outcomes import BakeoffOutcome
    from bakeoff.report.html import write_run_report

    outcome = BakeoffOutcome.__new__(BakeoffOutcome)
    outcome.run_id = "../../escaped"
    with pytest.raises(UserError, match="run id"):
        write_run_report(outcome, tmp_path / "store" / "reports")
    assert not (tmp_path / "escaped.html").exists()


# --files: a regular folder of bounded size -------------------------------------------------


def test_files_from_proc_is_refused_at_once(
    isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    line = refused(capsys, "run", PROMPT, "--models", "script:x.json", "--files", "/proc")
    assert "--files" in line and "/proc" in line


@pytest.mark.parametrize("target", ["/dev/null", "/no/such/folder", "/etc/hostname"])
def test_files_that_is_not_a_folder_is_refused(
    isolated_config: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    line = refused(capsys, "run", PROMPT, "--models", "script:x.json", "--files", target)
    assert "--files" in line and target in line


def _fixture(tmp_path: Path) -> Path:
    folder = tmp_path / "fixture"
    folder.mkdir()
    (folder / "app.py").write_text("print(1)\n", encoding="utf-8")
    return folder


def test_files_holding_a_fifo_or_device_is_refused_without_hanging(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = _fixture(tmp_path)
    os.mkfifo(folder / "pipe")
    line = refused(capsys, "run", PROMPT, "--models", "script:x.json", "--files", str(folder))
    assert "pipe" in line and "FIFO" in line


def test_files_too_big_or_with_too_many_entries_is_refused(
    tmp_path: Path,
    isolated_config: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    folder = _fixture(tmp_path)
    with (folder / "huge.bin").open("wb") as f:  # sparse: big on paper, nothing on disk
        f.truncate(user_files.MAX_FOLDER_BYTES + 1)
    line = refused(capsys, "run", PROMPT, "--models", "script:x.json", "--files", str(folder))
    assert "--files" in line and "MB" in line
    (folder / "huge.bin").unlink()

    monkeypatch.setattr(user_files, "MAX_FOLDER_ENTRIES", 20)
    for i in range(25):
        (folder / f"f{i}.txt").write_text("x", encoding="utf-8")
    line = refused(capsys, "run", PROMPT, "--models", "script:x.json", "--files", str(folder))
    assert "--files" in line and "20" in line


def test_files_walk_never_follows_a_symlink_out(tmp_path: Path) -> None:
    folder = _fixture(tmp_path)
    (folder / "everything").symlink_to("/")
    (folder / "lib").symlink_to("/usr/lib")
    entries, size = user_files.measure_folder(folder, what="--files")
    assert entries == 3 and size < 1000  # the links counted as links, never walked


# script:PATH and task.toml: regular files of bounded size ----------------------------------


def _run_script(tmp_path: Path, script: str) -> subprocess.CompletedProcess[str]:
    # A subprocess: /dev/zero read whole would eat this machine's memory, not the test's.
    return subprocess.run(
        [sys.executable, "-m", "bakeoff.cli", "run", PROMPT, "--models", script,
         "--store", str(tmp_path / "s.sqlite")],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
        env={**os.environ, "BAKEOFF_CONFIG": str(tmp_path / "none.toml")},
    )  # fmt: skip


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom", "/proc/self/status"])
def test_a_script_that_is_a_device_is_refused(tmp_path: Path, device: str) -> None:
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    out = _run_script(tmp_path, f"script:{device}")
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr
    assert "script file /" in out.stderr  # in the preflight's list of refusals, by its path
    assert "not a regular file" in out.stderr or "pseudo-filesystem" in out.stderr


def test_a_script_that_is_a_fifo_or_too_big_is_refused(tmp_path: Path) -> None:
    (tmp_path / "none.toml").write_text("", encoding="utf-8")
    fifo = tmp_path / "script.json"
    os.mkfifo(fifo)
    out = _run_script(tmp_path, f"script:{fifo}")
    assert out.returncode == 2 and "FIFO" in out.stderr and "Traceback" not in out.stderr

    big = tmp_path / "big.json"
    with big.open("wb") as f:
        f.truncate(user_files.MAX_SCRIPT_BYTES + 1)
    out = _run_script(tmp_path, f"script:{big}")
    assert out.returncode == 2 and "MB limit" in out.stderr and "Traceback" not in out.stderr


def test_a_task_file_that_is_not_a_small_regular_file_is_refused(tmp_path: Path) -> None:
    from bakeoff.errors import ConfigError
    from bakeoff.evals.trial.task import load_task

    fifo_task = tmp_path / "fifo-task"
    fifo_task.mkdir()
    os.mkfifo(fifo_task / "task.toml")
    with pytest.raises(ConfigError, match="FIFO"):
        load_task(fifo_task)

    big_task = tmp_path / "big-task"
    big_task.mkdir()
    with (big_task / "task.toml").open("wb") as f:
        f.truncate(user_files.MAX_TASK_FILE_BYTES + 1)
    with pytest.raises(ConfigError, match="MB"):
        load_task(big_task)

    linked = tmp_path / "dev-task"
    linked.mkdir()
    (linked / "task.toml").symlink_to("/dev/zero")
    with pytest.raises(ConfigError, match="character device"):
        load_task(linked)


def test_a_script_that_is_json_but_no_script_is_refused_by_name(
    tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for body in ({"scripts": 3}, {"scripts": [7]}, [{"text": "x", "tool_calls": 5}], "text"):
        path = tmp_path / "odd.json"
        path.write_text(json.dumps(body), encoding="utf-8")
        err = refused(
            capsys, "run", PROMPT, "--models", f"script:{path}", "--store",
            str(tmp_path / "s.sqlite"), lines=3,
        )  # fmt: skip
        assert f"{path}: " in err
