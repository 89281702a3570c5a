"""The agent's limits on the command line: `bakeoff agent`, `run` and `demo` take their defaults,
and the defaults their --help states, from `AgentConfig`, the one place they are set; a command
that sets its own (demo) says so in its help; and only commands that run agents import the
agent to learn them."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bakeoff.agent import AgentConfig
from bakeoff.cli import build_parser

LIMITS = {
    "max_turns": "max_turns",
    "timeout": "timeout_s",
    "max_output_tokens": "max_output_tokens",
}


@pytest.mark.parametrize("argv", [["agent", "hi", "-m", "local"], ["run", "hi"]])
def test_unset_limits_are_agentconfigs(argv: list[str]) -> None:
    args = build_parser().parse_args(argv)
    for dest, field in LIMITS.items():
        if argv[0] == "run" and dest == "timeout":
            # absent: bakeoff.toml's [defaults] timeout, else AgentConfig's (test_defaults_config)
            assert args.timeout is None
            continue
        assert getattr(args, dest) == AgentConfig.model_fields[field].default


def test_given_limits_win_and_keep_their_type() -> None:
    args = build_parser().parse_args(
        ["agent", "hi", "-m", "local", "--max-turns", "3", "--timeout", "2.5"]
    )
    assert (args.max_turns, args.timeout) == (3, 2.5)
    assert args.max_output_tokens == AgentConfig().max_output_tokens


def test_help_states_the_defaults_that_apply(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["agent", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    defaults = AgentConfig()
    assert f"model requests allowed (default {defaults.max_turns})" in shown
    assert f"wall-clock limit in seconds (default {defaults.timeout_s:g})" in shown
    assert f"output-token cap per request (default {defaults.max_output_tokens})" in shown

    with pytest.raises(SystemExit):
        build_parser().parse_args(["demo", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    demo = build_parser().parse_args(["demo"])
    assert f"wall-clock limit per trial in seconds (default {demo.timeout:g})" in shown
    assert f"output-token cap per request (default {demo.max_output_tokens})" in shown
    assert demo.timeout < defaults.timeout_s  # the demo's own, tighter limits


def test_commands_that_run_no_agent_do_not_import_it() -> None:
    probe = (
        "import sys; from bakeoff.cli import build_parser; "
        "build_parser().parse_args(['runs']); print('bakeoff.agent' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False"
