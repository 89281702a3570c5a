"""A small constant folder over Python's AST, for the tamper scan.

A contestant who wants `os._exit` without writing `_exit` builds the name at run time:
concatenation, `"".join`, `%`/`format`/f-strings, `chr` over a list, slicing, `bytes.decode`,
base64, hex, `codecs.decode(..., "rot13")`. `Folder.value` computes what such an expression
evaluates to when every input is a constant (or a name bound to one), and says `UNKNOWN`
otherwise. It evaluates nothing of the contestant's: only a fixed set of pure operations, each
bounded (strings over `MAX_LEN`, big exponents, wide format fields and decompressing codecs are
`UNKNOWN`), with recursion capped at `MAX_DEPTH`, so a hostile expression costs little time and
memory and never raises.
"""

from __future__ import annotations

import ast
import base64
import binascii
import codecs
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

MAX_DEPTH = 40
MAX_BINDINGS = 64
"""The latest bindings of a name that folding it looks at."""
MAX_STEPS = 200_000
"""Fold steps per file; past this every fold is `UNKNOWN` (nested comprehensions multiply)."""
MAX_LEN = 4096
"""Longest string, bytes or sequence the folder builds; longer is `UNKNOWN`."""


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Final = _Unknown()
"""What an expression folds to when it is not a constant the folder can compute."""

Binding = ast.expr | str | None
"""What a name is bound to: an expression, a module path from an import, or None for a
definition (def, class) that shadows any builtin of that name."""

# Only codecs that map text to text or bytes without decompressing: a zlib or bz2 codec would
# let a few bytes of source ask for gigabytes.
_CODECS = {
    "rot-13", "hex", "base64", "utf-8", "ascii", "latin-1", "iso8859-1", "utf-16", "utf-16-le",
    "utf-16-be", "utf-32", "utf-32-le", "utf-32-be", "utf-7", "unicode-escape",
    "raw-unicode-escape", "quopri", "uu", "cp1252",
}  # fmt: skip
_B64: dict[str, Callable[[bytes], bytes]] = {
    "b64decode": base64.b64decode,
    "standard_b64decode": base64.standard_b64decode,
    "urlsafe_b64decode": base64.urlsafe_b64decode,
    "b32decode": base64.b32decode,
    "b16decode": base64.b16decode,
    "b85decode": base64.b85decode,
    "a85decode": base64.a85decode,
    "decodebytes": base64.decodebytes,
    "b64encode": base64.b64encode,
    "b32encode": base64.b32encode,
    "b16encode": base64.b16encode,
    "unhexlify": binascii.unhexlify,
    "a2b_hex": binascii.a2b_hex,
    "a2b_base64": binascii.a2b_base64,
}
_PURE_METHODS = {
    "lower", "upper", "swapcase", "title", "capitalize", "casefold", "strip", "lstrip",
    "rstrip", "replace", "removeprefix", "removesuffix", "split", "zfill", "hex", "format",
    "join", "decode", "encode",
}  # fmt: skip
_BUILTIN_CALLS = {
    "chr", "ord", "str", "bytes", "bytearray", "reversed", "list", "tuple", "int", "bool", "len",
}  # fmt: skip
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.Is: operator.is_, ast.IsNot: operator.is_not,
    ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
}  # fmt: skip
_WIDE = re.compile(r"\d{4,}")  # a format field this wide builds a huge string
_INT_LIMIT = 1 << 64


