"""The semantic half of the tamper scan: what a Python file does to the grader, read from its
syntax tree rather than its text, so a name is found however it is spelled.

Every name the code reaches is followed to what it means (`evals/trial/tamper_names.py`: imports,
aliases, lookups and imports by string, with every string folded first by
`evals/trial/tamper_fold.py`), and the qualified names are judged by `evals/trial/tamper_rules.py`. Code run
from a string (`exec`, `eval`, `compile`) is scanned in turn when the string is a constant, and
is a finding itself when it is not; a name or module computed from something the folder cannot
follow is a finding too, void when it was built from encoded pieces or looked up on a module
that matters. Also found: exits and processes started at import time (not under
`if __name__ == "__main__"`), comparison methods that always agree (`__eq__` returning True),
pytest hooks and plugin lists, and strings that hide a telling word. The walk is iterative and
every repeated cost (code in strings, built strings) is drawn from a per-file budget.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from bakeoff.evals.trial import tamper_rules as R
from bakeoff.evals.trial.tamper_fold import UNKNOWN, Binding
from bakeoff.evals.trial.tamper_names import Names, children, walk
from bakeoff.evals.trial.tamper_rules import Rule, Severity

MAX_EXEC_DEPTH = 3
"""How deep code in a string in code in a string… is followed."""


@dataclass
class _Budget:
    """What one file's scan may still spend, shared with the scans of its `exec` strings."""

    exec_scans: int = 64
    built_chars: int = 1_000_000


@dataclass(frozen=True)
class Hit:
    """One finding in a Python source."""

    line: int | None
    severity: Severity
    rule: Rule
    why: str
    excerpt: str = ""


def _is_dunder_name(node: ast.expr) -> bool:
    """`__name__` or `x.__module__`: how honest code names its own module."""
    name = node.id if isinstance(node, ast.Name) else getattr(node, "attr", "")
    return name in ("__name__", "__module__")


def _is_main_guard(node: ast.If) -> bool:
    t = node.test
    if not (isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Eq)):
        return False
    sides = [t.left, t.comparators[0]]
    return any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides) and any(
        isinstance(s, ast.Constant) and s.value == "__main__" for s in sides
    )


