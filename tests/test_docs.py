"""The docs name things that exist: every source path README.md and the package's docstrings
mention (`src/bakeoff/...py`, `evals/.../x.py`, `models/x.py`, `report/x.py`, `tests/...py`,
`benchmarks/...py`, also as `path.py:Name`) is a file, and the name after the colon is defined
in it; a dotted `bakeoff.x.y` / `evals.x.y` is a module (or a name in one); the error tree in
errors.py's docstring names every error class the package defines, under its real parent."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "bakeoff"
README = ROOT / "README.md"

# A path under one of our folders, optionally followed by `:Name`. Bare names (`calc.py`) are
# left alone: docstrings use them for files in a contestant's workspace.
PATH = re.compile(
    r"(?<![\w./-])((?:src/)?(?:bakeoff/)?(?:evals|models|report|tests|benchmarks)/[\w./-]*?\w\.py)"
    r"(?::(\w+))?"
)
DOTTED = re.compile(r"(?<![\w./-])((?:bakeoff|evals)\.[a-z_]+(?:\.\w+)*)")
FILE_NAMES = re.compile(r"\.(toml|json|db|html|csv|log|md|yml|yaml|txt)$")  # `bakeoff.toml`


def sources() -> list[Path]:
    return [p for p in sorted(SRC.rglob("*.py")) if "suite" not in p.relative_to(SRC).parts]


def docstrings(path: Path) -> list[str]:
    """Every docstring in the file: a module's, a class's, a function's and an attribute's (the
    string under a field or a constant)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        node.value.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    ]


def resolve(mention: str) -> Path | None:
    """The file a mention means: from the repository root, or from src/bakeoff for a path that
    starts at a package folder (`evals/run/runner.py`)."""
    mention = mention.removeprefix("src/").removeprefix("bakeoff/")
    for base in (ROOT, SRC):
        if (base / mention).is_file():
            return base / mention
    return None


def defines(path: Path, name: str) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            if node.name == name:
                return True
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
    return False


def wrong_mentions(text: str) -> list[str]:
    wrong = []
    for match in PATH.finditer(text):
        path, name = match.group(1), match.group(2)
        if path.startswith("tests/test_export.py"):
            continue  # a contestant's task folder in check_folder's examples
        found = resolve(path)
        if found is None:
            wrong.append(path)
        elif name and not defines(found, name):
            wrong.append(f"{path}:{name}")
    for match in DOTTED.finditer(text):
        dotted = match.group(1)
        if FILE_NAMES.search(dotted):
            continue
        parts = ("bakeoff." + dotted if dotted.startswith("evals.") else dotted).split(".")
        # The longest prefix that is a module, then the rest must be names defined in it.
        for cut in range(len(parts), 1, -1):
            base = SRC.parent.joinpath(*parts[:cut])
            module = base / "__init__.py" if base.is_dir() else base.with_suffix(".py")
            if module.is_file():
                rest = parts[cut:]
                if rest and not defines(module, rest[0]):
                    wrong.append(dotted)
                break
        else:
            wrong.append(dotted)
    return wrong


def test_readme_names_only_files_that_exist() -> None:
    assert wrong_mentions(README.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(SRC)))
def test_docstrings_name_only_files_and_names_that_exist(path: Path) -> None:
    if path.name == "check_folder.py":
        pytest.skip("its docstrings describe a contestant's task folder (todo/export.py)")
    assert [m for doc in docstrings(path) for m in wrong_mentions(doc)] == []


def test_the_mention_check_can_fail() -> None:
    assert wrong_mentions("see `evals/runner.py` and evals/store/records.py:NoSuchName") == [
        "evals/runner.py",
        "evals/store/records.py:NoSuchName",
    ]
    assert wrong_mentions("`evals.runner.run_bakeoff`, `bakeoff.evals.run.runner.nope`") == [
        "evals.runner.run_bakeoff",
        "bakeoff.evals.run.runner.nope",
    ]
    assert wrong_mentions("`evals/run/runner.py:run_bakeoff`, `bakeoff.errors.UserError`") == []


def error_classes() -> dict[str, list[str]]:
    """Every public exception class the package defines -> the names of its direct bases. A
    class counts when a base is Exception or one of the package's own error classes; private
    ones (`_NoAttempt`) are a module's own control flow and never leave it."""
    bases: dict[str, list[str]] = {}
    for path in sources():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                names = [b.id if isinstance(b, ast.Name) else ast.unparse(b) for b in node.bases]
                bases[node.name] = names
    errors: dict[str, list[str]] = {}
    changed = True
    while changed:
        changed = False
        for name, parents in bases.items():
            if name not in errors and any(p == "Exception" or p in errors for p in parents):
                errors[name] = parents
                changed = True
    return {name: parents for name, parents in errors.items() if not name.startswith("_")}


def drawn_tree() -> dict[str, str | None]:
    """errors.py's docstring tree: each class -> the class it is drawn under (None at a root)."""
    doc = ast.get_docstring(ast.parse((SRC / "errors.py").read_text(encoding="utf-8"))) or ""
    parent_at: dict[int, str] = {}
    drawn: dict[str, str | None] = {}
    for line in doc.split("::", 1)[1].splitlines():
        match = re.match(r"^([\s│├└─]*)([A-Z]\w+)\b", line)
        if not match:
            continue
        depth = len(match.group(1)) // 4
        drawn[match.group(2)] = parent_at.get(depth - 1) if depth else None
        parent_at[depth] = match.group(2)
    return drawn


def test_the_error_tree_names_every_error_class_under_its_parent() -> None:
    drawn = drawn_tree()
    errors = error_classes()
    assert sorted(set(errors) - set(drawn)) == [], "add these to the tree in errors.py"
    assert sorted(set(drawn) - set(errors)) == [], "the tree names classes that do not exist"
    misplaced = {
        name: (drawn[name], parents)
        for name, parents in errors.items()
        if (drawn[name] or "Exception") not in parents
    }
    assert misplaced == {}


def test_the_error_classes_found_include_those_outside_errors_py() -> None:
    assert {"UnknownProviderError", "PreflightFailed", "HarnessError"} <= set(error_classes())
