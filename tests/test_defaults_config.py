"""Standing config as a user meets it: a `[defaults]` table in bakeoff.toml that `bakeoff run`
uses for every flag it is not given (a flag always wins), `bakeoff config` saying where each
setting came from, and `bakeoff init config` writing a commented file that loads. Real runs of a
scripted model, a real SQLite store."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest

from bakeoff.agent import AgentConfig
from bakeoff.cli import main
from bakeoff.cli_config import EXAMPLES, config_template
from bakeoff.config import DefaultsConfig
from bakeoff.evals.store.store import Store


def _task(root: Path) -> Path:
    folder = root / "hello"
    (folder / "files").mkdir(parents=True)
    (folder / "task.toml").write_text(
        'name = "hello"\nprompt = "Write hello.txt saying hi."\ncategory = "files"\n'
        "difficulty = 1\n[check]\n"
        "command = \"python -c \\\"import pathlib; assert pathlib.Path('hello.txt').read_text()"
        " == 'hi'\\\"\"\n"
    )
    return folder


def _script(root: Path, name: str, content: str) -> Path:
    path = root / f"{name}.json"
    call = {"name": "write_file", "arguments": {"path": "hello.txt", "content": content}}
    path.write_text(json.dumps([{"tool_calls": [call]}, {"text": "done"}]))
    return path


@pytest.fixture
def project(isolated_config: Path) -> Path:
    root = isolated_config.parent
    _task(root)
    _script(root, "good", "hi")
    _script(root, "bad", "bye")
    return root


def _run(root: Path, *flags: str) -> tuple[int, str]:
    run_id = f"r{len(list(root.glob('*.marker')))}"
    (root / f"{run_id}.marker").touch()
    code = main(["run", str(root / "hello"), "--store", str(root / "db.sqlite"), "--run-id", run_id,
                 "--json", *flags])  # fmt: skip
    return code, run_id


def _spec(root: Path, run_id: str):  # type: ignore[no-untyped-def]
    store = Store(root / "db.sqlite")
    try:
        return store.get_spec(run_id)
    finally:
        store.close()


def test_a_run_with_no_flags_takes_everything_from_defaults(project: Path) -> None:
    (project / "bakeoff.toml").write_text(
        '[defaults]\nmodels = ["script:good.json", "script:bad.json"]\nrepeats = 2\n'
        'timeout = 45\nmax_parallel = 1\nmax_cost = 3.5\nlabels = { team = "infra" }\n'
    )
    code, run_id = _run(project)
    assert code == 0
    spec = _spec(project, run_id)
    assert [Path(m.split(":", 1)[1]).name for m in spec.models] == ["good.json", "bad.json"]
    assert spec.repeats == 2 and spec.agent.timeout_s == 45 and spec.max_cost_usd == 3.5
    assert spec.tags == {"team": "infra"}
    assert len(Store(project / "db.sqlite").trials(run_id)) == 4


def test_flags_win_and_labels_add_to_the_files(project: Path) -> None:
    (project / "bakeoff.toml").write_text(
        '[defaults]\nmodels = ["script:bad.json"]\nrepeats = 3\ntimeout = 45\n'
        'judges = ["script:bad.json"]\nlabels = { team = "infra", ci = "no" }\n'
    )
    code, run_id = _run(
        project, "--models", "script:good.json", "--repeats", "1", "--timeout", "30",
        "--judge", "", "--label", "ci=yes", "--label", "pr=12",
    )  # fmt: skip
    assert code == 0
    spec = _spec(project, run_id)
    assert [Path(m.split(":", 1)[1]).name for m in spec.models] == ["good.json"]
    assert (spec.repeats, spec.agent.timeout_s, spec.judges) == (1, 30, [])
    assert spec.tags == {"team": "infra", "ci": "yes", "pr": "12"}


def test_an_empty_models_flag_runs_the_defaults(project: Path) -> None:
    (project / "bakeoff.toml").write_text('[defaults]\nmodels = ["script:good.json"]\n')
    code, run_id = _run(project, "--models", " , ")
    assert code == 0
    assert [Path(m).name for m in _spec(project, run_id).models] == ["good.json"]
    assert _spec(project, run_id).agent.timeout_s == AgentConfig().timeout_s  # built in


def test_no_models_anywhere_says_where_to_set_them(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _ = _run(project)
    err = capsys.readouterr().err
    assert code == 2 and "--models is required" in err and "[defaults]" in err
    assert len(err.strip().splitlines()) == 1


def test_the_flag_turns_a_standing_allow_commands_off(project: Path) -> None:
    (project / "bakeoff.toml").write_text(
        '[defaults]\nmodels = ["script:good.json"]\nallow_commands = true\n'
    )
    code, run_id = _run(project, "--no-allow-commands")
    assert code == 0 and _spec(project, run_id).agent.allow_commands is False


@pytest.mark.parametrize(
    ("table", "field"),
    [
        ("repeats = 0", "defaults.repeats"),
        ('repeats = "3"', "defaults.repeats"),
        ("timeout = -1", "defaults.timeout"),
        ("max_cost = nan", "defaults.max_cost"),
        ("max_parallel = 99999", "defaults.max_parallel"),
        ('models = "haiku"', "defaults.models"),
        ("models = []", "defaults.models"),
        ('model = ["haiku"]', "defaults.model"),  # a typo is an error, not a silent default
        ('labels = { "a b" = "x" }', "defaults.labels"),
        ('labels = { k = "two\\nlines" }', "defaults.labels"),
        ("allow_commands = 1", "defaults.allow_commands"),
    ],
)
def test_a_bad_value_in_the_file_is_one_line_naming_file_and_field(
    project: Path, capsys: pytest.CaptureFixture[str], table: str, field: str
) -> None:
    (project / "bakeoff.toml").write_text(f"[defaults]\n{table}\n")
    for argv in (["config"], ["run", str(project / "hello"), "--models", "script:good.json"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert str(project / "bakeoff.toml") in err and f"{field}:" in err


def test_config_says_where_each_setting_came_from(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = project / "bakeoff.toml"
    path.write_text('[defaults]\nmodels = ["haiku", "local"]\nrepeats = 4\nlabels = { t = "x" }\n')
    assert main(["config", "--repeats", "2", "--label", "ci=1", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["config_file"] == str(path)
    settings = {name: (s["value"], s["source"]) for name, s in shown["settings"].items()}
    assert settings == {
        "models": (["haiku", "local"], "config"),
        "judges": ([], "default"),
        "repeats": (2, "flag"),
        "timeout": (AgentConfig().timeout_s, "default"),
        "max_cost": (None, "default"),
        "max_parallel": (32, "default"),
        "labels": ({"t": "x", "ci": "1"}, "config+flag"),
        "allow_commands": (False, "default"),
    }
    assert set(settings) == set(DefaultsConfig.model_fields)  # every setting is shown

    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert f"config file: {path}" in out
    assert re.search(rf"models\s+haiku, local\s+{re.escape(str(path))}$", out, re.M)
    assert re.search(r"repeats\s+4\s+\S*bakeoff.toml$", out, re.M)
    assert re.search(r"max_parallel\s+32\s+default$", out, re.M)


def test_init_config_writes_a_commented_file_and_keeps_an_existing_one(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "bakeoff.toml").unlink()
    assert main(["init", "config", "--models", "haiku,local"]) == 0
    written = (project / "bakeoff.toml").read_text()
    assert tomllib.loads(written) == {"defaults": {"models": ["haiku", "local"]}}
    capsys.readouterr()
    assert main(["config", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["settings"]["models"]["source"] == "config"

    (project / "bakeoff.toml").write_text("# mine\n")
    assert main(["init", "config"]) == 2
    assert "--force" in capsys.readouterr().err
    assert (project / "bakeoff.toml").read_text() == "# mine\n"
    assert main(["init", "config", "--force"]) == 0
    assert "[defaults]" in (project / "bakeoff.toml").read_text()


def test_every_example_in_the_written_file_is_valid() -> None:
    """Uncommenting each `# key = value` line of [defaults] gives a file that loads and sets
    every field: the template cannot drift from `DefaultsConfig`."""
    text = config_template()
    table = text.split("[defaults]", 1)[1].split("# [providers", 1)[0]
    examples = "\n".join(line[2:] for line in table.splitlines() if re.match(r"# [a-z_]+ = ", line))
    parsed = DefaultsConfig.model_validate(tomllib.loads(examples))
    assert parsed.model_fields_set == set(DefaultsConfig.model_fields) == set(EXAMPLES)
    for name, field in DefaultsConfig.model_fields.items():
        assert field.description and field.description.splitlines()[0] in text, name


def test_init_config_refuses_a_model_id_it_cannot_write(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "bakeoff.toml").unlink()
    assert main(["init", "config", "--models", "ok,bad\udc80id"]) == 2
    assert "not a model id" in capsys.readouterr().err
    assert not (project / "bakeoff.toml").exists()
    assert main(["init", "config", "--models", 'we"ird\\name']) == 0  # escaped, still loads
    assert tomllib.loads((project / "bakeoff.toml").read_text())["defaults"]["models"] == [
        'we"ird\\name'
    ]


def test_run_help_states_the_defaults_truthfully(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("run", "demo"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        shown = " ".join(capsys.readouterr().out.split())
        assert "runs per task and model (default: [defaults] repeats, else 1)" in shown
        assert "trials in flight at most (default: [defaults] max_parallel, else 32)" in shown
        limit = "wall-clock limit per trial in seconds"
        if command == "run":
            timeout = f"{AgentConfig().timeout_s:g}"
            assert f"{limit} (default: [defaults] in bakeoff.toml, else {timeout})" in shown
        else:
            assert f"{limit} (default 60)" in shown  # the demo keeps its own limits
