"""The one redaction filter: every secret bakeoff can know of becomes `[redacted]` before
anything is stored, printed or exported. A secret is the value of an environment variable that
is a provider key (`api_key_env` of a configured provider, announced with
`register_secret_env`) or whose name looks like a credential (`SECRET_ENV_NAME`: *KEY*,
*TOKEN*, *SECRET*, *PASSWORD*, ...). Values are read from `os.environ` at call time, so a key
exported after import is still caught; the search strings are rebuilt only when those values
change. Each value is also caught in the forms it takes on its way into a record or a report:
JSON-escaped, URL-encoded and HTML-escaped.

Values shorter than `MIN_SECRET_LENGTH` (8) characters are left alone: no provider issues keys
that short, and redacting `true`, `1` or `8080` wherever they occur would mangle ordinary text.
This module sits at the bottom: it imports nothing from bakeoff, and only the standard library
when it is imported."""

from __future__ import annotations

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
_cache: tuple[frozenset[str], Redactor] | None = None

M = TypeVar("M", bound="BaseModel")


def register_secret_env(name: str) -> None:
    """Treat the environment variable `name` as a secret whatever it is called (a provider's
    `api_key_env`); its value is redacted from then on."""
    with _lock:
        _registered.add(name)
        _verdicts.pop(name, None)


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


def _forms(value: str) -> set[str]:
    """`value` as it may appear in text: raw, inside a JSON string (ASCII-escaped or not),
    URL-encoded, and each of those HTML-escaped."""
    plain = {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        quote(value, safe=""),
        quote(value),
        quote_plus(value, safe=""),
    }
    return plain | {html.escape(f) for f in plain} | {html.escape(f, quote=False) for f in plain}


class Redactor:
    """Replaces a fixed set of secret values, in every form, with `[redacted]`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        forms = {f for s in secrets for f in _forms(s)}
        # Longest first: a secret that contains another is replaced whole.
        self.forms = sorted(forms, key=lambda f: (-len(f), f))

    def text(self, text: str) -> str:
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
        """`model` with every string in it redacted; the same object when nothing matched."""
        from pydantic import ValidationError  # here: the CLI imports this module at start-up

        if not self.forms:
            return model
        raw = model.model_dump_json()
        clean = self.text(raw)
        if clean == raw:
            return model
        try:
            return type(model).model_validate_json(clean)
        except ValidationError:
            # A secret whose raw form spans JSON syntax (quotes in it): go field by field.
            return type(model).model_validate(self.json(model.model_dump(mode="json")))


def current() -> Redactor:
    """The redactor for the secrets in the environment now (rebuilt only when they change)."""
    global _cache
    values = secret_values()
    cached = _cache
    if cached is not None and cached[0] == values:
        return cached[1]
    redactor = Redactor(values)
    _cache = (values, redactor)
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
