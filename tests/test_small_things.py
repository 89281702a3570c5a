"""The small things that break trust (issue 24 item 9): model ids and other user strings print
as typed — never as Rich markup or emoji (`ollama:ok:latest` is not 🆗) — the comparison table
fits 80 columns with every number whole, `bakeoff mcp --http` on a port in use fails in one
line before it announces anything, and `agent --max-cost` on a model of unknown price is
refused unless `--allow-unpriced`."""

from __future__ import annotations

import io
import re
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
from report.conftest import PROFILE, make_records, make_summary

from bakeoff.cli import main
from bakeoff.evals.store.summary_records import BakeoffSummary
from bakeoff.report.progress import LiveBoard
from bakeoff.report.side_by_side import print_answers, print_run_changes
from bakeoff.report.terminal import make_console, print_models, print_summary, print_trials
from bakeoff.report.text import fmt_cost, fmt_pct, fmt_seconds

# Each holds an emoji code (:ok:, :free:, :cool:) or markup that Rich would render.
HOSTILE_IDS = [
    "ollama:ok:latest",
    "openrouter:x:free:",
    "openrouter:[bold]evil[/bold]:cool:",
    "openrouter:qwen/qwen3-coder-480b-a35b-instruct:free:",
]
EMOJI = re.compile("[\U0001f000-\U0001ffff\u2600-\u27bf]")


def hostile_profile() -> dict[str, tuple[float, float, float, float | None]]:
    return dict(zip(HOSTILE_IDS, PROFILE.values(), strict=True))


def hostile_summary() -> BakeoffSummary:
    summary = make_summary(hostile_profile())
    rec = summary.recommendation.model_copy(
        update={"best_quality": HOSTILE_IDS[0], "best_value": HOSTILE_IDS[1]}
    )
    ranking = list(summary.ranking)
    # The crowded cells: a capped letter, a withheld one, every outcome mark, a $0 cost.
    ranking[0] = ranking[0].model_copy(update={"partial_credit_grade": "B", "grade": "F"})
    ranking[1] = ranking[1].model_copy(
        update={"withheld": "too few", "timeouts": 2, "errors": 1, "missing": 1, "planned": 6,
                "injections": 1, "same_family_judges": ["j"]}
    )  # fmt: skip
    ranking[2] = ranking[2].model_copy(update={"cost_usd": 123.456, "median_s": 1234.5})
    return summary.model_copy(update={"recommendation": rec, "ranking": ranking})


def rendered(width: int = 200) -> tuple[io.StringIO, object]:
    buf = io.StringIO()
    return buf, make_console(file=buf, width=width, color_system=None)


def assert_as_typed(text: str, names: list[str]) -> None:
    assert not EMOJI.search(text), text
    flat = re.sub(r"\s+", "", text)  # a long name may wrap inside its cell
    for name in names:
        assert re.sub(r"\s+", "", name) in flat, name


def test_the_shared_console_prints_ids_as_typed(capsys: pytest.CaptureFixture[str]) -> None:
    print_summary(hostile_summary())  # the module's own console, as the CLI uses it
    assert_as_typed(capsys.readouterr().out, HOSTILE_IDS)


def test_every_terminal_view_prints_ids_as_typed() -> None:
    records = [
        r.model_copy(update={"category": "ad-hoc", "task": "[red]t[/red]:ok:"})
        for r in make_records(hostile_profile())
    ]
    buf, console = rendered()
    print_trials(records, console)  # type: ignore[arg-type]
    print_answers(records, console)  # type: ignore[arg-type]
    print_summary(hostile_summary(), console)  # type: ignore[arg-type]
    assert_as_typed(buf.getvalue(), [*HOSTILE_IDS, "[red]t[/red]:ok:"])


def test_model_list_prints_aliases_as_typed(capsys: pytest.CaptureFixture[str]) -> None:
    info = SimpleNamespace(
        id="openrouter:x:free:",
        aliases=["[b]cheap[/b]", "ok:ok:"],
        price=None,
        local=False,
        usable=False,
        why_not="set [KEY] :ok:",
    )
    print_models([info])
    assert_as_typed(capsys.readouterr().out, [info.id, *info.aliases, info.why_not])


def test_live_board_and_compare_print_ids_as_typed() -> None:
    board = LiveBoard()
    buf = io.StringIO()
    board.console.file = buf
    board.rows.clear()
    for model in HOSTILE_IDS:
        board.started("task:ok:", model, 0)
    board.console.print(board._render())
    assert_as_typed(buf.getvalue(), HOSTILE_IDS[:3])

    from bakeoff.evals.verdict.run_compare import ModelChange

    changes = [ModelChange(model=m, change="better", in_a=True, in_b=True) for m in HOSTILE_IDS]
    buf2, console = rendered()
    print_run_changes("run:ok:", "run:free:", changes, console)  # type: ignore[arg-type]
    assert_as_typed(buf2.getvalue(), [*HOSTILE_IDS, "run:ok:", "run:free:"])


@pytest.mark.parametrize("profile", ["demo", "hostile"])
def test_the_table_fits_80_columns_with_every_number_whole(profile: str) -> None:
    summary = make_summary() if profile == "demo" else hostile_summary()
    buf, console = rendered(width=80)
    print_summary(summary, console)  # type: ignore[arg-type]
    lines = buf.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 80
    table = lines[: next(i for i, line in enumerate(lines) if line.startswith("second line"))]
    for m in summary.ranking:
        for number in (
            fmt_cost(m.cost_usd),
            fmt_pct(m.quality.value),
            fmt_seconds(m.median_s),
            f"{m.passed}/{m.checked}",
        ):
            assert any(number in line for line in table), (number, "\n".join(table))


def test_http_port_in_use_fails_in_one_line_before_announcing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("BAKEOFF_CONFIG", str(tmp_path / "bakeoff.toml"))
    (tmp_path / "bakeoff.toml").write_text("")
    monkeypatch.chdir(tmp_path)
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        assert main(["mcp", "--http", f"127.0.0.1:{port}", "--no-log"]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and str(port) in lines[0] and "in use" in lines[0]
    assert "server on" not in err and "TOKEN" not in err


UNPRICED = """
[providers.farbox]
kind = "openai_compatible"
base_url = "https://models.example.invalid/v1"
api_key_env = "FARBOX_TEST_KEY"
"""


def test_max_cost_on_an_unpriced_model_is_refused_unless_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bakeoff.toml").write_text(UNPRICED)
    monkeypatch.setenv("BAKEOFF_CONFIG", str(tmp_path / "bakeoff.toml"))
    monkeypatch.delenv("FARBOX_TEST_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    base = ["agent", "x", "-m", "farbox:m", "-w", "w", "--no-log"]
    assert main([*base, "--max-cost", "0.5"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "--max-cost cannot cap farbox:m" in line and "--allow-unpriced" in line
    assert not (tmp_path / "w").exists()  # refused before anything was made
    # Allowed (or no cap): the gate is passed; the run then stops at the missing key.
    for extra in (["--max-cost", "0.5", "--allow-unpriced"], []):
        assert main([*base, *extra]) == 2
        err = capsys.readouterr().err
        assert "FARBOX_TEST_KEY" in err and "--max-cost" not in err
