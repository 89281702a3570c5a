"""Names in one Python file, followed to what they mean, for the tamper scan.

`Names.qualify` says which module path and attributes an expression denotes however it was
reached: an import or alias (`import os as o`, `from sys import meta_path as mp`), an
assignment, a lookup by string (`getattr`, `__getattribute__`, `operator.attrgetter`,
`vars(m)[...]`, `m.__dict__[...]`, `sys.modules[...]`, `globals()[...]`) or an import by string
(`__import__`, `importlib.import_module`), with every string folded first
(`evals/trial/tamper_fold.py`). Bindings are gathered once for the whole file, flow-insensitively: a
name means whatever any assignment to it could make it mean, the latest that resolves first.
`known_prefix` and `encoded` describe a name the folder could not compute (safe behind a known
prefix, or hidden on purpose). `children` and `walk` are the tree walks the scan uses: iterative,
so no depth can crash them.
"""

from __future__ import annotations

import ast
import itertools
from collections import defaultdict, deque
from collections.abc import Iterator, Mapping, Sequence

from bakeoff.evals.trial import tamper_rules as R
from bakeoff.evals.trial.tamper_fold import Binding, Folder

MAX_DEPTH = 30
MAX_BINDINGS = 64
"""The latest bindings of a name that resolving it looks at."""
# Modules that other modules re-export (`os.sys`, `inspect.os`): a name through one of them is
# the module's own name.
_MODULES = frozenset({"sys", "os", "builtins", "importlib", "_pytest", "atexit", "gc", "signal",
                      "subprocess", "ctypes", "inspect", "posix", "threading", "marshal"})  # fmt: skip
_BLOCKS = ("body", "orelse", "finalbody", "handlers", "cases")


def children(node: ast.AST) -> Iterator[ast.AST]:
    """The child nodes of `node`, leaving out the Load/Store/Del markers."""
    for field in node._fields:
        value = getattr(node, field, None)
        if isinstance(value, ast.AST):
            if not isinstance(value, ast.expr_context):
                yield value
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, ast.AST):
                    yield item


def walk(root: ast.AST, *, skip_defs: bool = False) -> Iterator[ast.AST]:
    """Every node under `root`, iteratively; with `skip_defs`, not into nested functions."""
    pending: deque[ast.AST] = deque(children(root))
    while pending:
        node = pending.pop()
        yield node
        if not (
            skip_defs and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
        ):
            pending.extend(children(node))


def _statements(root: ast.Module) -> Iterator[ast.AST]:
    """The statements of `root` at every level, each block's in order."""
    pending: deque[ast.AST] = deque(root.body)
    while pending:
        node = pending.popleft()
        yield node
        for field in _BLOCKS:
            block = getattr(node, field, None)
            if isinstance(block, list):
                pending.extend(block)


def _rooted(qual: str | None) -> str | None:
    """`os.sys.exit` as `sys.exit`: the path from the last module it passes through."""
    if qual is None or "." not in qual:
        return qual
    parts = qual.split(".")
    for i in range(len(parts) - 1, 0, -1):
        if parts[i] in _MODULES:
            return ".".join(parts[i:])
    return qual


