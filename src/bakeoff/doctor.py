"""`bakeoff doctor`: whether this machine can run a bake-off, as one finding per check, each
with what to do when it fails. The checks: the sandbox runs Python in bubblewrap; the embedded
model loads and generates (its load time and tokens/s); every provider with a key set, or a
server answering on this machine, answers a one-token chat request, once, without retries; the
results store opens (or can be created); Chromium is present (optional). They run at the same
time, each under its own timeout, and nothing a check meets — a crashed server, a provider's
garbage, a damaged store — raises out of it: it becomes that check's finding. A provider with no
key, or no server listening, is skipped, not failed; `models` names exactly what to check."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import os
import shlex
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from bakeoff import sandbox
from bakeoff.config import BakeoffConfig, ProviderConfig
from bakeoff.errors import BakeoffError, EmptyAnswer, ProviderError, UserError
from bakeoff.evals.store.store import Store, default_store_path
from bakeoff.models.base import Model, ModelAdapter, RetryPolicy
from bakeoff.models.gguf import embedded_spec
from bakeoff.models.model_id import BUILTIN_ALIASES, ModelId, provider_of
from bakeoff.models.preflight import START_COMMANDS, problem_of
from bakeoff.models.registry import is_reasoning_model, resolve_model
from bakeoff.redact import redact
from bakeoff.types import Message

CheckName = Literal["sandbox", "local", "providers", "store", "chromium"]
CHECK_NAMES: tuple[CheckName, ...] = get_args(CheckName)
Status = Literal["ok", "failed", "warning", "skipped"]

QUICK_TIMEOUT_S = 30.0
"""Each check but the embedded model's."""
LOCAL_TIMEOUT_S = 600.0
"""The embedded model's: a first start assembles its weights and loads them on a slow CPU."""
LOCAL_PROBE_TOKENS = 16
"""Tokens the embedded model is asked for: enough for a tokens/s figure, a second or two."""
PROMPT = [Message(role="user", content="Reply with one word: OK")]
COUNTING = [Message(role="user", content="Count from 1 to 40, separated by spaces.")]
"""The embedded model's probe: a reply longer than LOCAL_PROBE_TOKENS, so its speed is
measured over many tokens, not one."""
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
USERNS_FIX = (
    "allow unprivileged user namespaces (`sysctl -w kernel.unprivileged_userns_clone=1`; in "
    "Docker: --security-opt seccomp=unconfined --security-opt apparmor=unconfined). Until "
    "then checks run unsandboxed, marked so in every report, and run_command needs "
    "--unsafe-no-sandbox"
)


@dataclass(frozen=True)
class Finding:
    """The result of one check: what was found and, when it is not ok, what to do."""

    check: CheckName
    subject: str
    """What was checked: "sandbox", "store", a model id..."""
    status: Status
    detail: str
    fix: str = ""
    required: bool = True
    """A failure makes `bakeoff doctor` exit 1 (Chromium's does not)."""
    duration_s: float = 0.0
    measures: dict[str, float] = field(default_factory=dict)
    """Numbers behind the detail: the embedded model's load_s and tokens_per_s."""

    @property
    def blocking(self) -> bool:
        return self.required and self.status == "failed"

    def public(self) -> dict[str, Any]:
        """The `doctor --json` entry."""
        return {**asdict(self), "blocking": self.blocking}


