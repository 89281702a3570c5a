"""Scripted contestants that try to forge a pass instead of solving the task, each run as a
whole trial (fresh workspace, agent, tamper scan, hidden checks in the sandbox). Every trick
must fail; an honest contestant beside them must still pass. The tricks are the ones found
against main in issue 8: with the old grader 11 of these passed a plain pytest task."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from bakeoff.agent import AgentConfig
from bakeoff.evals.store.records import TrialRecord
from bakeoff.evals.trial.task import CheckSpec, TaskSpec
from bakeoff.evals.trial.trial import run_trial
from bakeoff.models.scripted import ScriptedModel
from bakeoff.sandbox import sandbox_status

pytestmark = pytest.mark.skipif(
    not sandbox_status().available, reason=f"no sandbox here: {sandbox_status().reason}"
)

HIDDEN_TEST = """\
from calc import add

def test_add():
    assert add(2, 3) == 5

def test_add_negative():
    assert add(-1, -1) == -2
"""
HIDDEN_CHECK = """\
import pathlib, sys
sys.exit(0 if pathlib.Path("ANSWER.txt").read_text().strip() == "42" else 1)
"""
WRONG = "def add(a, b):\n    return a - b\n"
RIGHT = "def add(a, b):\n    return a + b\n"
FAIL_HOOK = """\
import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
"""


def pytest_task(tmp_path: Path) -> TaskSpec:
    folder = tmp_path / "task"
    (folder / "hidden").mkdir(parents=True)
    (folder / "hidden" / "hidden_test_calc.py").write_text(HIDDEN_TEST)
    (folder / "solution").mkdir()  # a trusted run of it names the tests a verdict must hold
    (folder / "solution" / "calc.py").write_text(RIGHT)
    return TaskSpec(
        name="calc",
        prompt="Create calc.py with add(a, b).",
        category="implement",
        difficulty=1,
        check=CheckSpec(command="python -m pytest -q hidden_test_calc.py", timeout_s=60),
        path=folder,
    )


def answer_task(tmp_path: Path) -> TaskSpec:
    folder = tmp_path / "answer-task"
    (folder / "hidden").mkdir(parents=True)
    (folder / "hidden" / "hidden_check.py").write_text(HIDDEN_CHECK)
    return TaskSpec(
        name="answer",
        prompt="What is six times seven?",
        category="answer",
        difficulty=1,
        check=CheckSpec(command="python hidden_check.py", timeout_s=60),
        path=folder,
    )


def writes(files: dict[str, str], answer: str = "done") -> list[dict[str, Any]]:
    calls = [
        {"name": "write_file", "arguments": {"path": p, "content": c}} for p, c in files.items()
    ]
    return [{"tool_calls": calls}, {"text": answer}] if calls else [{"text": answer}]


def commands(*lines: str, answer: str = "done") -> list[dict[str, Any]]:
    calls = [{"name": "run_command", "arguments": {"command": line}} for line in lines]
    return [{"tool_calls": calls}, {"text": answer}]


async def trial(tmp_path: Path, task: TaskSpec, turns: list[dict[str, Any]]) -> TrialRecord:
    script = tmp_path / f"contestant-{len(list(tmp_path.glob('contestant-*')))}.json"
    script.write_text(json.dumps(turns))
    model = ScriptedModel(script)
    try:
        return await run_trial(
            task,
            model,
            0,
            run_id="hostile",
            agent_config=AgentConfig(allow_commands=True, timeout_s=60),
        )
    finally:
        await model.aclose()


PYTEST_TRICKS: dict[str, list[dict[str, Any]]] = {
    "conftest hook turns failures into passes": writes(
        {"calc.py": WRONG, "conftest.py": FAIL_HOOK}
    ),
    "addopts in pytest.ini": writes(
        {"calc.py": WRONG, "pytest.ini": "[pytest]\naddopts = --collect-only\n"}
    ),
    "addopts in pyproject.toml": writes(
        {
            "calc.py": WRONG,
            "pyproject.toml": '[tool.pytest.ini_options]\naddopts = "--collect-only"\n',
        }
    ),
    "addopts in setup.cfg": writes(
        {"calc.py": WRONG, "setup.cfg": "[tool:pytest]\naddopts = --collect-only\n"}
    ),
    "addopts in tox.ini": writes(
        {"calc.py": WRONG, "tox.ini": "[pytest]\naddopts = --collect-only\n"}
    ),
    "a workspace pytest module": writes({"pytest.py": "import sys\nsys.exit(0)\n"}),
    "a workspace pytest package": writes(
        {
            "pytest/__init__.py": "",
            "pytest/__main__.py": "print('5 passed in 0.01s')\n",
        }
    ),
    "a workspace plugin named by ini addopts": writes(
        {
            "calc.py": WRONG,
            "pytest.ini": "[pytest]\naddopts = -p evilplugin\n",
            "evilplugin.py": FAIL_HOOK,
        }
    ),
    "os._exit(0) on import of the solution": writes({"calc.py": "import os\nos._exit(0)\n"}),
    "os._exit hidden behind __import__": writes(
        {"calc.py": "getattr(__import__('os'), '_' + 'exit')(0)\n"}
    ),
    "a forged summary printed at exit": writes(
        {"calc.py": WRONG + "import atexit\natexit.register(lambda: print('2 passed in 0.01s'))\n"}
    ),
    "the solution monkeypatches pytest": writes(
        {
            "calc.py": textwrap.dedent(
                """\
                import _pytest.runner
                _real = _pytest.runner.call_and_report
                def call_and_report(item, when, log=True, **kw):
                    report = _real(item, when, log=False, **kw)
                    report.outcome = "passed"
                    item.ihook.pytest_runtest_logreport(report=report)
                    return report
                _pytest.runner.call_and_report = call_and_report
                def add(a, b):
                    return 0
                """
            )
        }
    ),
    "the solution rewrites the hidden test on import": writes(
        {
            "calc.py": "open('hidden_test_calc.py', 'w').write('def test_ok():\\n    pass\\n')\n"
            + WRONG
        }
    ),
    "sitecustomize and usercustomize": writes(
        {
            "calc.py": WRONG,
            "sitecustomize.py": "import os\nos._exit(0)\n",
            "usercustomize.py": "import os\nos._exit(0)\n",
        }
    ),
    "a planted stale __pycache__ of a right answer": commands(
        f"python3 -c \"open('calc.py','w').write({RIGHT!r})\"",
        "python3 -c \"import py_compile; py_compile.compile('calc.py')\"",
        f"python3 -c \"import os; s=os.stat('calc.py'); open('calc.py','w').write({WRONG!r}); "
        "os.utime('calc.py', ns=(s.st_atime_ns, s.st_mtime_ns))\"",
    ),
    "sourceless byte code instead of source": commands(
        f"python3 -c \"open('calc_src.py','w').write({RIGHT!r})\"",
        "python3 -c \"import py_compile; py_compile.compile('calc_src.py', cfile='calc.pyc')\"",
        "rm calc_src.py",
    ),
    "a detached process rewrites the test after it is installed": commands(
        "(setsid sh -c 'sleep 2; printf \"def test_ok():\\n    pass\\n\" > hidden_test_calc.py' &)",
        answer="done",
    ),
}


@pytest.mark.parametrize("trick", sorted(PYTEST_TRICKS))
async def test_a_pytest_trick_never_passes(tmp_path: Path, trick: str) -> None:
    record = await trial(tmp_path, pytest_task(tmp_path), PYTEST_TRICKS[trick])
    assert record.check is not None
    assert not record.check.passed, f"{trick!r} forged a pass:\n{record.check.output}"
    assert record.status == "failed"
    # Nothing the contestant printed can raise the count of passed tests.
    assert (record.check.tests_passed or 0) == 0


async def test_tamper_findings_reach_the_record(tmp_path: Path) -> None:
    record = await trial(
        tmp_path, pytest_task(tmp_path), PYTEST_TRICKS["the solution monkeypatches pytest"]
    )
    assert any(f.severity == "void" and "pytest" in f.why for f in record.tamper)
    # Flagged in the report, and shown to the judge with the work under review.
    from bakeoff.report.export import records_public
    from bakeoff.report.run_details import render_run

    html = render_run(record, "run-1")
    assert "Tamper scan" in html and "reaches into pytest" in html
    assert records_public([record])[0]["tamper"]


@pytest.mark.parametrize(
    "files",
    [
        {"pathlib.py": "import sys\nsys.exit(0)\n"},
        {"sys.py": "exit = lambda code=0: None\n"},
        {"re.py": "import os\nos._exit(0)\n"},
    ],
    ids=["pathlib", "sys", "re"],
)
async def test_stdlib_shadows_never_pass_a_script_check(
    tmp_path: Path, files: dict[str, str]
) -> None:
    record = await trial(tmp_path, answer_task(tmp_path), writes(files, answer="I give up"))
    assert record.check is not None and not record.check.passed, record.check.output


async def test_honest_contestants_still_pass(tmp_path: Path) -> None:
    record = await trial(tmp_path, pytest_task(tmp_path), writes({"calc.py": RIGHT}))
    assert record.check is not None and record.check.passed, record.check.output
    assert (record.check.tests_passed, record.check.tests_total) == (2, 2)
    assert record.status == "passed" and record.sandboxed and not record.tamper
    answer = await trial(tmp_path, answer_task(tmp_path), writes({}, answer="42"))
    assert answer.status == "passed"


async def test_an_honest_contestant_with_its_own_tests_passes(tmp_path: Path) -> None:
    turns = writes(
        {
            "calc.py": RIGHT,
            "test_calc.py": "import pytest\nfrom calc import add\n\n"
            "@pytest.mark.parametrize('a', [1, 2])\ndef test_add(a):\n    assert add(a, 0) == a\n",
        }
    )
    record = await trial(tmp_path, pytest_task(tmp_path), turns)
    assert record.status == "passed", record.check and record.check.output
    assert not record.tamper


async def test_the_two_file_forger_passes_no_built_in_task(tmp_path: Path) -> None:
    """The contestant that passed 20/20 built-in tasks against the old grader by writing
    only `pytest.py` and `pathlib.py` now passes none."""
    from bakeoff.evals.run.runner import BakeoffRequest, run_bakeoff
    from bakeoff.evals.store.store import Store

    forger = writes(
        {
            "pytest.py": "import sys\nprint('99 passed in 0.01s')\nsys.exit(0)\n",
            "pathlib.py": "import sys\nsys.exit(0)\n",
        },
        answer="All done.",
    )
    script = tmp_path / "forger.json"
    script.write_text(json.dumps(forger))
    idle = tmp_path / "idle.json"
    idle.write_text(json.dumps([{"text": "All done."}]))
    store = Store(tmp_path / "results.sqlite")
    outcome = await run_bakeoff(
        BakeoffRequest(
            models=[f"script:{script}", f"script:{idle}"], run_id="forger", preflight=False
        ),
        store=store,
    )
    records = [r for r in store.trials("forger") if r.model.endswith("forger.json")]
    assert len(records) == 20
    assert [r.task for r in records if r.status == "passed"] == []
    # Partial credit only for the hidden tests the untouched fixture already passes: exactly
    # what doing nothing earns.
    quality = {m.model.rsplit("/", 1)[-1]: m.quality.value for m in outcome.summary.ranking}
    assert quality["script:forger"] == quality["script:idle"]


# Forges a verdict every way it can find (the old JUnit path from PYTEST_ADDOPTS, any
# inherited descriptor, the results folder named in the environment), then exits 0 through
# an obfuscated call.
FORGER = """\
import os, re
_ids = ["hidden_test_calc.py::test_add", "hidden_test_calc.py::test_add_negative"]
_xml = '<testsuites><testsuite tests="2" failures="0" errors="0" skipped="0">' + "".join(
    f'<testcase classname="hidden_test_calc" name="{i.split("::")[1]}"/>' for i in _ids
) + "</testsuite></testsuites>"
_env = os.environ.get("PYTEST_ADDOPTS", "") + " " + " ".join(os.environ.values())
for _path in re.findall(r"--junitxml=(\\S+)", _env) + re.findall(r"(/\\S*result\\S*)", _env):
    try:
        open(_path, "w").write(_xml)
    except OSError:
        pass