class Names:
    """The bindings of one file (plus `inherited` ones, for code run from a string) and what
    its expressions denote."""

    def __init__(
        self,
        tree: ast.Module,
        inherited: Mapping[str, Sequence[Binding]],
        *,
        walrus: bool = True,
    ) -> None:
        self.bindings: defaultdict[str, list[Binding]] = defaultdict(list)
        for name, bound in inherited.items():
            self.bindings[name].extend(bound)
        self.defined: set[str] = set()
        """Functions and classes the file defines (its own `_exit` method is no exit)."""
        self.folder = Folder(self.bindings, self.qualify)
        self.stars: list[str] = []
        """Modules the file imports `*` from."""
        self._memo: dict[int, str | None] = {}
        self._names: dict[str, str | None] = {}
        self._bind(tree, walrus)

    def _bind(self, tree: ast.Module, walrus: bool) -> None:
        """Bindings from statements, in order; from `:=` inside expressions only when the
        source has one (walking every expression twice would double the scan's time)."""
        nodes: Iterator[ast.AST] = _statements(tree)
        if walrus:
            nodes = itertools.chain(nodes, (n for n in walk(tree) if isinstance(n, ast.NamedExpr)))
        for node in nodes:
            if isinstance(node, ast.Import):
                for a in node.names:
                    self.bindings[a.asname or a.name.split(".")[0]].append(
                        a.name if a.asname else a.name.split(".")[0]
                    )
            elif isinstance(node, ast.ImportFrom):
                for a in node.names:
                    full = f"{node.module}.{a.name}" if node.module and not node.level else None
                    if a.name != "*":
                        self.bindings[a.asname or a.name].append(full)
                    elif node.module and not node.level:
                        self.stars.append(node.module)
            elif isinstance(node, ast.Assign):
                for target in node.targets:
                    self._bind_target(target, node.value)
            elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
                self._bind_target(node.target, node.value)
            elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
                before = self.bindings[node.target.id]
                last = before[-1] if before else None
                grown = None
                if isinstance(last, ast.expr):  # `x += "xit"` after `x = "_e"` folds to "_exit"
                    grown = ast.BinOp(left=last, op=node.op, right=node.value)
                before.append(grown)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.bindings[node.name].append(None)
                self.defined.add(node.name)

    def _bind_target(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.bindings[target.id].append(value)
        elif isinstance(target, ast.Tuple | ast.List):
            pairs = (
                zip(target.elts, value.elts, strict=True)
                if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts)
                else ((t, None) for t in target.elts)
            )
            for t, v in pairs:
                if v is not None:
                    self._bind_target(t, v)
                elif isinstance(t, ast.Name):
                    self.bindings[t.id].append(None)

    def qualify(self, node: ast.expr, depth: int = 0) -> str | None:
        """The module path and attributes `node` denotes (`"os._exit"`), however it was
        reached; `<globals>` for a module's own namespace; None when not a known name."""
        key = id(node)
        if key in self._memo:
            return self._memo[key]
        if depth > MAX_DEPTH:
            return None
        found = _rooted(self._qualify(node, depth))
        if depth == 0:  # a result cut short by the depth cap is not remembered
            self._memo[key] = found
        return found

    def _name(self, name: str, depth: int) -> str | None:
        if name in self._names:
            return self._names[name]
        bound = self.bindings.get(name)
        found: str | None = None
        if bound:
            # The latest few bindings: a name assigned 50,000 times must not cost that much
            # at each of its 50,000 uses.
            for b in reversed(bound[-MAX_BINDINGS:]):
                found = (
                    b if isinstance(b, str) else None if b is None else self.qualify(b, depth + 1)
                )
                if found:
                    break
        elif name == "__builtins__":
            found = "builtins"
        elif name in R.BUILTIN_NAMES:
            found = f"builtins.{name}"
        elif self.stars:  # `from os import *`: an unknown name may come from there
            found = f"{self.stars[-1]}.{name}"
        self._names[name] = found
        return found

    def _qualify(self, node: ast.expr, depth: int) -> str | None:
        q = self.qualify
        if isinstance(node, ast.Name):
            return self._name(node.id, depth)
        if isinstance(node, ast.Attribute):
            base = q(node.value, depth + 1)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Subscript):
            base, key = q(node.value, depth + 1), self.folder.text(node.slice)
            if base is None or key is None:
                return None
            if base in ("sys.modules", "builtins"):
                return key if base == "sys.modules" else f"builtins.{key}"
            if base.endswith(".__dict__"):
                return f"{base[: -len('.__dict__')]}.{key}"
            return self._name(key, depth + 1) if base == "<globals>" else None
        if isinstance(node, ast.Call):
            return self._qualify_call(node, depth)
        return None

    def _qualify_call(self, node: ast.Call, depth: int) -> str | None:
        func, args = node.func, node.args
        if (
            isinstance(func, ast.Call)
            and self.qualify(func.func, depth + 1) == "operator.attrgetter"
        ):
            name = self.folder.text(func.args[0]) if func.args else None
            base = self.qualify(args[0], depth + 1) if args else None
            return f"{base}.{name}" if base and name else None
        f = self.qualify(func, depth + 1)
        if f in R.LIBRARY_LOADERS:
            return "libc"
        if f in R.IMPORTERS and args:
            return self.folder.text(args[0])
        if f in ("builtins.globals", "builtins.locals") or (f == "builtins.vars" and not args):
            return "<globals>"
        if f == "builtins.vars" and args:
            base = self.qualify(args[0], depth + 1)
            return f"{base}.__dict__" if base else None
        if f in ("sys.modules.get", "sys.modules.__getitem__") and args:
            return self.folder.text(args[0])
        target = self.attr_lookup(node, f)
        if target is not None and target[1] is not None:
            base = self.qualify(target[0], depth + 1)
            name = self.folder.text(target[1])
            return f"{base}.{name}" if base and name else None
        return None

    def attr_lookup(self, node: ast.Call, f: str | None) -> tuple[ast.expr, ast.expr | None] | None:
        """(object, name) when `node` looks an attribute up by a string."""
        args = node.args
        if f in R.GETATTRS:
            return (args[0], args[1] if len(args) > 1 else None) if args else None
        if isinstance(node.func, ast.Attribute) and node.func.attr in R.ATTR_METHODS:
            # `T.__getattribute__(obj, name)` (unbound) or `obj.__getattribute__(name)`
            unbound = len(args) >= (3 if node.func.attr == "__setattr__" else 2)
            if unbound:
                return (args[0], args[1])
            return (node.func.value, args[0] if args else None)
        return None

    def known_prefix(self, node: ast.expr, depth: int = 0) -> str:
        """The known start of a string expression (`"visit_" + kind` starts `visit_`)."""
        if depth > MAX_DEPTH:
            return ""
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left = self.folder.text(node.left)
            if left is None:
                return self.known_prefix(node.left, depth + 1)
            return left + self.known_prefix(node.right, depth + 1)
        if isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                return first.value
        return ""

    def encoded(self, node: ast.expr) -> bool:
        """Whether a name expression is built from encoded pieces (`chr`, `bytes`, `decode`,
        a reversing slice, XOR…): honest code computing a name does not hide it."""
        for n in itertools.islice(itertools.chain([node], walk(node)), 500):
            if isinstance(n, ast.Call):
                f = n.func
                name = (
                    f.attr
                    if isinstance(f, ast.Attribute)
                    else f.id
                    if isinstance(f, ast.Name)
                    else ""
                )
                if name in R.ENCODERS:
                    return True
            if isinstance(n, ast.Slice) and n.step is not None:
                return True
            if isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitXor):
                return True
        return False