async def diagnose(
    config: BakeoffConfig,
    *,
    checks: Collection[CheckName] = CHECK_NAMES,
    models: Sequence[str] | None = None,
    store_path: Path | None = None,
    timeout_s: float | None = None,
    on_finding: Callable[[Finding], None] | None = None,
) -> list[Finding]:
    """Run `checks` concurrently; return their findings in a fixed order (the slow embedded
    model last), each passed to `on_finding` as soon as it and those before it are done.
    `models` (ids or aliases) replaces the default models: one per usable provider and the
    embedded model; `timeout_s` replaces every check's own timeout."""
    jobs: list[Awaitable[Finding]] = []
    if "sandbox" in checks:
        jobs.append(_guarded("sandbox", "sandbox", _check_sandbox(timeout_s or QUICK_TIMEOUT_S)))
    if "store" in checks:
        # SQLite's busy timeout (10 s) bounds this one: a thread cannot be cancelled.
        store = asyncio.to_thread(_check_store, store_path or default_store_path())
        jobs.append(_guarded("store", "store", store))
    if "chromium" in checks:
        jobs.append(_guarded("chromium", "chromium", _check_chromium()))
    local: list[str] = []
    if models is None:
        if "providers" in checks:
            for name, provider in config.providers.items():
                if provider.kind not in ("local", "script"):
                    check = _check_provider(name, provider, config, timeout_s)
                    jobs.append(_guarded("providers", name, check))
        local = ["local"] if "local" in checks else []
    else:
        for model_id in dict.fromkeys(models):
            if _is_embedded(model_id, config):
                local += [model_id] if "local" in checks else []
            elif "providers" in checks:
                chat = _check_chat(model_id, config, timeout_s or QUICK_TIMEOUT_S, chosen=True)
                jobs.append(_guarded("providers", model_id, chat))
    for model_id in local:
        check = _check_local(model_id, config, timeout_s or LOCAL_TIMEOUT_S)
        jobs.append(_guarded("local", model_id, check))
    tasks = [asyncio.ensure_future(job) for job in jobs]
    findings = []
    try:
        for task in tasks:
            findings.append(await task)
            if on_finding is not None:
                on_finding(findings[-1])
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return findings


async def _guarded(check: CheckName, subject: str, job: Awaitable[Finding]) -> Finding:
    """`job`'s finding with its duration; a check that raises (a bug of ours, or something no
    check foresaw) is a failed finding that says so, never a crash of the others."""
    started = time.perf_counter()
    try:
        finding = await job
    except Exception as exc:
        finding = Finding(
            check,
            subject,
            "failed",
            f"the check itself failed: {type(exc).__name__}: {redact(str(exc))}",
            "please report this as a bakeoff bug, with this line",
        )
    return replace(finding, duration_s=round(time.perf_counter() - started, 3))


_SANDBOX = functools.partial(Finding, "sandbox", "sandbox")
_STORE = functools.partial(Finding, "store", "store")
_CHROMIUM = functools.partial(Finding, "chromium", "chromium", required=False)


# --- the sandbox -------------------------------------------------------------------------------


async def _check_sandbox(timeout_s: float) -> Finding:
    status = await asyncio.to_thread(sandbox.sandbox_status)
    if not status.available:
        fix = "`make sandbox`, or your system's bubblewrap package" if status.bwrap is None else ""
        return _SANDBOX("failed", status.reason, fix or USERNS_FIX)
    # A real step, as a check runs one: the Python that runs bakeoff, inside the sandbox.
    probe = "import sys; print('python', sys.version_info[0], 'in the sandbox')"
    with tempfile.TemporaryDirectory(prefix="bakeoff-doctor-") as scratch:
        workspace = Path(scratch) / "workspace"
        workspace.mkdir()
        try:
            step = await sandbox.run_sandboxed(
                f"{shlex.quote(sys.executable)} -c {shlex.quote(probe)}",
                workspace=workspace,
                output_path=Path(scratch) / "output.log",
                timeout_s=timeout_s,
                env=sandbox.step_env(workspace),
            )
            output = sandbox.read_tail(step.output_path, 1000).strip()
        except (OSError, RuntimeError) as exc:
            return _SANDBOX("failed", f"bubblewrap failed: {exc}", USERNS_FIX)
    if step.exit_code != 0:
        last = output.splitlines()[-1] if output else "no output"
        return _SANDBOX(
            "failed",
            f"bubblewrap starts, but {sys.executable} does not run inside it "
            f"(exit {step.exit_code}: {last[:200]})",
            "checks cannot run sandboxed here: report it with `bakeoff doctor --json`",
        )
    return _SANDBOX("ok", f"bubblewrap works ({status.bwrap})")


# --- models ------------------------------------------------------------------------------------


def _is_embedded(model_id: str, config: BakeoffConfig) -> bool:
    try:
        return ModelId.parse(model_id, config).kind == "local"
    except UserError:
        return False  # the chat check says what is wrong with the id