class Folder:
    """Folds expressions of one file; `bindings` maps a name to what it was assigned, in
    source order (the last that folds wins), and `qualify` names the function a call reaches
    (`"base64.b64decode"`, `"builtins.chr"`) or None."""

    def __init__(
        self,
        bindings: Mapping[str, Sequence[Binding]],
        qualify: Callable[[ast.expr], str | None],
    ) -> None:
        self._bindings = bindings
        self._qualify = qualify
        self._locals: dict[str, object] = {}
        self._memo: dict[int, object] = {}
        self._names: dict[str, object] = {}
        self._busy: set[int] = set()
        self._steps = 0

    def value(self, node: ast.expr, depth: int = 0) -> object:
        """The constant `node` evaluates to, or `UNKNOWN`."""
        self._steps += 1
        if depth > MAX_DEPTH or id(node) in self._busy or self._steps > MAX_STEPS:
            return UNKNOWN
        key = id(node)
        if key in self._memo and not self._locals:
            return self._memo[key]
        self._busy.add(key)
        try:
            result = self._fold(node, depth + 1)
        except Exception:  # a contestant's constant made an operation fail: not a constant
            result = UNKNOWN
        finally:
            self._busy.discard(key)
        if isinstance(result, str | bytes | tuple) and len(result) > MAX_LEN:
            result = UNKNOWN
        if not self._locals:
            self._memo[key] = result
        return result

    def truth(self, node: ast.expr, depth: int = 0) -> bool | None:
        """Whether `node` is always truthy (True), always falsy (False), or either (None):
        `x or True` is always truthy whatever `x` is."""
        if depth > MAX_DEPTH:
            return None
        if isinstance(node, ast.BoolOp):
            truths = [self.truth(v, depth + 1) for v in node.values[:MAX_LEN]]
            decisive = isinstance(node.op, ast.Or)  # one truthy operand decides an `or`
            if decisive in truths:
                return decisive
            return None if None in truths else not decisive
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.truth(node.operand, depth + 1)
            return None if inner is None else not inner
        if isinstance(node, ast.IfExp):  # `True if x else 1`: both branches agree
            body, orelse = self.truth(node.body, depth + 1), self.truth(node.orelse, depth + 1)
            return body if body == orelse else None
        if (
            isinstance(node, ast.Compare)
            and len(node.ops) == 1
            and isinstance(node.ops[0], ast.Is | ast.IsNot)
            and ast.dump(node.left) == ast.dump(node.comparators[0])
            and isinstance(node.left, ast.Name)
        ):  # `self is self`
            return isinstance(node.ops[0], ast.Is)
        value = self.value(node)
        return None if value is UNKNOWN else bool(value)

    def text(self, node: ast.expr) -> str | None:
        """`node` folded to a str (bytes read as Latin-1), or None."""
        value = self.value(node)
        if isinstance(value, bytes):
            return value.decode("latin-1")
        return value if isinstance(value, str) else None

    def _fold(self, node: ast.expr, depth: int) -> object:
        v = self.value
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            if node.id in self._locals:
                return self._locals[node.id]
            if node.id in self._names:
                return self._names[node.id]
            found: object = UNKNOWN
            # The latest few bindings only: 50,000 uses of a name bound 50,000 times stay cheap.
            for bound in reversed(self._bindings.get(node.id, ())[-MAX_BINDINGS:]):
                if isinstance(bound, ast.expr):
                    found = v(bound, depth)
                    if found is not UNKNOWN:
                        break
            if not self._locals:
                self._names[node.id] = found
            return found
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node, depth)
        if isinstance(node, ast.BinOp):
            return _binop(node.op, v(node.left, depth), v(node.right, depth))
        if isinstance(node, ast.UnaryOp):
            return _unary(node.op, v(node.operand, depth))
        if isinstance(node, ast.BoolOp):
            values = [v(x, depth) for x in node.values]
            if UNKNOWN in values:
                return UNKNOWN
            pick = (lambda x: not x) if isinstance(node.op, ast.And) else bool
            return next((x for x in values[:-1] if pick(x)), values[-1])
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            left, right = v(node.left, depth), v(node.comparators[0], depth)
            compare = _COMPARE.get(type(node.ops[0]))
            if UNKNOWN in (left, right) or compare is None:
                return UNKNOWN
            return compare(left, right)
        if isinstance(node, ast.IfExp):
            test = v(node.test, depth)
            return UNKNOWN if test is UNKNOWN else v(node.body if test else node.orelse, depth)
        if isinstance(node, ast.Tuple | ast.List):
            items = tuple(v(x, depth) for x in node.elts[: MAX_LEN + 1])
            return UNKNOWN if UNKNOWN in items else items
        if isinstance(node, ast.Subscript):
            return self._subscript(node, depth)
        if isinstance(node, ast.GeneratorExp | ast.ListComp):
            return self._comprehension(node, depth)
        if isinstance(node, ast.Call):
            return self._call(node, depth)
        return UNKNOWN

    def _fstring(self, node: ast.JoinedStr, depth: int) -> object:
        parts: list[str] = []
        total = 0
        for part in node.values:
            if isinstance(part, ast.Constant) and isinstance(part.value, str):
                parts.append(part.value)
                total += len(part.value)
                if total > MAX_LEN:
                    return UNKNOWN
                continue
            if not isinstance(part, ast.FormattedValue):
                return UNKNOWN
            value = self.value(part.value, depth)
            spec = "" if part.format_spec is None else self.value(part.format_spec, depth)
            if value is UNKNOWN or not isinstance(spec, str) or _WIDE.search(spec):
                return UNKNOWN
            if part.conversion in (ord("r"), ord("a")):
                value = repr(value) if part.conversion == ord("r") else ascii(value)
            elif part.conversion == ord("s"):
                value = str(value)
            parts.append(format(value, spec))
            total += len(parts[-1])
            if total > MAX_LEN:
                return UNKNOWN
        return "".join(parts)

    def _subscript(self, node: ast.Subscript, depth: int) -> object:
        base = self.value(node.value, depth)
        if not isinstance(base, str | bytes | tuple):
            return UNKNOWN
        s = node.slice
        if isinstance(s, ast.Slice):
            bounds = [
                None if b is None else self.value(b, depth) for b in (s.lower, s.upper, s.step)
            ]
            ints = [b for b in bounds if b is None or isinstance(b, int)]
            return base[slice(*ints)] if len(ints) == 3 else UNKNOWN
        index = self.value(s, depth)
        return base[index] if isinstance(index, int) else UNKNOWN

    def _comprehension(self, node: ast.GeneratorExp | ast.ListComp, depth: int) -> object:
        if len(node.generators) != 1:
            return UNKNOWN
        gen = node.generators[0]
        items = self.value(gen.iter, depth)
        if not isinstance(gen.target, ast.Name) or not isinstance(items, str | bytes | tuple):
            return UNKNOWN
        name, saved = gen.target.id, dict(self._locals)
        out: list[object] = []
        try:
            for item in items:
                self._locals[name] = item
                if all(self.value(cond, depth) is True for cond in gen.ifs):
                    out.append(self.value(node.elt, depth))
        finally:
            self._locals = saved
        return UNKNOWN if UNKNOWN in out else tuple(out)

    def _call(self, node: ast.Call, depth: int) -> object:
        if node.keywords and any(k.arg is None for k in node.keywords):
            return UNKNOWN
        if len(node.args) == 2 and self._qualify(node.func) == "builtins.map":
            fn = self._qualify(node.args[0]) or ""
            if fn.startswith("builtins.") and fn[9:] in _BUILTIN_CALLS:
                return _iterate(self.value(node.args[1], depth), lambda x: _builtin(fn[9:], [x]))
            return UNKNOWN
        args = [self.value(a, depth) for a in node.args]
        kwargs = {k.arg: self.value(k.value, depth) for k in node.keywords if k.arg}
        if UNKNOWN in args or UNKNOWN in kwargs.values() or len(args) > MAX_LEN:
            return UNKNOWN
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr in _PURE_METHODS:
            owner = self.value(func.value, depth)
            if isinstance(owner, str | bytes):
                return _method(owner, func.attr, args, kwargs)
        qual = self._qualify(func) or ""
        module, _, name = qual.rpartition(".")
        if module == "builtins" and name in _BUILTIN_CALLS:
            return _builtin(name, args)
        if qual in ("builtins.bytes.fromhex", "builtins.bytearray.fromhex") and args:
            return bytes.fromhex(str(args[0]))
        if module in ("base64", "binascii") and name in _B64 and args:
            data: Any = args[0]
            return _B64[name](data.encode() if isinstance(data, str) else bytes(data))
        if qual in ("codecs.decode", "codecs.encode") and len(args) >= 1:
            encoding = args[1] if len(args) > 1 else kwargs.get("encoding", "utf-8")
            return _codec(name, args[0], encoding)
        return UNKNOWN


