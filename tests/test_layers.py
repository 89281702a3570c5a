"""The import contract that keeps the layers in order: data shapes and adapters at the bottom,
the eval layer above them, reports above that, the shells (CLI, MCP server) on top. Read from
the source, function-level imports included, so a lazy import cannot hide a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "bakeoff"
BOTTOM = [
    "agent.py",
    "tools.py",
    "workspace.py",
    "protected.py",
    "sandbox.py",
    "types.py",
    "errors.py",
    "config.py",
    "redact.py",
    "net.py",
    "weights.py",
    "labels.py",
    "user_files.py",
    "sandbox_limits.py",
    "command_guard.py",
]
# Every other top-level module is a shell (the CLI, the MCP server, `init`): a new one is
# classified without anyone remembering to list it.
SHELLS = tuple(
    f"bakeoff.{p.stem}"
    for p in sorted(SRC.glob("*.py"))
    if p.name not in BOTTOM and p.name != "__init__.py"
)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return {n for n in names if n.startswith("bakeoff")}


def modules(*parts: str) -> list[Path]:
    found: list[Path] = []
    for part in parts:
        target = SRC / part
        found += sorted(target.rglob("*.py")) if target.is_dir() else [target]
    return [p for p in found if "suite" not in p.parts]


def reaches(names: set[str], *prefixes: str) -> list[str]:
    return sorted(n for n in names if any(n == p or n.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize("path", modules("models", *BOTTOM), ids=lambda p: p.name)
def test_the_bottom_layers_never_import_evals_reports_or_shells(path: Path) -> None:
    assert reaches(imported(path), "bakeoff.evals", "bakeoff.report", *SHELLS) == []


@pytest.mark.parametrize("path", modules("evals"), ids=lambda p: p.name)
def test_the_eval_layer_never_imports_reports_or_shells(path: Path) -> None:
    assert reaches(imported(path), "bakeoff.report", *SHELLS) == []


@pytest.mark.parametrize("path", modules("report"), ids=lambda p: p.name)
def test_reports_never_import_the_shells(path: Path) -> None:
    assert reaches(imported(path), *SHELLS) == []


def test_the_shells_are_the_cli_mcp_and_init_modules() -> None:
    assert {"bakeoff.cli", "bakeoff.cli_run", "bakeoff.mcp_server", "bakeoff.claude_init"} <= set(
        SHELLS
    )
    # doctor: checks the machine for the CLI; viewer: serves the store to a browser.
    shells = ("cli", "mcp", "claude", "doctor", "viewer")
    assert all(s.split(".")[1].startswith(shells) for s in SHELLS), SHELLS
