"""The tamper scan on snapshots: what it voids, what it only flags, what it leaves alone.

The attacks are spelled the way a contestant who read the scan would spell them: names built at
run time, modules reached through aliases and lookups, code run from strings, objects that equal
everything. Honest code — every built-in solution and the everyday idioms below — is never voided.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

import bakeoff.evals
from bakeoff.evals.trial import tamper
from bakeoff.evals.trial.diff import Snapshot, Unread, snapshot
from bakeoff.evals.trial.tamper import TamperFinding, describe, scan, voids


def _scan(source: bytes | str, name: str = "solution.py") -> list[TamperFinding]:
    data = source.encode() if isinstance(source, str) else source
    return scan({}, {name: data})


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
    findings = _scan("import ctypes\nlib = ctypes.CDLL(None)\n", "ffi.py")
    assert findings and not voids(findings)
    assert all(f.severity == "flag" for f in findings)


def test_names_that_are_not_utf8_are_shown_escaped() -> None:
    findings = scan({}, {"bad\udcffname.pth": b"import os\n"})
    assert [f.path for f in findings] == ["bad\\xffname.pth"]


# (name, source, the line the void finding must name). Every one of these reaches the grader
# (exits the process, patches pytest, rewrites imports or builtins, walks into the test's frame,
# equals anything), and none of them contains the name it reaches as plain text.
ATTACKS: list[tuple[str, str, int]] = [
    ("concat", "import os\ngetattr(os, '_e' + 'xit')(0)\n", 2),
    ("join", "import os\ngetattr(os, ''.join(['_', 'ex', 'it']))(0)\n", 2),
    ("percent", "import os\nf = getattr(os, '%s%s' % ('_ex', 'it'))\n", 2),
    ("format", "import os\ngetattr(os, '{}{}'.format('_ex', 'it'))(0)\n", 2),
    ("fstring", "import os\nhead = '_ex'\ngetattr(os, f'{head}it')(0)\n", 3),
    (
        "chr-genexp",
        "import os\ngetattr(os, ''.join(chr(c) for c in [95, 101, 120, 105, 116]))(0)\n",
        2,
    ),
    ("map-chr", "import os\nname = ''.join(map(chr, (95, 101, 120, 105, 116)))\n", 2),
    ("reversed-slice", "import os\ngetattr(os, 'tixe_'[::-1])(0)\n", 2),
    ("reversed-call", "import os\ngetattr(os, ''.join(reversed('tixe_')))(0)\n", 2),
    ("bytes-decode", "import os\ngetattr(os, bytes([95, 101, 120, 105, 116]).decode())(0)\n", 2),
    ("base64", "import base64, os\ngetattr(os, base64.b64decode('X2V4aXQ=').decode())(0)\n", 2),
    ("rot13", "import codecs, os\ngetattr(os, codecs.decode('_rkvg', 'rot13'))(0)\n", 2),
    ("hex", "import os\ngetattr(os, bytes.fromhex('5f65786974').decode())(0)\n", 2),
    ("augassign", "import os\nx = '_e'\nx += 'xit'\ngetattr(os, x)(0)\n", 4),
    ("dunder-import", "getattr(__import__('o' + 's'), '_ex' + 'it')(0)\n", 1),
    ("import-module", "import importlib\nimportlib.import_module('_py' + 'test.junitxml')\n", 2),
    ("import-atexit", "h = __import__(''.join(['at', 'exit']))\nh.register(print)\n", 1),
    ("attrgetter", "import operator, os\noperator.attrgetter('_ex' + 'it')(os)(0)\n", 2),
    ("getattribute", "import os\nobject.__getattribute__(os, '_ex' + 'it')(0)\n", 2),
    ("module-dict", "import os\nos.__dict__['_ex' + 'it'](0)\n", 2),
    ("vars", "import os\nvars(os)['_ex' + 'it'](0)\n", 2),
    ("exec-built", "exec('import os; os.' + '_exit(0)')\n", 1),
    ("exec-dynamic", "exec(open('payload.txt').read())\n", 1),
    ("compile-dynamic", "src = open('p').read()\nrun = compile(src, 'p', 'exec')\n", 2),
    ("getattr-unknown", "import os, sys\ngetattr(os, sys.argv[0])(0)\n", 2),
    ("getattr-encoded", "k = 1\nf = getattr(obj, bytes(b ^ k for b in data).decode())\n", 2),
    ("sys-modules-alias", "import sys\nm = sys.modules\nm.__setitem__('json', None)\n", 3),
    (
        "sys-modules-dict",
        "__import__('sys').__dict__['mod' + 'ules']['json'] = None\n",
        1,
    ),
    ("sys-modules-update", "import sys\nsys.modules.update({'json': None})\n", 2),
    ("sys-modules-del", "import sys\ndel sys.modules['json']\n", 2),
    ("builtins-dunder", "setattr(__builtins__, 'len', lambda x: 3)\n", 1),
    ("builtins-setattr", "import builtins as b\nsetattr(b, 'pr' + 'int', len)\n", 2),
    ("globals-builtins", "globals()['__buil' + 'tins__']['len'] = id\n", 1),
    ("pytest-setattr", "import pytest as p\nsetattr(p, 'fail', lambda *a: None)\n", 2),
    ("pytest-main", "import pytest\npytest.main(['-q'])\n", 2),
    ("unittest-run", "import unittest\nunittest.TestCase.run = lambda self, r=None: None\n", 2),
    ("meta-path-alias", "from sys import meta_path as mp\nmp.insert(0, object())\n", 1),
    ("settrace-built", "import sys\ngetattr(sys, 'set' + 'trace')(None)\n", 2),
    ("frame-back", "import sys\ngetattr(sys, '_get' + 'frame')(1).f_back.f_locals['x'] = 1\n", 2),
    ("frame-inspect", "import inspect\ncaller = inspect.currentframe().f_back\n", 2),
    ("gc-referrers", "import gc\nholders = gc.get_referrers(result)\n", 2),
    ("always-equal", "class A:\n    def __eq__(self, other):\n        return True\n", 2),
    ("always-equal-lambda", "class A(str):\n    __eq__ = lambda self, other: 1 == 1\n", 2),
    ("always-equal-type", "A = type('A', (), {'__eq__': lambda s, o: True})\n", 1),
    ("never-unequal", "class A:\n    def __ne__(self, other):\n        return False\n", 2),
    ("mock-any", "from unittest.mock import ANY\n\ndef solve():\n    return ANY\n", 1),
    ("exit-at-import", "import sys\nsys.exit(0)\n", 2),
    ("raise-at-import", "raise SystemExit(0)\n", 1),
    ("exit-via-function", "import sys\n\ndef bye():\n    sys.exit(0)\n\nbye()\n", 6),
    ("subprocess-at-import", "import subprocess\nsubprocess.run(['true'])\n", 2),
    ("kill-parent", "import os\nos.kill(os.getppid(), 9)\n", 2),
    ("pythonapi", "import ctypes\nctypes.pythonapi.PyObject_SetAttr\n", 2),
    ("detects-pytest", "import os\nunder_test = os.environ.get('PYTEST_CURRENT_TEST')\n", 2),
    ("forged-junit", "open('r.xml', 'w').write('<testsuite tests=\"1\" failures=\"0\"/>')\n", 1),
    ("pickle-constant", "import pickle\npickle.loads(b'cposix\\n_exit\\n(I0\\ntR.')\n", 2),
    ("marshal", "import marshal\ncode = marshal.loads(blob)\n", 2),
    ("hook-def", "def pytest_runtest_makereport(item, call):\n    pass\n", 1),
    ("plugins-var", "pytest_plugins = ['evil']\n", 1),
    ("pytest-internals-plain", "from _pytest import junitxml\n", 1),
    # Round two: written against the scan above.
    ("walrus", "import os\n(x := '_e' + 'xit')\ngetattr(os, x)(0)\n", 3),
    (
        "name-as-argument",
        "import os\n\ndef f(m, n):\n    return getattr(m, n)\n\nf(os, '_exit')(0)\n",
        6,
    ),
    (
        "namespace-walk",
        "import os\nexits = [v for k, v in vars(os).items() if k.endswith('xit')]\n",
        2,
    ),
    (
        "namespace-key",
        "import os\nos.__dict__[[k for k in os.__dict__ if k[-3:] == 'xit'][0]](0)\n",
        2,
    ),
    (
        "unbound-getattribute",
        "import os, types\nn = input()\ntypes.ModuleType.__getattribute__(os, n)(0)\n",
        3,
    ),
    ("re-exported-module", "import inspect\ninspect.sys.exit(0)\n", 2),
    ("star-import", "from os import *\nkill(getppid(), 9)\n", 2),
    (
        "eq-or-true",
        "class A:\n    def __eq__(self, other):\n        return other is None or True\n",
        2,
    ),
    (
        "decorator-exit",
        "import sys\n\ndef bye(f):\n    sys.exit(0)\n\n@bye\ndef g():\n    pass\n",
        6,
    ),
    ("libc-exit", "import ctypes\nctypes.CDLL(None).exit(0)\n", 2),
    (
        "execv",
        "import os, sys\n\ndef run():\n    os.execv(sys.executable, ['python', '-c', 'pass'])\n",
        4,
    ),
    ("globals-escape", "f = ().__class__.__base__.__subclasses__()[0].__init__.__globals__\n", 1),
    (
        "breakpoint-hook",
        "import os\nos.environ['PYTHONBREAKPOINT'] = 'os._exit'\nbreakpoint(0)\n",
        2,
    ),
    ("fromlist", "m = __import__('os', fromlist=['_exit'])\n", 1),
    ("threading-atexit", "import threading\nthreading._register_atexit(print)\n", 2),
    ("eq-is-self", "class A:\n    __eq__ = lambda self, other: self is self\n", 2),
    ("eq-ifexp", "class A:\n    def __eq__(self, o):\n        return True if o else 1 > 0\n", 2),
    ("eq-patched-later", "class A:\n    pass\n\nA.__eq__ = lambda s, o: bool(1)\n", 4),
    ("eq-setattr", "class A:\n    pass\n\nsetattr(A, '__eq__', lambda s, o: True)\n", 4),
    (
        "renamed-main",
        "import sys\n__name__ = '__main__'\nif __name__ == '__main__':\n    sys.exit(0)\n",
        4,
    ),
    ("exit-via-chain", "import sys\n\ndef a():\n    sys.exit()\n\ndef b():\n    a()\n\nb()\n", 9),
    (
        "exit-via-class",
        "import sys\n\nclass Bye:\n    def __init__(self):\n        raise SystemExit\n\nBye()\n",
        7,
    ),
    (
        "load-by-path",
        "import importlib.util as u\nspec = u.spec_from_file_location('m', 'notes.txt')\n",
        2,
    ),
    ("code-replace", "def f():\n    pass\n\ng = f.__code__.replace(co_code=b'')\n", 4),
    ("small-int", "import ctypes\nctypes.c_long.from_address(id(1) + 24).value = 2\n", 2),
    ("approx", "import pytest\n\ndef add(a, b):\n    return pytest.approx(0, abs=1e18)\n", 4),
]


@pytest.mark.parametrize(("source", "line"), [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS])
def test_obfuscated_attacks_void(source: str, line: int) -> None:
    findings = _scan(source)
    assert voids(findings), describe(findings)
    assert line in {f.line for f in findings if f.severity == "void"}, describe(findings)


def test_a_utf7_source_hides_nothing() -> None:
    # `+AAo-` is a newline in UTF-7: the call sits in a comment to the eye, in the code to Python.
    source = b"# coding: utf-7\nimport os\n# note +AAo-getattr(os, '+AF8-exit')(0)\n"
    assert voids(_scan(source)), describe(_scan(source))


def test_code_in_a_pth_file_is_scanned() -> None:
    findings = _scan("import os; getattr(os, '_e' + 'xit')(0)\n", "x.pth")
    assert any(f.line == 1 and "exit" in f.why for f in findings), describe(findings)


def test_a_python_script_without_suffix_is_scanned() -> None:
    findings = _scan("#!/usr/bin/env python3\nimport os\ngetattr(os, '_e' + 'xit')(0)\n", "run")
    assert voids(findings)


def test_a_python_file_too_large_to_read_voids() -> None:
    findings = scan({}, {"calc.py": Unread("large file", 5_000_000)})
    assert voids(findings) and "calc.py" in describe(findings)


HONEST: list[tuple[str, str]] = [
    (
        "main-guard",
        "import sys\n\ndef main():\n    return 0\n\nif __name__ == '__main__':\n"
        "    sys.exit(main())\n",
    ),
    ("exit-in-function", "import sys\n\ndef fail(msg):\n    print(msg)\n    sys.exit(1)\n"),
    (
        "visitor",
        "class V:\n    def visit(self, node):\n"
        "        return getattr(self, 'visit_' + type(node).__name__)(node)\n",
    ),
    (
        "plugins",
        "import importlib\n\ndef load(name):\n"
        "    return importlib.import_module(f'plugins.{name}')\n",
    ),
    (
        "eq",
        "class P:\n    def __eq__(self, other):\n"
        "        return isinstance(other, P) and self.x == other.x\n\n"
        "    def __hash__(self):\n        return hash(self.x)\n",
    ),
    (
        "eq-notimplemented",
        "class P:\n    def __eq__(self, other):\n"
        "        if not isinstance(other, P):\n            return NotImplemented\n"
        "        return self.x == other.x\n",
    ),
    (
        "test-file",
        "import pytest\nfrom unittest import mock\n\n@pytest.mark.parametrize('x', [1])\n"
        "def test_x(x):\n    with mock.patch('builtins.open'):\n        with pytest.raises(KeyError):\n"
        "            {}['k']\n",
    ),
    (
        "unittest-main",
        "import unittest\n\nclass T(unittest.TestCase):\n    def test_a(self):\n"
        "        self.assertEqual(1, 1)\n\nif __name__ == '__main__':\n    unittest.main()\n",
    ),
    ("self-module", "import sys\nthis = sys.modules[__name__]\n"),
    ("evaluator", "def calc(expression):\n    return eval(expression, {'__builtins__': {}})\n"),
    (
        "strings",
        "line = '-' * 80\nmsg = '%d items' % 3\nname = f'{line}{msg:>10}'\n"
        "parts = ', '.join(str(i) for i in range(3))\n",
    ),
    (
        "subprocess-in-function",
        "import subprocess\n\ndef sh(cmd):\n    return subprocess.run(cmd, check=True)\n",
    ),
    (
        "argparse",
        "import argparse, logging, sys\nlogging.basicConfig(stream=sys.stderr)\n"
        "parser = argparse.ArgumentParser()\n",
    ),
    (
        "everything-set",
        "class Everything:\n    def __contains__(self, item):\n        return True\n",
    ),
    (
        "registry",
        "class Base:\n    pass\n\nplugins = {c.__name__: c for c in Base.__subclasses__()}\n",
    ),
    ("own-module", "import sys\n\ndef mod(cls):\n    return sys.modules[cls.__module__]\n"),
    ("argparse-vars", "import argparse\nopts = vars(argparse.ArgumentParser().parse_args([]))\n"),
    ("own-exit-method", "class Door:\n    def _exit(self):\n        return 1\n\nDoor()._exit()\n"),
    (
        "dataclass",
        "from dataclasses import dataclass, field\n\n@dataclass(frozen=True)\n"
        "class Item:\n    name: str\n    tags: list[str] = field(default_factory=list)\n",
    ),
]


@pytest.mark.parametrize("source", [h[1] for h in HONEST], ids=[h[0] for h in HONEST])
def test_honest_code_is_not_voided(source: str) -> None:
    findings = _scan(source)
    assert not voids(findings), describe(findings)


def _suite_solutions() -> list[Path]:
    suite = Path(bakeoff.evals.__file__).parent / "suite"
    return sorted(p.parent for p in suite.glob("*/solution"))


@pytest.mark.parametrize("task", _suite_solutions(), ids=lambda p: p.name)
def test_built_in_solutions_are_not_voided(task: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    if (task / "files").is_dir():  # a task may start from an empty workspace
        shutil.copytree(task / "files", ws, dirs_exist_ok=True)
    before = snapshot(ws)
    shutil.copytree(task / "solution", ws, dirs_exist_ok=True)
    findings = scan(before, snapshot(ws))
    assert not voids(findings), describe(findings)


UNPARSABLE: list[tuple[str, bytes]] = [
    ("nul", b"x = 1\x00\n"),
    ("not-utf8", b"x = '\xff\xfe'\n"),
    ("bad-cookie", b"# coding: no-such-codec\nx = 1\n"),
    ("syntax", b"def f(:\n"),
    ("parens", b"x = " + b"(" * 300 + b"1" + b")" * 300 + b"\n"),
    ("deep-plus", b"x = " + b"a+" * 20_000 + b"a\n"),
    ("deep-if", b"".join(b" " * i + b"if x:\n" for i in range(150)) + b" " * 150 + b"pass\n"),
]


@pytest.mark.parametrize("source", [u[1] for u in UNPARSABLE], ids=[u[0] for u in UNPARSABLE])
def test_files_the_scan_cannot_read_are_findings_not_crashes(source: bytes) -> None:
    findings = _scan(source)
    assert findings, "a file the scan could not read must be named"
    assert all(f.path == "solution.py" for f in findings)


BOMBS: list[tuple[str, str]] = [
    ("repeat", "import os\ngetattr(os, 'x' * 10**12)\n"),
    ("percent-width", "import os\ngetattr(os, '%999999999s' % 'x')\n"),
    ("format-width", "import os\ngetattr(os, '{:>999999999}'.format('x'))\n"),
    ("fstring-width", "import os\ngetattr(os, f'{1:>999999999}')\n"),
    ("power", "x = 9 ** 9 ** 9\n"),
    ("shift", "x = 1 << 10 ** 12\n"),
    ("cycle", "import os\na = b\nb = a\ngetattr(os, a)(0)\n"),
    ("range", "import os\ngetattr(os, ''.join(chr(c) for c in range(10 ** 12)))\n"),
]


@pytest.mark.parametrize("source", [b[1] for b in BOMBS], ids=[b[0] for b in BOMBS])
def test_folding_bombs_stay_small_and_quick(source: str) -> None:
    started = time.perf_counter()
    _scan(source)
    assert time.perf_counter() - started < 2.0


@pytest.mark.parametrize(
    "source",
    [
        b"x = (" + b"a," * 499_990 + b")\n",
        b"x = " + b"a+" * 499_990 + b"a\n",
        b"a = 1\n" * 170_000,
        b"x = '" + b"_e' + '" * 120_000 + b"xit'\n",
    ],
    ids=["tuple", "plus-chain", "lines", "concat-chain"],
)
def test_a_megabyte_of_hostile_python_is_scanned_quickly(source: bytes) -> None:
    started = time.perf_counter()
    findings = _scan(source)
    elapsed = time.perf_counter() - started
    # Measured under 0.3 s; the bound leaves room for a loaded 2-core CI box.
    assert elapsed < 2.0, elapsed
    assert voids(findings), describe(findings)


def test_many_files_share_one_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each file is under the per-file cap; together they are past what one scan parses.
    monkeypatch.setattr(tamper, "MAX_TOKENS_TOTAL", 50_000)
    files: Snapshot = {f"m{i:02}.py": b"x = (" + b"a," * 10_000 + b")\n" for i in range(6)}
    findings = scan({}, files)
    unread = [f.path for f in findings if "past what the tamper scan reads" in f.why]
    assert unread and "m00.py" not in unread and voids(findings)


def test_harmless_flags_in_one_file_do_not_hide_a_void_in_the_next() -> None:
    flood = "\n".join(f"import ctypes as c{i}" for i in range(120)).encode()
    findings = scan({}, {"a.py": flood, "z.py": b"import os\ngetattr(os, '_e' + 'xit')(0)\n"})
    assert "z.py" in {f.path for f in findings if f.severity == "void"}


@pytest.mark.parametrize(
    "source",
    [
        "s = 'x = 1'\n" + "exec(s)\n" * 10_000,
        "".join(f"exec('x = {i}')\n" for i in range(2_000)),
        "x = 1\n" * 15_000 + "getattr(y, x)\n" * 5_000,
        "x = 'a' * 4000\n" + "y = x + ''\n" * 10_000,
        "import sys\n\ndef f0():\n    sys.exit(0)\n"
        + "".join(f"def f{i}():\n    f{i - 1}()\n" for i in range(1, 8_000))
        + "f7999()\n",
        "import os\ngetattr(os, " + "x + " * 3_000 + "'y')\n",
    ],
    ids=["same-exec", "many-execs", "rebound-name", "many-built-strings", "call-chain", "prefix"],
)
def test_repetition_stays_bounded(source: str) -> None:
    started = time.perf_counter()
    _scan(source)
    assert time.perf_counter() - started < 3.0


def test_objects_that_equal_anything_are_test_idioms_in_a_test_file() -> None:
    source = (
        "import pytest\nfrom unittest.mock import ANY\n\n"
        "def test_total():\n    assert {'at': 1.0, 'id': 3} == {'at': pytest.approx(1), 'id': ANY}\n"
    )
    findings = _scan(source, "test_totals.py")
    assert findings and not voids(findings), describe(findings)
    assert voids(_scan(source, "totals.py"))


def test_an_excerpt_is_printable_text() -> None:
    findings = _scan("import os\nos._exit(0)  # \x1b[2J\u202e hidden\n")
    assert findings and all(f.excerpt.isprintable() for f in findings)