def _codec(direction: str, data: Any, encoding: object) -> object:
    if not isinstance(encoding, str) or codecs.lookup(encoding).name not in _CODECS:
        return UNKNOWN
    if direction == "decode":
        return codecs.decode(data, encoding)
    return codecs.encode(data, encoding)


def _method(owner: str | bytes, name: str, args: list[object], kwargs: dict[str, object]) -> object:
    if name in ("decode", "encode"):
        encoding = args[0] if args else kwargs.get("encoding", "utf-8")
        return _codec(name, owner, encoding)
    if name == "join":
        items = args[0] if args else UNKNOWN
        if not isinstance(items, tuple | str) or _size(items) + len(owner) * len(items) > MAX_LEN:
            return UNKNOWN
        joined: Any = owner.join
        return joined(items)
    # Bound what the call could build before making it: "{0}{0}{0}…" or replace("", big).
    if name == "format":
        if not isinstance(owner, str) or _WIDE.search(owner):
            return UNKNOWN
        grows = owner.count("{") * _size(tuple(args) + tuple(kwargs.values()))
    elif name == "replace":
        old: Any = args[0] if args else ""
        grows = (owner.count(old) + 1) * _size(tuple(args))
    else:
        grows = sum(a for a in args if isinstance(a, int))
    if len(owner) + grows > MAX_LEN:
        return UNKNOWN
    result = getattr(owner, name)(*args, **kwargs)
    return tuple(result) if isinstance(result, list) else result


