"""How a pytest check's verdict leaves the sandbox: not as a file in a folder the contestant's
processes could find and write, but through a descriptor the check inherits, open on a file
outside the sandbox (no path to it exists inside). bakeoff's own plugin (`PLUGIN_SOURCE`,
loaded with `-p` before any test or contestant module is imported) takes the descriptor's
number out of the environment, makes it non-inheritable so no process the check starts gets it,
and writes one line when pytest starts, one with the ids it collected, and one with every
test's outcome when the session finishes.

Code in the same process can find that descriptor (`/proc/self/fd`) and write to it, or reopen
the file through it; it can also import the plugin by name and call its hooks. So every line is
sealed: an HMAC chained over the writer's previous line, under a key that reaches the plugin
through a pipe it drains and closes at load, before any contestant module is imported (never
through the environment, which `/proc/self/environ` keeps). The key lives only in the plugin's
closures, and the plugin takes itself out of `sys.modules` once pytest has it, so
`import _bakeoff_verdict` from a test or a solution gets a fresh copy with no key and no
descriptor, whose hooks write nothing.
`read_verdict` refuses a channel with any line out of its chain (forged, replayed, reordered,
truncated by reopening the file) and `judge_verdict` wants each session's three lines in order.
Reaching the key in memory needs what the tamper scan voids (`gc`, frames, `sys.modules`); and
a verdict must also name every test a trusted run of the task's solution passes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

PLUGIN_NAME = "_bakeoff_verdict"
FD_VARIABLE = "BAKEOFF_VERDICT_FD"
KEY_FD_VARIABLE = "BAKEOFF_VERDICT_KEY_FD"
"""The descriptor of a pipe holding the key that seals the verdict's lines (read once, closed)."""
KEY_BYTES = 32
MAX_VERDICT_BYTES = 16 * 1024**2
Outcome = Literal["passed", "failed", "skipped"]

PLUGIN_SOURCE = f'''"""bakeoff's verdict plugin: sealed outcomes to an inherited descriptor, never to a path."""
import hashlib
import hmac
import json
import os
import sys


def _channel():
    # Every secret lives in these closures; nothing reachable by attribute holds it.
    raw = os.environ.pop("{FD_VARIABLE}", None)
    raw_key = os.environ.pop("{KEY_FD_VARIABLE}", None)
    fd = int(raw) if raw and raw.isdigit() else None
    key = b""
    if raw_key and raw_key.isdigit():
        try:
            key = os.read(int(raw_key), {KEY_BYTES})
        finally:
            os.close(int(raw_key))
    if fd is not None:
        os.set_inheritable(fd, False)
    if fd is None or len(key) != {KEY_BYTES}:
        return _hooks(lambda record: None, {{}})
    writer = os.urandom(8).hex()
    chain = [""]
    outcomes = {{}}

    def emit(record):
        body = json.dumps({{**record, "writer": writer}}, sort_keys=True)
        mac = hmac.new(key, (chain[0] + "\\n" + body).encode(), hashlib.sha256).hexdigest()
        chain[0] = mac
        data = (mac + " " + body + "\\n").encode()
        while data:
            data = data[os.write(fd, data):]

    return _hooks(emit, outcomes)


def _hooks(emit, outcomes):
    def pytest_configure(config):
        # Registered by now: a later `import {PLUGIN_NAME}` makes a fresh module, with no key,
        # no descriptor and silent hooks.
        sys.modules.pop("{PLUGIN_NAME}", None)
        emit({{"event": "start"}})

    def pytest_collection_finish(session):
        emit({{"event": "collected", "ids": [item.nodeid for item in session.items]}})

    def pytest_collectreport(report):
        if report.failed:
            outcomes[report.nodeid or "<collection>"] = "failed"

    def pytest_runtest_logreport(report):
        now = outcomes.get(report.nodeid)
        if report.failed:
            outcomes[report.nodeid] = "failed"
        elif report.skipped and now is None:
            outcomes[report.nodeid] = "skipped"
        elif report.when == "call" and report.passed and now is None:
            outcomes[report.nodeid] = "passed"

    def pytest_sessionfinish(session, exitstatus):
        emit({{"event": "finish", "exitstatus": int(exitstatus), "outcomes": dict(outcomes)}})

    return (pytest_configure, pytest_collection_finish, pytest_collectreport,
            pytest_runtest_logreport, pytest_sessionfinish)


(pytest_configure, pytest_collection_finish, pytest_collectreport, pytest_runtest_logreport,
 pytest_sessionfinish) = _channel()
'''