def _one_try(model: Model) -> None:
    # A doctor reports what the provider does now: a retry with back-off would hide a flaky
    # provider and make a dead one take half a minute to report.
    if isinstance(model, ModelAdapter):
        model.retry = RetryPolicy(max_retries=0)


async def _close(model: Model) -> None:
    with contextlib.suppress(Exception):  # a model that cannot even close has been reported
        await model.aclose()


async def _check_provider(
    name: str, provider: ProviderConfig, config: BakeoffConfig, timeout_s: float | None
) -> Finding:
    """One provider, through a model of its own: skipped when it has no key or, on this
    machine, no server listening — the user does not use it."""
    env = provider.api_key_env
    if env and not os.environ.get(env, "").strip():
        return Finding(
            "providers", name, "skipped", f"{env} is not set", f"export {env}=... to use it", False
        )
    if provider.is_loopback and provider.base_url and not await _listening(provider.base_url):
        start = START_COMMANDS.get(name)
        fix = f"start it (`{start}`) to use it" if start else "start its server to use it"
        return Finding(
            "providers", name, "skipped", f"no server at {provider.base_url}", fix, False
        )
    model_id, users = _model_of(name, config)
    if model_id is None:
        return Finding(
            "providers",
            name,
            "skipped",
            "no model of this provider is known",
            f"bakeoff doctor --models {name}:MODEL, or add an alias for one in bakeoff.toml",
            False,
        )
    return await _check_chat(model_id, config, timeout_s or QUICK_TIMEOUT_S, chosen=users)


def _model_of(provider: str, config: BakeoffConfig) -> tuple[str | None, bool]:
    """The model a provider is checked with, and whether the user chose it: the first of
    their aliases or priced models of it, else the cheapest built-in alias that answers
    without thinking first (a thinking model may spend its one token thinking)."""
    for model_id in [*config.aliases.values(), *config.prices]:
        if provider_of(model_id) == provider:
            return model_id, True
    builtin = [m for m in BUILTIN_ALIASES.values() if provider_of(m) == provider]

    def cheapest(model_id: str) -> tuple[bool, float]:
        model = ModelId.stored(model_id, config)
        price = model.price
        return is_reasoning_model(model.name), price.output if price else float("inf")

    return min(builtin, key=cheapest, default=None), False


async def _listening(base_url: str, timeout_s: float = 0.5) -> bool:
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        async with asyncio.timeout(timeout_s):
            _, writer = await asyncio.open_connection(parts.hostname or "127.0.0.1", port)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _check_chat(
    model_id: str, config: BakeoffConfig, timeout_s: float, *, chosen: bool
) -> Finding:
    """One one-token chat request to `model_id`. A 404 on a model the user did not choose
    (a built-in alias doctor picked) is a warning: the server answered, and only lacks it."""
    try:
        parsed = ModelId.parse(model_id, config)
        model_id = str(parsed)
        model = resolve_model(parsed)
    except UserError as exc:
        problem = problem_of(model_id, "model", exc, config, timeout_s)
        return Finding("providers", model_id, "failed", problem.problem, problem.fix)
    _one_try(model)
    try:
        async with asyncio.timeout(timeout_s):
            completion = await model.complete(PROMPT, [], max_output_tokens=1)
    except EmptyAnswer:  # a thinking model spent its one token thinking: it answered
        return Finding("providers", model.id, "ok", "answered (no text within one token)")
    except Exception as exc:  # whatever the provider sends back is its finding, never a crash
        problem = problem_of(model.id, "model", exc, config, timeout_s)
        not_served = isinstance(exc, ProviderError) and exc.status == 404 and not chosen
        fix = problem.fix or (
            f"bakeoff doctor --models {model.provider}:MODEL with a model it serves"
            if not_served
            else ""
        )
        return Finding(
            "providers",
            model.id,
            "warning" if not_served else "failed",
            redact(problem.problem),
            redact(fix),
        )
    finally:
        await _close(model)
    cost = "" if completion.cost_usd is None else f", ${completion.cost_usd:.6f}"
    return Finding(
        "providers", model.id, "ok", f"answered in {completion.timing.latency_s:.1f} s{cost}"
    )