def _builtin(name: str, args: list[object]) -> object:
    if name in ("reversed", "list", "tuple"):
        items = _iterate(args[0], lambda x: x) if len(args) == 1 else UNKNOWN
        return items[::-1] if name == "reversed" and isinstance(items, tuple) else items
    if name == "bytes" or name == "bytearray":
        if len(args) == 1 and isinstance(args[0], tuple | bytes):
            return bytes(args[0])
        if len(args) == 2 and isinstance(args[0], str):
            return _codec("encode", args[0], args[1])
        return UNKNOWN
    if name == "int" and args and isinstance(args[0], str) and len(args[0]) > 100:
        return UNKNOWN
    call: Any = {"chr": chr, "ord": ord, "str": str, "int": int, "bool": bool, "len": len}[name]
    return call(*args)


def _iterate(items: object, each: Callable[[object], object]) -> object:
    if not isinstance(items, str | bytes | tuple):
        return UNKNOWN
    return tuple(each(x) for x in items)


def _size(values: object) -> int:
    """Characters the values take when formatted (a bound for what a call may build)."""
    if isinstance(values, str | bytes):
        return len(values)
    if isinstance(values, tuple):
        return sum(_size(v) if isinstance(v, str | bytes | tuple) else 24 for v in values)
    return 24


def _binop(op: ast.operator, left: object, right: object) -> object:
    if UNKNOWN in (left, right):
        return UNKNOWN
    if (
        isinstance(op, ast.Add)
        and type(left) is type(right)
        and isinstance(left, str | bytes | tuple)
    ):
        return left + right  # type: ignore[operator]
    if isinstance(op, ast.Mult):
        seq, times = (left, right) if isinstance(right, int) else (right, left)
        if isinstance(seq, str | bytes | tuple) and isinstance(times, int):
            return seq * times if len(seq) * max(times, 0) <= MAX_LEN else UNKNOWN
    if isinstance(op, ast.Mod) and isinstance(left, str | bytes):
        grows = str(left).count("%") * _size(right if isinstance(right, tuple) else (right,))
        if _WIDE.search(str(left)) or len(left) + grows > MAX_LEN:
            return UNKNOWN
        formatted: Any = left
        return formatted % right
    if (
        not (isinstance(left, int) and isinstance(right, int))
        or max(abs(left), abs(right)) > _INT_LIMIT
    ):
        return UNKNOWN
    ints: dict[type[ast.operator], Callable[[int, int], int]] = {
        ast.Add: int.__add__, ast.Sub: int.__sub__, ast.Mult: int.__mul__,
        ast.BitXor: int.__xor__, ast.BitAnd: int.__and__, ast.BitOr: int.__or__,
        ast.FloorDiv: int.__floordiv__, ast.Mod: int.__mod__,
    }  # fmt: skip
    if isinstance(op, ast.LShift | ast.RShift) and 0 <= right <= 64:
        return left << right if isinstance(op, ast.LShift) else left >> right
    fn = ints.get(type(op))
    return UNKNOWN if fn is None else fn(left, right)


def _unary(op: ast.unaryop, operand: object) -> object:
    if operand is UNKNOWN:
        return UNKNOWN
    if isinstance(op, ast.Not):
        return not operand
    if isinstance(operand, int):
        return {ast.USub: -operand, ast.UAdd: operand, ast.Invert: ~operand}.get(type(op), UNKNOWN)
    return UNKNOWN
