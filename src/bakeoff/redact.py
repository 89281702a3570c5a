"""The one redaction filter: every secret bakeoff can know of becomes `[redacted]` before
anything is stored, printed or exported. A secret is the value of an environment variable that
is a provider key (`api_key_env` of a configured provider, announced with
`register_secret_env`) or whose name looks like a credential (`SECRET_ENV_NAME`: *KEY*,
*TOKEN*, *SECRET*, *PASSWORD*, ...). Values are read from `os.environ`, so a key exported after
import is still caught; the environment is compared with the one the search strings were built
from (a dictionary comparison, no decoding), and they are rebuilt only when it changed.

Each value is also caught in the forms a contestant or a server can echo it back in (`forms`):
JSON-escaped (`/` as `\\/` too), `\\u`-escaped, URL-encoded, HTML-escaped, hex (either case),
base64 (standard and URL-safe, at each of the three byte alignments it can sit at inside a
longer encoded text) and reversed. Redaction works on assembled text: a reply streamed in chunks is redacted as the
whole message the transcript holds, never chunk by chunk. A model's strings are also made
storable: a lone surrogate (bytes no UTF-8 output can hold) becomes U+FFFD.

Values shorter than `MIN_SECRET_LENGTH` (8) characters are left alone: no provider issues keys
that short, and redacting `true`, `1` or `8080` wherever they occur would mangle ordinary text.
This module sits at the bottom: it imports nothing from bakeoff, and only the standard library
when it is imported."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, quote_plus

if TYPE_CHECKING:
    from pydantic import BaseModel

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 8
"""Shorter values are never redacted (too many false hits, and no real key is that short)."""

SECRET_ENV_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSW(OR)?D|PASSPHRASE|CREDENTIAL|AUTH(?!OR)", re.IGNORECASE
)
"""Environment variable names that may hold a credential (`GIT_AUTHOR_NAME` is not one).
The redaction filter hides their values; child processes must not see them at all."""

_registered: set[str] = set()
_verdicts: dict[str, bool] = {}  # name -> is_secret_env(name); names are few and rarely new
_lock = threading.Lock()
_generation = 0  # bumped by register_secret_env: the same environment may hold new secrets
_cache: tuple[int, dict[Any, Any], Redactor] | None = None  # (generation, environment, redactor)
_SURROGATE = re.compile(r"[\ud800-\udfff]")

M = TypeVar("M", bound="BaseModel")


def register_secret_env(name: str) -> None:
    """Treat the environment variable `name` as a secret whatever it is called (a provider's
    `api_key_env`); its value is redacted from then on."""
    global _generation
    with _lock:
        _registered.add(name)
        _verdicts.pop(name, None)
        _generation += 1


def is_secret_env(name: str) -> bool:
    """Whether the variable `name` holds a secret: registered, or named like a credential."""
    verdict = _verdicts.get(name)
    if verdict is None:
        verdict = name in _registered or SECRET_ENV_NAME.search(name) is not None
        _verdicts[name] = verdict
    return verdict


def secret_values(environ: Mapping[str, str] | None = None) -> frozenset[str]:
    """The values (stripped, as the model clients use them) of every secret variable in
    `environ` (default: this process's) that are long enough to redact."""
    environ = os.environ if environ is None else environ
    # Only the secret variables' values are read: decoding every value costs more than the rest.
    values = (environ.get(k, "").strip() for k in list(environ) if is_secret_env(k))
    return frozenset(v for v in values if len(v) >= MIN_SECRET_LENGTH)


def forms(value: str) -> set[str]:
    """`value` as it may appear in text: raw, inside a JSON string (ASCII-escaped or not, `/`
    escaped or not) or with every character `\\u`-escaped, URL-encoded, each of those
    HTML-escaped; its UTF-8 bytes in hex (lower and upper case) and in base64 (standard and
    URL-safe: the characters that depend on its bytes alone, for each of the 3 offsets it can
    have in a longer encoded text); and reversed."""
    plain = {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        json.dumps(value)[1:-1].replace("/", "\\/"),  # JSON may escape '/' (PHP does)
        quote(value, safe=""),
        quote(value),
        quote_plus(value, safe=""),
        "".join(f"\\u{ord(c):04x}" for c in value),
        "".join(f"\\u{ord(c):04X}" for c in value),
    }
    escaped = plain | {html.escape(f) for f in plain} | {html.escape(f, quote=False) for f in plain}
    raw = value.encode("utf-8", errors="replace")
    encoded = {raw.hex(), raw.hex().upper()}
    for offset in range(3):
        whole = base64.b64encode(bytes(offset) + raw).decode("ascii")
        # The characters before `first` hold bits of the bytes ahead of it, the ones from `last`
        # on the bits of what follows it: only those between are its own whatever surrounds it.
        first, last = -(-offset * 8 // 6), (offset + len(raw)) * 8 // 6
        core = whole[first:last]
        encoded |= {core, core.translate(_URLSAFE)}
    backwards = {value[::-1], json.dumps(value[::-1])[1:-1]}
    return escaped | encoded | backwards


_URLSAFE = str.maketrans("+/", "-_")


def storable(text: str) -> str:
    """`text` with every lone surrogate (undecodable bytes that a model or a file name brought
    in) replaced by U+FFFD, so that it encodes as UTF-8 (JSON, SQLite, HTML)."""
    return _SURROGATE.sub("\ufffd", text)


class Redactor:
    """Replaces a fixed set of secret values, in every form, with `[redacted]`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        found = {f for s in secrets for f in forms(s)}
        # Longest first: a secret that contains another is replaced whole.
        self.forms = sorted(found, key=lambda f: (-len(f), f))

    def text(self, text: str) -> str:
        """`text` with every form of every secret replaced, and made storable."""
        text = storable(text)
        for form in self.forms:
            if form in text:
                text = text.replace(form, REDACTED)
        return text

    def json(self, obj: Any) -> Any:
        """A copy of a JSON-like structure with every string (keys included) redacted; other
        values are kept as they are."""
        if isinstance(obj, str):
            return self.text(obj)
        if isinstance(obj, Mapping):
            return {self.json(k): self.json(v) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.json(v) for v in obj]
        return obj

    def model(self, model: M) -> M:
        """`model` with every string in it redacted and storable (`storable`); the same object
        when nothing matched."""
        from pydantic import ValidationError  # here: the CLI imports this module at start-up
        from pydantic_core import PydanticSerializationError

        try:
            raw = model.model_dump_json()
        except PydanticSerializationError:  # a lone surrogate: no UTF-8 can hold it
            return type(model).model_validate(self.json(model.model_dump(mode="json")))
        if not self.forms:
            return model
        clean = self.text(raw)
        if clean == raw:
            return model
        try:
            return type(model).model_validate_json(clean)
        except ValidationError:
            # A secret whose raw form spans JSON syntax (quotes in it): go field by field.
            return type(model).model_validate(self.json(model.model_dump(mode="json")))


def current() -> Redactor:
    """The redactor for the secrets in the environment now. The environment is compared with
    the one the redactor was built from, as it is stored (bytes, no decoding: a profile of a
    bake-off found reading the secrets on each of 7,002 calls cost 7% of its time); the secrets
    are read again only when a variable changed or a secret name was registered."""
    global _cache
    data = getattr(os.environ, "_data", None)  # CPython's encoded copy; else read it all
    environ: dict[Any, Any] = data if isinstance(data, dict) else dict(os.environ)
    cached = _cache
    if cached is not None and cached[0] == _generation and cached[1] == environ:
        return cached[2]
    redactor = Redactor(secret_values())
    _cache = (_generation, dict(environ), redactor)
    return redactor


def redact(text: str) -> str:
    """`text` with every known secret replaced by `[redacted]`."""
    return current().text(text)


def redact_json(obj: Any) -> Any:
    """A nested dict/list/str structure with every known secret in its strings redacted."""
    return current().json(obj)


def redact_model(model: M) -> M:
    """A pydantic model with every known secret in its strings redacted (dump, redact,
    validate); the same object when it holds none."""
    return current().model(model)