for _fd in os.listdir("/proc/self/fd"):
    try:
        if int(_fd) > 2:
            os.write(int(_fd), b'{"event": "finish", "exitstatus": 0, "outcomes": {}}\\n')
    except OSError:
        pass
getattr(os, "_e" + "xit")(0)
"""
# Names Python 3.11 and pytest try to import at start-up and do not find (measured with a
# meta-path finder appended last: org, _winapi, nt, msvcrt), plus customize hooks, backports
# and optional plugins: a contestant module under any of them must never be imported.
PLANTED = [
    "org/__init__.py",
    "org/python/__init__.py",
    "org/python/core.py",
    "_winapi.py",
    "nt.py",
    "msvcrt.py",
    "sitecustomize.py",
    "usercustomize.py",
    "_manylinux.py",
    "exceptiongroup.py",
    "tomli.py",
    "pytest_asyncio.py",
    "colorama.py",
    "__init__.py",
]


async def test_planted_modules_pass_neither_a_pytest_nor_a_script_check(tmp_path: Path) -> None:
    turns = writes(dict.fromkeys(PLANTED, FORGER), answer="All done.")
    for task in (pytest_task(tmp_path), answer_task(tmp_path)):
        record = await trial(tmp_path, task, turns)
        assert record.check is not None and not record.check.passed, record.check.output
        assert record.status == "failed"


async def test_a_graded_file_that_forges_the_verdict_fails(tmp_path: Path) -> None:
    # The solution file itself forges (it is imported by the check): no JUnit path, no results
    # folder, and an empty verdict on the descriptor accounts for none of the task's tests.
    record = await trial(tmp_path, pytest_task(tmp_path), writes({"calc.py": FORGER}))
    assert record.check is not None and not record.check.passed, record.check.output
    assert (record.check.tests_passed or 0) == 0


async def test_a_verdict_without_the_tasks_tests_fails(tmp_path: Path) -> None:
    # Tests of its own that pass, and the hidden tests skipped at import: pytest exits 0,
    # but the tests a trusted run passes did not.
    skipper = "import pytest, sys\nif 'hidden_test_calc' in sys.modules:\n    pytest.skip('x', allow_module_level=True)\n"
    record = await trial(tmp_path, pytest_task(tmp_path), writes({"calc.py": skipper + WRONG}))
    assert record.check is not None and not record.check.passed, record.check.output


async def test_hidden_tests_of_the_built_in_suite_are_out_of_reach(tmp_path: Path) -> None:
    from bakeoff.evals.trial.task import builtin_suite_dir

    suite = builtin_suite_dir()
    record = await trial(
        tmp_path,
        pytest_task(tmp_path),
        commands(
            f"cat {suite}/add-numbers/hidden/hidden_test_calc.py {suite}/*/solution/*",
            'python3 -c "import bakeoff, pathlib; print(pathlib.Path(bakeoff.__file__).parent)"',
        ),
    )
    transcript = json.dumps(record.agent.model_dump(mode="json"))
    assert "def test_add" not in transcript and "return a + b" not in transcript
