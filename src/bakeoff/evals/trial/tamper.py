"""The tamper scan: what a contestant wrote that aims at the grader rather than the task.

The sandbox and the check's isolation stop a contestant from changing how the check is run;
what they cannot stop is code inside the test process itself (a solution module that
monkeypatches pytest when the test imports it). So after the agent stops, every file it created
or changed is scanned: planted files by name (`conftest.py`, `sitecustomize.py`, `.pth`, byte
code, pytest configuration), and every Python source — `.py` files, the `import` lines of a
`.pth`, scripts with a Python `#!` line — by its syntax tree (`evals/trial/tamper_ast.py`), so a name is
found however it is spelled. A finding of severity `void` (pytest internals, process exits,
`sys.modules` or `builtins` rewritten, import or tracing hooks, frames walked, objects that equal
anything, names hidden at run time, a Python file too large or too deep to scan) voids a passing
check: the trial fails, and the report and the judge see why. A finding of severity `flag`
(ctypes, caller inspection, signals, processes, code run from a string) is shown to the report
and the judge, and grades nothing by itself: honest code uses these now and then; so are
objects that equal anything in the contestant's own test files (`test_*.py`), where `mock.ANY`
and `pytest.approx` are idioms. The scan reads at most `MAX_TOKENS_TOTAL` tokens of Python in
all; a Python file past that, or one the snapshot could not read, is a `void` finding, so a
workspace of hostile files costs bounded time. Every changed file is scanned; when there are
more than `MAX_FINDINGS`, the voids are the ones kept.
"""

from __future__ import annotations

import os
from typing import TypeVar

from bakeoff.evals.store.records import Rule, Severity, TamperFinding
from bakeoff.evals.trial import tamper_ast
from bakeoff.evals.trial.diff import Snapshot
from bakeoff.workspace import printable_name

__all__ = ["MAX_FINDINGS", "Rule", "Severity", "TamperFinding", "describe", "scan", "voids"]

MAX_FINDINGS = 50
MAX_TOKENS_TOTAL = 300_000
"""Python tokens the scan parses across one workspace (an honest change is far below)."""
_PYTHON_SUFFIXES = (".py", ".pyw")
_PYTHON_SHEBANG = b"#!"
_PLANTED_NAMES = {
    "conftest.py": "plants a pytest conftest.py",
    "sitecustomize.py": "plants sitecustomize.py",
    "usercustomize.py": "plants usercustomize.py",
    "pytest.py": "shadows pytest",
    "pytest.ini": "plants pytest configuration",
    ".pytest.ini": "plants pytest configuration",
    "pytest.toml": "plants pytest configuration",
    ".pytest.toml": "plants pytest configuration",
}
# Shared project files that are a plant only when they carry a pytest section.
_PYTEST_SECTIONS = {
    "pyproject.toml": b"[tool.pytest",
    "setup.cfg": b"[tool:pytest]",
    "tox.ini": b"[pytest]",
}
_PLANTED_SUFFIXES = {
    ".pyc": "plants byte code",
    ".pyo": "plants byte code",
    ".so": "plants a native extension",
    ".pth": "plants a .pth file",
}


_Found = TypeVar("_Found", TamperFinding, tamper_ast.Hit)


def scan(before: Snapshot, after: Snapshot) -> list[TamperFinding]:
    """Findings in the files of `after` (the finished workspace) that are new or differ from
    `before` (the fixture). Pure: both snapshots were taken without following links."""
    findings: list[TamperFinding] = []
    budget = MAX_TOKENS_TOTAL
    for rel in sorted(after):
        data = after[rel]
        if before.get(rel) == data:
            continue
        shown = printable_name(rel)
        name = rel.rsplit("/", 1)[-1].lower()
        planted = _PLANTED_NAMES.get(name) or _PLANTED_SUFFIXES.get(os.path.splitext(name)[1])
        if planted:
            findings.append(TamperFinding(path=shown, severity="void", why=planted, rule="planted"))
        if not isinstance(data, bytes):
            if name.endswith(_PYTHON_SUFFIXES):  # too large, a link, a FIFO: nothing to vouch for
                why = f"is Python the tamper scan could not read ({data.note})"
                findings.append(
                    TamperFinding(path=shown, severity="void", why=why, rule="unscannable")
                )
        else:
            section = _PYTEST_SECTIONS.get(name)
            if section is not None and section in data:
                findings.append(
                    TamperFinding(
                        path=shown,
                        severity="void",
                        why="plants pytest configuration",
                        rule="planted",
                    )
                )
            source = _python_source(name, data)
            if source is not None:
                # Counted no further than the budget left, so a workspace of big files costs
                # what the budget allows, not what the files hold.
                cost = tamper_ast.tokens(source, min(tamper_ast.MAX_TOKENS, budget))
                if cost > budget:
                    budget = 0
                    why = "is Python past what the tamper scan reads in one workspace"
                    hits = [tamper_ast.Hit(None, "void", "unscannable", why)]
                else:
                    budget -= cost
                    test_file = name.startswith("test_") or name.endswith("_test.py")
                    hits = tamper_ast.scan_source(source, test_file=test_file)
                findings.extend(_finding(shown, h) for h in _voids_first(hits)[:MAX_FINDINGS])
    # Every file is scanned (a file of harmless flags must not hide the next one's void), and
    # the voids are kept when there are too many to keep.
    return findings if len(findings) <= MAX_FINDINGS else _voids_first(findings)[:MAX_FINDINGS]


def _voids_first(found: list[_Found]) -> list[_Found]:
    return sorted(found, key=lambda f: f.severity != "void")


def _python_source(name: str, data: bytes) -> bytes | None:
    """The Python in a file that Python would run: a module or script, or the `import` lines
    that `site` executes from a `.pth` file (other lines blanked, so line numbers hold)."""
    if name.endswith(_PYTHON_SUFFIXES) or (
        data.startswith(_PYTHON_SHEBANG) and b"python" in data.split(b"\n", 1)[0]
    ):
        return data
    if name.endswith(".pth"):
        return b"\n".join(
            line if line.startswith((b"import ", b"import\t")) else b""
            for line in data.split(b"\n")
        )
    return None


def _finding(path: str, hit: tamper_ast.Hit) -> TamperFinding:
    return TamperFinding(
        path=path,
        line=hit.line,
        severity=hit.severity,
        why=hit.why,
        excerpt=hit.excerpt,
        rule=hit.rule,
    )


def voids(findings: list[TamperFinding]) -> bool:
    """Whether the findings void a passing check."""
    return any(f.severity == "void" for f in findings)


def describe(findings: list[TamperFinding]) -> str:
    """Findings as lines for a check's output, the report and the judge."""
    return "\n".join(
        f"[{f.severity}] {f.path}{'' if f.line is None else f':{f.line}'}: {f.why}"
        + (f" — {f.excerpt}" if f.excerpt else "")
        for f in findings
    )