async def _check_local(model_id: str, config: BakeoffConfig, timeout_s: float) -> Finding:
    """The embedded model: installed, loads, and generates; with its load time and tokens/s."""
    try:
        model = resolve_model(model_id, config)
    except UserError as exc:
        return Finding("local", model_id, "failed", str(exc))
    _one_try(model)
    try:
        async with asyncio.timeout(timeout_s):
            missing = _not_installed(model.name)
            if missing:
                return Finding("local", model.id, "failed", "not installed", missing)
            load_s = await model.start()
            completion = await model.complete(COUNTING, [], max_output_tokens=LOCAL_PROBE_TOKENS)
    except TimeoutError:
        return Finding(
            "local",
            model.id,
            "failed",
            f"no answer within {timeout_s:g} s",
            "a slow or busy CPU: try again with --timeout SECONDS, or `make rebuild-local`",
        )
    except Exception as exc:  # the server's own words: a crash names its signal and log
        return Finding("local", model.id, "failed", "cannot run", redact(str(exc).strip()))
    finally:
        await _close(model)
    timing = completion.timing
    tokens = completion.usage.output_tokens or timing.output_tokens
    first_s = timing.ttft_s if timing.ttft_s is not None else timing.latency_s
    # Generation speed after the first token (the prompt's evaluation is `first_s`).
    decoding_s = timing.latency_s - first_s
    rate = (tokens - 1) / decoding_s if tokens > 1 and decoding_s > 0 else None
    measures = {"load_s": round(load_s, 2), "first_token_s": round(first_s, 2)}
    measures["output_tokens"] = float(tokens)
    speed = ""
    if rate is not None:
        measures["tokens_per_s"] = round(rate, 1)
        speed = f", {rate:.1f} tokens/s"
    detail = f"loaded in {load_s:.1f} s, first token in {first_s:.1f} s{speed}"
    return Finding("local", model.id, "ok", detail, measures=measures)


def _not_installed(name: str) -> str:
    """What to install for the embedded model `name`, or "" when nothing is missing. Not
    `ping()`: that loads the model to test it, and then the check would load it twice."""
    if importlib.util.find_spec("llama_cpp") is None:
        return "llama.cpp is missing: pip install 'bakeoff[local]' (or `make install`)"
    spec = embedded_spec(name)
    return "" if spec.installed() else f"the weights of {name} are missing: {spec.install}"


# --- store and browser -------------------------------------------------------------------------


def _check_store(path: Path) -> Finding:
    """The results store opens and is writable; one that does not exist yet can be created
    (nothing is created here)."""
    try:
        return _store_finding(path)
    except OSError as exc:  # a name too long, a folder this user may not enter...
        why = exc.strerror or str(exc)
        return _STORE("failed", f"{path}: {why}", "pass --store FILE")


def _store_finding(path: Path) -> Finding:
    if path.exists():
        try:
            store = Store(path)
            try:
                runs = len(store.list_runs())
            finally:
                store.close()
        except (BakeoffError, sqlite3.Error, OSError) as exc:
            return _STORE(
                "failed",
                f"{path} cannot be used: {exc}",
                f"move it aside (`mv {path} {path}.bak`), or pass --store FILE",
            )
        if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
            return _STORE("failed", f"{path} is read-only", "pass --store FILE elsewhere")
        return _STORE("ok", f"{path}: {runs} runs, writable")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if folder.is_dir() and os.access(folder, os.W_OK | os.X_OK):
        return _STORE("ok", f"{path} will be created by the first run")
    return _STORE(
        "failed",
        f"cannot create {path}: {folder} is not a writable folder",
        "pass --store FILE in a writable folder, or set BAKEOFF_STORE",
    )


async def _check_chromium() -> Finding:
    found = next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    if found is None:
        return _CHROMIUM(
            "skipped",
            "not found (optional: only the HTML report's browser tests use it)",
            "`make browser`",
        )
    return _CHROMIUM("ok", found)
