"""How a pytest check's verdict leaves the sandbox: not as a file in a folder the contestant's
processes could find and write, but through a descriptor the check inherits, open on a file
outside the sandbox (no path to it exists inside). bakeoff's own plugin (`PLUGIN_SOURCE`,
loaded with `-p` before any test or contestant module is imported) takes the descriptor's
number out of the environment, makes it non-inheritable so no process the check starts gets it,
and writes one JSON line when pytest starts, one with the ids it collected, and one with every
test's outcome when the session finishes. Code in the same process could still find the
descriptor, as it could patch pytest itself: that is what the tamper scan looks for, and why a
verdict must also name exactly the tests a trusted run of the task's solution passes
(`judge_verdict`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

PLUGIN_NAME = "_bakeoff_verdict"
FD_VARIABLE = "BAKEOFF_VERDICT_FD"
MAX_VERDICT_BYTES = 16 * 1024**2
Outcome = Literal["passed", "failed", "skipped"]

PLUGIN_SOURCE = f'''"""bakeoff's verdict plugin: outcomes to an inherited descriptor, never to a path."""
import json
import os

_raw = os.environ.pop("{FD_VARIABLE}", None)
_fd = int(_raw) if _raw and _raw.isdigit() else None
if _fd is not None:
    os.set_inheritable(_fd, False)
_outcomes = {{}}


def _emit(record):
    if _fd is None:
        return
    data = (json.dumps(record) + "\\n").encode()
    while data:
        data = data[os.write(_fd, data):]


def pytest_configure(config):
    _emit({{"event": "start"}})


def pytest_collection_finish(session):
    _emit({{"event": "collected", "ids": [item.nodeid for item in session.items]}})


def pytest_collectreport(report):
    if report.failed:
        _outcomes[report.nodeid or "<collection>"] = "failed"


def pytest_runtest_logreport(report):
    now = _outcomes.get(report.nodeid)
    if report.failed:
        _outcomes[report.nodeid] = "failed"
    elif report.skipped and now is None:
        _outcomes[report.nodeid] = "skipped"
    elif report.when == "call" and report.passed and now is None:
        _outcomes[report.nodeid] = "passed"


def pytest_sessionfinish(session, exitstatus):
    _emit({{"event": "finish", "exitstatus": int(exitstatus), "outcomes": _outcomes}})
'''


@dataclass
class PytestVerdict:
    """What the plugin reported over one check run (every pytest session in it)."""

    sessions: int = 0
    """pytest sessions that started."""
    finished: int = 0
    """Sessions that reached their end and reported outcomes."""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    """Each test id (and each collection error) with its outcome, over all sessions."""
    problem: str | None = None
    """The channel holds what the plugin never writes."""

    @property
    def passed_ids(self) -> frozenset[str]:
        return frozenset(i for i, o in self.outcomes.items() if o == "passed")

    @property
    def counts(self) -> tuple[int, int]:
        """(passed, passed + failed); skipped tests count in neither."""
        ran = [o for o in self.outcomes.values() if o != "skipped"]
        return ran.count("passed"), len(ran)


def read_verdict(path: Path) -> PytestVerdict:
    """Parse the verdict file; anything malformed is a `problem`, never an exception."""
    verdict = PytestVerdict()
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_VERDICT_BYTES + 1)
    except OSError:
        return verdict
    if len(data) > MAX_VERDICT_BYTES:
        verdict.problem = "the verdict is over 16 MiB"
        return verdict
    for line in data.splitlines():
        try:
            record = json.loads(line)
            event = record["event"]
            if event == "start":
                verdict.sessions += 1
            elif event == "finish":
                verdict.finished += 1
                for test_id, outcome in record["outcomes"].items():
                    if outcome not in ("passed", "failed", "skipped"):
                        raise ValueError(outcome)
                    if verdict.outcomes.get(test_id) != "failed":
                        verdict.outcomes[str(test_id)] = outcome
            elif event != "collected":
                raise ValueError(event)
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            verdict.problem = f"the verdict holds a line its plugin never writes: {line[:80]!r}"
            return verdict
    return verdict


def judge_verdict(
    verdict: PytestVerdict, expected: frozenset[str] | None, folder: Path
) -> str | None:
    """Why a pytest check that exited 0 still fails, or None when its verdict holds: every
    session finished, no test failed, at least one passed, every id names a file of the check
    folder, and every id in `expected` (the trusted run's) passed."""
    if verdict.problem:
        return verdict.problem
    if verdict.sessions == 0 or verdict.finished < verdict.sessions:
        return (
            "pytest reported no finished session; a test run that ends early "
            "(os._exit, a crash) does not pass"
        )
    passed, total = verdict.counts
    if total == 0 or passed < total:
        return f"pytest's verdict records {passed}/{total} passed"
    unknown = sorted(
        test_id
        for test_id in verdict.outcomes
        if not (folder / test_id.split("::", 1)[0]).is_file()
    )
    if unknown:
        return f"pytest's verdict names tests of no file in the check: {unknown[:3]}"
    missing = sorted((expected or frozenset()) - verdict.passed_ids)
    if missing:
        return (
            f"{len(missing)} of the task's {len(expected or ())} tests did not pass: {missing[:3]}"
        )
    return None
