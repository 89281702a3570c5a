"""`bakeoff tasks from-git` on a real small repository built here with git: a bug fix with its
test and a new module with its tests become valid tasks (they fail on the parent, pass with the
commit); the first commit, a docs change, a tests-only change and a change whose test already
passed are left out, each with its reason; the tasks then run in a bake-off like any other."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from bakeoff.cli import main
from bakeoff.evals.trial.from_git import category_of, instruction, is_test_path
from bakeoff.evals.trial.task import load_tasks

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "HOME": "/nonexistent",
}


def commit(repo: Path, message: str, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    env = {**os.environ, **GIT_ENV}
    subprocess.run(["git", "-C", str(repo), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "-m", message], check=True, env=env)


CALC_BUG = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
CALC_FIXED = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
TEST_SUB = "from calc import sub\n\n\ndef test_sub():\n    assert sub(5, 3) == 2\n"
TEST_ADD = TEST_SUB + "\n\ndef test_add():\n    assert add(2, 3) == 5\n"
TEST_ADD = TEST_ADD.replace("from calc import sub", "from calc import add, sub")
SLUG = (
    "import re\n\n\ndef slugify(text):\n"
    "    return re.sub(r'[^a-z0-9]+', '-', text.lower()).strip('-')\n"
)
TEST_SLUG = "from text import slugify\n\n\ndef test_slugify():\n    assert slugify('Hi, You!') == 'hi-you'\n"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    repo = tmp_path / "proj"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    commit(repo, "Start calc", {"calc.py": CALC_BUG, "tests/test_calc.py": TEST_SUB})
    commit(
        repo,
        "Fix add returning the difference\n\nadd(2, 3) gave -1.\n\n```\nreturn a + b\n```\n\n"
        "Signed-off-by: Ada <ada@example.com>",
        {"calc.py": CALC_FIXED, "tests/test_calc.py": TEST_ADD},
    )
    commit(repo, "Add a slugify helper", {"text.py": SLUG, "tests/test_text.py": TEST_SLUG})
    commit(repo, "Describe the project", {"README.md": "# proj\n"})
    commit(
        repo,
        "Test sub with negatives",
        {"tests/test_neg.py": TEST_SUB.replace("test_sub", "test_neg")},
    )
    commit(
        repo,
        "Tidy calc",
        {
            "calc.py": CALC_FIXED + "\n",
            "tests/test_tidy.py": TEST_SUB.replace("test_sub", "test_tidy"),
        },
    )
    return repo


def test_a_repository_history_becomes_valid_tasks(
    repo: Path, tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tasks"
    assert main(["tasks", "from-git", str(repo), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "2 tasks written" in printed and "4 commits skipped" in printed
    assert "'Describe the project': changes no test file" in printed
    assert "'Test sub with negatives': changes only tests" in printed
    assert "'Start calc': the first commit" in printed
    assert "'Tidy calc': not a fair task" in printed

    tasks = {t.category: t for t in load_tasks([out])}
    fix, feature = tasks["bugfix"], tasks["feature"]
    # The fixture is the parent without the commit's tests; the hidden check is those tests.
    assert (fix.path / "files" / "calc.py").read_text() == CALC_BUG
    assert not (fix.path / "files" / "tests" / "test_calc.py").exists()
    assert (fix.path / "hidden" / "tests" / "test_calc.py").read_text() == TEST_ADD
    assert (fix.path / "solution" / "calc.py").read_text() == CALC_FIXED
    assert fix.check is not None and fix.check.command.endswith("tests/test_calc.py")
    # The message made an instruction: no code block, no trailer; a new file is named.
    assert fix.prompt.startswith("Make this change to the repository: Fix add returning")
    assert "add(2, 3) gave -1." in fix.prompt and "return a + b" not in fix.prompt
    assert "Signed-off-by" not in fix.prompt
    assert "`text.py`" in feature.prompt and not (feature.path / "files" / "text.py").exists()

    assert main(["tasks", "validate", str(out)]) == 0
    assert "2 of 2 tasks valid" in capsys.readouterr().out


def test_the_tasks_run_in_a_bake_off(
    repo: Path, tmp_path: Path, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "tasks"
    main(["tasks", "from-git", str(repo), "HEAD~4", "--out", str(out), "--limit", "1"])
    [task] = load_tasks([out])
    solver = tmp_path / "solver.json"
    solver.write_text(
        json.dumps(
            [
                {"tool_calls": [{"name": "read_file", "arguments": {"path": "calc.py"}}]},
                {
                    "tool_calls": [
                        {
                            "name": "write_file",
                            "arguments": {"path": "calc.py", "content": CALC_FIXED},
                        }
                    ]
                },
                {"text": "Fixed add."},
            ]
        )
    )
    idle = tmp_path / "idle.json"
    idle.write_text(json.dumps([{"text": "Nothing to do."}]))
    capsys.readouterr()
    main(["run", str(task.path), "--models", f"script:{solver},script:{idle}",
          "--store", str(tmp_path / "r.sqlite"), "--json"])  # fmt: skip
    ranking = {r["model"].split(":")[-1]: r for r in json.loads(capsys.readouterr().out)["ranking"]}
    assert ranking["solver"]["pass_rate"] == 1.0 and ranking["idle"]["pass_rate"] == 0.0


def test_what_counts_as_a_test_and_a_category() -> None:
    assert is_test_path("tests/test_x.py") and is_test_path("pkg/x_test.py")
    assert is_test_path("conftest.py") and not is_test_path("pkg/testing.py")
    assert not is_test_path("tests/data.json")
    assert category_of("Fix the parser", ["p.py"]) == "bugfix"
    assert category_of("Rename helpers", ["p.py"]) == "refactor"
    assert category_of("Update docs of x", ["docs/x.py"]) == "docs"
    assert instruction("Add x.", "", ["x.py"]).count("`x.py`") == 1


def test_a_folder_that_is_not_a_repository_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tasks", "from-git", str(tmp_path), "--out", str(tmp_path / "t")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "is not a git repository" in err
