"""The import contract that keeps the layers in order: data shapes and adapters at the bottom,
the eval layer above them (itself in order: store, trial, verdict, run), reports above that
(reading outcomes, never the runner), the shells (CLI, MCP server) on top. Read from
the source, function-level imports included, so a lazy import cannot hide a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "bakeoff"
BOTTOM = [
    "agent.py",
    "agent_config.py",
    "tools.py",
    "file_tools.py",
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
    # doctor: checks the machine for the CLI; viewer: serves the store to a browser; api: the
    # Python API both shells call.
    shells = ("cli", "mcp", "claude", "doctor", "viewer", "api")
    assert all(s.split(".")[1].startswith(shells) for s in SHELLS), SHELLS


def test_the_api_never_imports_the_shells_that_call_it() -> None:
    shells = [s for s in SHELLS if s != "bakeoff.api"]
    assert reaches(imported(SRC / "api.py"), *shells) == []


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each bakeoff module → the bakeoff modules it imports (function-level imports included);
    `from bakeoff.x import y` counts as importing `bakeoff.x.y` when that is a module."""
    paths = [p for p in SRC.rglob("*.py") if "suite" not in p.parts]
    known = {module_name(p) for p in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        edges: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = {f"{node.module}.{a.name}" for a in node.names}
                edges |= ({node.module} | subs) & known
            elif isinstance(node, ast.Import):
                edges |= {a.name for a in node.names} & known
        graph[module_name(path)] = edges - {module_name(path), "bakeoff"}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as [a, b, ..., a], or None: a depth-first search that reports the
    first edge back to a module still on its path."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done and (found := visit(nxt)) is not None:
                return found
        on_path.discard(path.pop())
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (found := visit(start)) is not None:
            return found
    return None


def test_no_module_imports_itself_through_others() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_finder_names_a_cycle_and_passes_a_tree() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None
    graph = import_graph()
    # Function-level imports count: cli_run imports the runner only inside functions.
    assert "bakeoff.api" in graph["bakeoff.cli_run"]
    assert "bakeoff.evals.run.runner" in graph["bakeoff.api"]


# The eval layer's own order: the store (records are pure data) below a trial, a trial below
# the verdict, the verdict below running a bake-off. A package may import those below it.
EVAL_ORDER = ("store", "trial", "verdict", "run")


@pytest.mark.parametrize(
    ("package", "above"),
    [(p, EVAL_ORDER[i + 1 :]) for i, p in enumerate(EVAL_ORDER)],
    ids=EVAL_ORDER,
)
def test_each_eval_package_imports_only_the_packages_below_it(
    package: str, above: tuple[str, ...]
) -> None:
    for path in modules(f"evals/{package}"):
        found = reaches(imported(path), *(f"bakeoff.evals.{a}" for a in above))
        assert found == [], f"{path.relative_to(SRC)} imports {found}"


def test_every_eval_module_lives_in_a_package() -> None:
    loose = sorted(p.name for p in (SRC / "evals").glob("*.py"))
    assert loose == ["__init__.py", "observer.py"], loose
    assert sorted(
        p.name for p in (SRC / "evals").iterdir() if p.is_dir() and p.name != "__pycache__"
    ) == sorted([*EVAL_ORDER, "suite"])


@pytest.mark.parametrize("name", ["records.py", "summary_records.py"])
def test_records_are_pure_data(name: str) -> None:
    # Data shapes import nothing of bakeoff's but other data shapes: the summary's records are
    # built on the run's (`BakeoffSpec`).
    allowed = ("bakeoff.types", "bakeoff.weights", "bakeoff.agent_config")
    shapes = {"bakeoff.evals.store.records"}
    names = imported(SRC / "evals" / "store" / name)
    assert [n for n in names if not n.startswith(allowed) and n not in shapes] == []


@pytest.mark.parametrize("path", modules("report"), ids=lambda p: p.name)
def test_the_report_reads_outcomes_never_the_runner_or_a_trial(path: Path) -> None:
    assert reaches(imported(path), "bakeoff.evals.run", "bakeoff.evals.trial") == []


def test_no_relative_imports() -> None:
    relative = [
        str(p.relative_to(SRC))
        for p in modules(".")
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level > 0
    ]
    assert relative == []