class Analysis:
    """One pass to bind names, one to judge every node; `inherited` carries the bindings of the
    file whose `exec` string this is."""

    def __init__(
        self,
        tree: ast.Module,
        inherited: Mapping[str, Sequence[Binding]],
        depth: int,
        walrus: bool = True,
        budget: _Budget | None = None,
        test_file: bool = False,
    ):
        self.tree = tree
        self.depth = depth
        self.names = Names(tree, inherited, walrus=walrus)
        self.bindings = self.names.bindings
        self.folder = self.names.folder
        self.qualify = self.names.qualify
        self.hits: dict[tuple[int | None, str], Hit] = {}
        self.budget = budget or _Budget()
        self.test_file = test_file
        self.scanned: dict[str | bytes, list[Hit]] = {}
        self.exiting: set[str] = set()
        self.renamed = "__name__" in self.bindings
        """A file that assigns `__name__` runs its `if __name__ == "__main__"` block itself."""

    def run(self) -> list[Hit]:
        self._find_exiting_functions()
        stack: list[tuple[ast.AST, bool, bool]] = [(self.tree, True, False)]
        while stack:  # (node, runs at import time, is a statement of a class body)
            node, at_import, in_class = stack.pop()
            if self._judge(node, at_import, in_class):
                continue  # a folded constant: nothing under it runs
            kids: list[tuple[ast.AST, bool, bool]] = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner = set(map(id, node.body if isinstance(node.body, list) else [node.body]))
                for child in children(node):
                    kids.append((child, at_import and id(child) not in inner, False))
            elif isinstance(node, ast.ClassDef):
                body = set(map(id, node.body))
                kids = [(c, at_import, id(c) in body) for c in children(node)]
            elif isinstance(node, ast.If) and _is_main_guard(node) and not self.renamed:
                body = set(map(id, node.body))
                kids = [(c, at_import and id(c) not in body, False) for c in children(node)]
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
                kids = []  # a docstring or bare string does nothing
            else:
                kids = [(c, at_import, False) for c in children(node)]
            stack.extend(reversed(kids))
        return sorted(self.hits.values(), key=lambda h: (h.line or 0, h.severity != "void"))

    def _find_exiting_functions(self) -> None:
        """Module-level functions and classes that exit when called, directly or through
        each other (`bye()` calls `really_bye()` calls `sys.exit(0)`; `Bye()` exits in
        `__init__`)."""
        callers: dict[str, set[str]] = {}
        for stmt in self.tree.body:
            if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                continue
            for n in walk(stmt):
                if isinstance(n, ast.Call) and isinstance(n.func, ast.Name):
                    callers.setdefault(n.func.id, set()).add(stmt.name)
                if (isinstance(n, ast.Call) and self._exits(n)) or (
                    isinstance(n, ast.Raise) and self._raises_exit(n)
                ):
                    self.exiting.add(stmt.name)
        pending = list(self.exiting)
        while pending:  # whoever calls an exiting function exits too
            for caller in callers.get(pending.pop(), ()):
                if caller not in self.exiting:
                    self.exiting.add(caller)
                    pending.append(caller)

    def _exits(self, call: ast.Call) -> bool:
        """Whether `call` may exit the process with status 0 (a pass, to a check that runs a
        script); an exit with an error status or message can only fail."""
        f = self.qualify(call.func)
        if f not in R.EXIT_CALLS:
            return False
        if f not in ("sys.exit", "builtins.exit", "builtins.quit", "builtins.SystemExit"):
            return True
        arg = call.args[0] if call.args else None
        code = None if arg is None else self.folder.value(arg)
        return code is UNKNOWN or code in (None, 0)

    def _raises_exit(self, node: ast.Raise) -> bool:
        if isinstance(node.exc, ast.Call):
            return self._exits(ast.Call(func=node.exc.func, args=node.exc.args, keywords=[]))
        return node.exc is not None and self.qualify(node.exc) in R.EXIT_CALLS

    # -- judging -----------------------------------------------------------------------------

    def _hit(self, node: ast.AST | None, verdict: R.Verdict, prefix: str = "") -> None:
        line = getattr(node, "lineno", None)
        severity, rule, why = verdict
        if self.test_file and rule == "always-equal":
            severity = "flag"
        key = (line, why)
        if key not in self.hits or (severity == "void" and self.hits[key].severity == "flag"):
            self.hits[key] = Hit(line, severity, rule, prefix + why)

    def _name(self, node: ast.AST, qual: str | None, store: bool = False) -> None:
        if qual is None:
            return
        verdict = R.stored(qual) if store else None
        if verdict is not None:
            self._hit(node, verdict)
        verdict = R.qualified(qual)
        if verdict is not None:
            self._hit(node, verdict)

    def _attr(self, node: ast.AST, attr: str, store: bool = False) -> None:
        verdict = R.ATTRIBUTES.get(attr) or (R.STORE_ATTRIBUTES.get(attr) if store else None)
        if verdict is not None and attr not in self.names.defined:
            self._hit(node, verdict)

    def _judge(self, node: ast.AST, at_import: bool, in_class: bool) -> bool:
        """Findings at `node`; True when it folded to a constant (its children need no look)."""
        if isinstance(node, ast.Import | ast.ImportFrom):
            for a in node.names:
                if isinstance(node, ast.Import):
                    self._name(node, a.name)
                elif node.module and not node.level:
                    self._name(node, node.module if a.name == "*" else f"{node.module}.{a.name}")
        elif isinstance(node, ast.Attribute):
            store = isinstance(node.ctx, ast.Store | ast.Del)
            self._attr(node, node.attr, store)
            qual = self.qualify(node)
            self._name(node, qual, store)
            if qual is not None and qual.endswith(".__dict__"):
                self._namespace(node, qual[: -len(".__dict__")])
        elif isinstance(node, ast.Name):
            if node.id == "__builtins__":
                self._hit(node, R.ATTRIBUTES["__builtins__"])
            elif isinstance(node.ctx, ast.Load) and (node.id in self.bindings or self.names.stars):
                self._name(node, self.qualify(node))
            if node.id == "pytest_plugins" and isinstance(node.ctx, ast.Store):
                self._hit(node, ("void", "pytest", "loads pytest plugins"))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
            self._store_item(node)
        elif isinstance(node, ast.Subscript):
            self._load_item(node)
        elif isinstance(node, ast.Raise) and at_import and self._raises_exit(node):
            self._hit(node, ("void", "exit", "exits the process when imported"))
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            self._definition(node, in_class, at_import)
        elif isinstance(node, ast.Assign):
            for t in node.targets:  # in a class body, or patched on later: `A.__eq__ = …`
                if isinstance(t, ast.Name) and in_class:
                    self._always(t.id, node.value)
                elif isinstance(t, ast.Attribute):
                    self._always(t.attr, node.value)
        elif isinstance(node, ast.Dict):
            for k, v in zip(node.keys, node.values, strict=True):
                key = None if k is None else self.folder.text(k)
                if key is not None:
                    self._always(key, v)
        if isinstance(node, ast.Call):
            self._call(node, at_import)
        if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            self._words(node, node.value, built=False)
        elif isinstance(node, ast.BinOp | ast.JoinedStr | ast.Call | ast.Subscript):
            text = self.folder.text(node)
            if text is not None:
                self._words(node, text, built=True)
                return True
        return False

    def _namespace(self, node: ast.AST, module: str | None) -> None:
        if module is not None and module.split(".", 1)[0] in R.SENSITIVE_ROOTS:
            self._hit(node, ("void", "dynamic", f"reads the namespace of {module}"))

    def _load_item(self, node: ast.Subscript) -> None:
        """`os.__dict__[k]`, `sys.modules[k]` with a key the folder cannot compute."""
        if self.folder.text(node.slice) is not None:
            return
        container = self.qualify(node.value)
        if container == "sys.modules" and not _is_dunder_name(node.slice):
            self._hit(node, ("flag", "dynamic", "reaches a module by a computed name"))

    def _store_item(self, node: ast.Subscript) -> None:
        container = self.qualify(node.value)
        if container == "<globals>":
            if self.folder.text(node.slice) == "__builtins__":
                self._hit(node, R.ATTRIBUTES["__builtins__"])
        elif container is not None:
            self._name(node, container, store=True)

    def _call(self, node: ast.Call, at_import: bool) -> None:
        f = self.qualify(node.func)
        lookup = self.names.attr_lookup(node, f)
        if lookup is not None:
            obj, name_node = lookup
            store = f in (
                "builtins.setattr",
                "builtins.delattr",
                "builtins.object.__setattr__",
            ) or (
                isinstance(node.func, ast.Attribute)
                and node.func.attr in ("__setattr__", "__delattr__")
            )
            name = None if name_node is None else self.folder.text(name_node)
            base = self.qualify(obj)
            if name is not None:
                self._attr(node, name, store)
                self._name(node, f"{base}.{name}" if base else None, store)
                if store and len(node.args) == 3:  # setattr(A, "__eq__", lambda s, o: True)
                    self._always(name, node.args[2])
            elif name_node is not None:
                self._computed(node, name_node, base, "looks up an attribute")
        if f in R.IMPORTERS and node.args:
            name = self.folder.text(node.args[0])
            if name is None:
                self._computed(node, node.args[0], "builtins", "imports a module")
            else:
                self._name(node, name)
        if any(k.arg == "co_code" for k in node.keywords):  # code.replace(co_code=…)
            self._hit(node, R.ATTRIBUTES["co_code"])
        if f in R.NAMESPACE_READERS and node.args:
            self._namespace(node, self.qualify(node.args[0]))
        if f in R.RUNNERS and node.args:
            self._run_string(node, R.RUNNERS[f])
        unpickles = f in ("pickle.loads", "_pickle.loads") and node.args
        if unpickles and isinstance(self.folder.value(node.args[0]), bytes | str):
            self._hit(node, ("void", "exec", "unpickles a constant, which runs code"))
        local = isinstance(node.func, ast.Name) and node.func.id in self.exiting
        if at_import and (self._exits(node) or local):
            self._hit(node, ("void", "exit", "exits the process when imported"))
        if at_import and f is not None and (R.qualified(f) or ("", "", ""))[1] == "process":
            self._hit(node, ("void", "process", "starts a process when imported"))

    def _computed(self, node: ast.Call, name_node: ast.expr, base: str | None, does: str) -> None:
        """A name the folder could not compute: safe behind a known harmless prefix, void when
        built from encoded pieces or looked up on a module that matters, a flag otherwise."""
        prefix = self.names.known_prefix(name_node)
        if prefix and not any(d.startswith(prefix) for d in R.DANGEROUS_NAMES):
            return
        root = (base or "").split(".", 1)[0]
        if self.names.encoded(name_node) or root in R.SENSITIVE_ROOTS:
            where = f" of {base}" if base and base != "builtins" else ""
            self._hit(node, ("void", "dynamic", f"{does}{where} by a name computed at run time"))
        elif not isinstance(name_node, ast.Name | ast.Attribute | ast.Subscript):
            self._hit(node, ("flag", "dynamic", f"{does} by a name computed at run time"))

    def _run_string(self, node: ast.Call, severity: Severity) -> None:
        source = self.folder.value(node.args[0])
        if not isinstance(source, str | bytes):
            if not isinstance(node.args[0], ast.Constant):
                self._hit(node, (severity, "exec", "runs code the scan cannot read"))
            return
        self._hit(node, ("flag", "exec", "runs code from a string"))
        if self.depth >= MAX_EXEC_DEPTH:
            self._hit(node, ("void", "exec", "nests code in strings too deeply to scan"))
            return
        if source not in self.scanned:
            if self.budget.exec_scans <= 0:
                self._hit(node, ("void", "exec", "runs more strings of code than the scan reads"))
                return
            self.budget.exec_scans -= 1
            try:
                tree = ast.parse(source, mode="exec")
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                return  # neither can exec run it
            sub = Analysis(
                tree, self.bindings, self.depth + 1, budget=self.budget, test_file=self.test_file
            )
            self.scanned[source] = sub.run()
        for hit in self.scanned[source]:
            self._hit(node, (hit.severity, hit.rule, hit.why), prefix="in code run from a string: ")

    def _definition(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef,
        in_class: bool,
        at_import: bool,
    ) -> None:
        for decorator in node.decorator_list if at_import else ():
            call = decorator if isinstance(decorator, ast.Call) else ast.Call(decorator, [], [])
            if self._exits(call) or (
                isinstance(call.func, ast.Name) and call.func.id in self.exiting
            ):
                self._hit(decorator, ("void", "exit", "exits the process when imported"))
        if isinstance(node, ast.ClassDef):
            return
        if in_class:
            self._always(node.name, node)
        elif node.name.startswith("pytest_") and node in self.tree.body:
            if node.name == "pytest_generate_tests":
                self._hit(node, ("flag", "pytest", "defines a pytest hook"))
            else:
                self._hit(node, ("void", "pytest", "defines a pytest hook"))

    def _always(self, method: str, body: ast.AST) -> None:
        """Comparison methods that return the same truth whatever they are given."""
        if isinstance(body, ast.Lambda):
            results: list[ast.expr | None] = [body.body]
        elif isinstance(body, ast.FunctionDef | ast.AsyncFunctionDef):
            results = self._returns(body)
        else:
            return
        if method == "__hash__":
            values = [None if r is None else self.folder.value(r) for r in results]
            if values and UNKNOWN not in values:
                self._hit(body, ("flag", "always-equal", "hashes every instance alike"))
        elif method in R.ALWAYS:
            want, severity, side = R.ALWAYS[method]
            truths = [False if r is None else self.folder.truth(r) for r in results]
            if truths and all(t is want for t in truths):
                why = f"defines {method} that always returns {want}: {side}"
                self._hit(body, (severity, "always-equal", why))

    def _returns(self, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.expr | None]:
        """What each `return` of `fn` returns (None for a bare `return`)."""
        return [n.value for n in walk(fn, skip_defs=True) if isinstance(n, ast.Return)]

    def _words(self, node: ast.AST, text: str | bytes, *, built: bool) -> None:
        if isinstance(text, bytes):
            text = text.decode("latin-1")
        if built:
            if self.budget.built_chars < len(text):
                self._hit(node, ("void", "dynamic", "builds more strings than the scan reads"))
                return
            self.budget.built_chars -= len(text)
        elif text in R.VOID_NAMES:  # `f(os, "_exit")`: the whole literal is the name
            self._hit(node, R.VOID_NAMES[text])
        for m in R.WORD.finditer(text):
            found = R.telling_word(m.group(), text[m.start() - 1 : m.start()])
            if found is None:
                continue
            rule, always = found
            if always is not None:
                self._hit(node, ("void", rule, always))
            elif built:
                self._hit(node, ("void", rule, f"builds the name {m.group()!r} at run time"))
            else:
                self._hit(node, ("flag", rule, f"names {m.group()!r}"))
