"""The tamper scan on snapshots: what it voids, what it only flags, what it leaves alone."""

from __future__ import annotations

from bakeoff.evals.diff import Snapshot, Unread
from bakeoff.evals.tamper import describe, scan, voids


def test_grader_attacks_void_and_honest_code_does_not() -> None:
    before: Snapshot = {"setup.cfg": b"[metadata]\nname = x\n", "app.py": b"import os\n"}
    after: Snapshot = {
        "setup.cfg": b"[metadata]\nname = x\n[tool:pytest]\naddopts = --co\n",
        "app.py": b"import os\n",  # unchanged: never scanned
        "calc.py": b"import atexit\natexit.register(print)\n",
        "patch.py": b"import pytest\npytest.fail = lambda *a: None\n",
        "mods.py": b"import sys\nsys.modules['json'] = None\n",
        "calc.pyc": b"\xa7\r\r\n",
        "big.so": Unread("large file", 5_000_000),
        "conftest.py": b"",
        "test_ok.py": b"import pytest\n\n@pytest.fixture\ndef x():\n    return 1\n",
        "tox.ini": b"[tox]\nenvlist = py311\n",  # no pytest section: a normal project file
        "lookup.py": b"import sys\nmine = sys.modules[__name__]\nif a == b: pass\n",
    }
    findings = scan(before, after)
    void_paths = {f.path for f in findings if f.severity == "void"}
    assert void_paths == {
        "setup.cfg",
        "calc.py",
        "patch.py",
        "mods.py",
        "calc.pyc",
        "big.so",
        "conftest.py",
    }
    assert voids(findings)
    assert "calc.py:1: registers exit hooks" in describe(findings)


def test_flags_alone_do_not_void() -> None:
    findings = scan({}, {"ffi.py": b"import ctypes\nlib = ctypes.CDLL(None)\n"})
    assert findings and not voids(findings)
    assert all(f.severity == "flag" for f in findings)


def test_names_that_are_not_utf8_are_shown_escaped() -> None:
    findings = scan({}, {"bad\udcffname.pth": b"import os\n"})
    assert [f.path for f in findings] == ["bad\\xffname.pth"]