@dataclass
class PytestVerdict:
    """What the plugin reported over one check run (every pytest session in it)."""

    sessions: int = 0
    """pytest sessions that started."""
    collected: int = 0
    """Sessions that finished collecting, in order after their start."""
    finished: int = 0
    """Sessions that reached their end and reported outcomes."""
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    """Each test id (and each collection error) with its outcome, over all sessions."""
    problem: str | None = None
    """The channel holds what the plugin never writes: a line out of its sealed chain, an
    event out of order, malformed JSON."""

    @property
    def passed_ids(self) -> frozenset[str]:
        return frozenset(i for i, o in self.outcomes.items() if o == "passed")

    @property
    def counts(self) -> tuple[int, int]:
        """(passed, passed + failed); skipped tests count in neither."""
        ran = [o for o in self.outcomes.values() if o != "skipped"]
        return ran.count("passed"), len(ran)


def seal(key: bytes, previous: str, body: str) -> str:
    """The MAC of one verdict line, chained over its writer's previous MAC ("" for the first),
    as the plugin computes it."""
    return hmac.new(key, f"{previous}\n{body}".encode(), hashlib.sha256).hexdigest()


# Each writer's events, in order: what may follow the last one it wrote (None: nothing yet).
_NEXT: dict[str | None, frozenset[str]] = {
    None: frozenset({"start"}),
    "start": frozenset({"collected", "finish"}),
    "collected": frozenset({"finish"}),
    "finish": frozenset(),
}


def read_verdict(path: Path, key: bytes) -> PytestVerdict:
    """Parse the verdict file, every line checked against `key` and its writer's chain;
    anything else is a `problem`, never an exception."""
    verdict = PytestVerdict()
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_VERDICT_BYTES + 1)
    except OSError:
        return verdict
    if len(data) > MAX_VERDICT_BYTES:
        verdict.problem = "the verdict is over 16 MiB"
        return verdict
    chains: dict[str, tuple[str, str | None]] = {}  # writer -> (its last MAC, its last event)
    for line in data.splitlines():
        try:
            mac, body = line.decode().split(" ", 1)
            record = json.loads(body)
            writer = str(record["writer"])
            previous, last = chains.get(writer, ("", None))
            if not hmac.compare_digest(mac, seal(key, previous, body)):
                raise ValueError("not sealed by the plugin")
            event = record["event"]
            if event not in _NEXT[last]:
                raise ValueError(f"{event} after {last}")
            chains[writer] = (mac, event)
            if event == "start":
                verdict.sessions += 1
            elif event == "collected":
                verdict.collected += 1
            else:
                verdict.finished += 1
                for test_id, outcome in record["outcomes"].items():
                    if outcome not in ("passed", "failed", "skipped"):
                        raise ValueError(outcome)
                    if verdict.outcomes.get(test_id) != "failed":
                        verdict.outcomes[str(test_id)] = outcome
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
            verdict.problem = f"the verdict holds a line its plugin never wrote: {line[:80]!r}"
            return verdict
    return verdict


def judge_verdict(
    verdict: PytestVerdict, expected: frozenset[str] | None, folder: Path
) -> str | None:
    """Why a pytest check that exited 0 still fails, or None when its verdict holds: every
    session collected and finished, no test failed, at least one passed, every id names a file
    of the check folder, and every id in `expected` (the trusted run's) passed."""
    if verdict.problem:
        return verdict.problem
    if verdict.sessions == 0 or min(verdict.finished, verdict.collected) < verdict.sessions:
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
