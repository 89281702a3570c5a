"""Preflight: before a bake-off starts, every contestant and judge is made and reached once,
all at the same time and under a short timeout, so that a missing or refused key, a stopped
server, a server that lists models but fails every chat, a local build that crashes, or an
unknown model stops the run with one message naming every such model and what to do — instead
of a run of instant failures. Making a model catches missing keys and unknown ids; `Model.ping`
is a real round trip: one chat request for one output token (the embedded model loads and
generates its self-check token; scripted models only exist). What the probes cost is counted
(`Ready.spent_usd`) and added to the run's spend."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from bakeoff.config import BakeoffConfig
from bakeoff.errors import MissingKeyError, ProviderError, ProviderUnreachable, UserError
from bakeoff.models.base import Model
from bakeoff.models.model_id import ModelId
from bakeoff.models.registry import resolve_model
from bakeoff.types import Completion, total_cost

PREFLIGHT_TIMEOUT_S = 10.0
"""How long one model may take to answer its probe."""

START_COMMANDS: dict[str, str] = {
    "ollama": "ollama serve",
    "vllm": "vllm serve MODEL",
    "llamacpp": "llama-server -m MODEL.gguf --port 8080",
    "lmstudio": "lms server start",
}
"""How to start the server of a built-in local provider, for the unreachable message."""


@dataclass(frozen=True)
class PreflightProblem:
    """One model that cannot be used: what is wrong and what to do about it."""

    model: str
    role: str  # "model", "judge", or "model and judge"
    problem: str
    fix: str = ""

    def line(self) -> str:
        who = self.model if self.role == "model" else f"{self.model} ({self.role})"
        return f"{who}: {self.problem}" + (f" → {self.fix}" if self.fix else "")


class PreflightFailed(UserError):
    """Some models cannot be reached or used; the message names each one and the fix."""

    def __init__(
        self, problems: Sequence[PreflightProblem], total: int, *, pinged: bool = True
    ) -> None:
        self.problems = list(problems)
        lines = "\n".join(f"  {p.line()}" for p in self.problems)
        # Without the ping only unusable ids and missing keys are left: skipping cannot help.
        skip = (
            ", or pass --no-preflight to skip this check (their trials are then recorded as "
            "errors and left out of the grades)"
            if pinged
            else ""
        )
        super().__init__(
            f"{len(self.problems)} of {total} models cannot be used, so nothing ran:\n{lines}\n"
            f"Fix these and run again{skip}."
        )


@dataclass
class Ready:
    """The models made (and reached) by preflight, by id, and what reaching them cost."""

    contestants: dict[str, Model]
    judges: dict[str, Model]
    probes: dict[str, Completion] = field(default_factory=dict)

    @property
    def spent_usd(self) -> float | None:
        """What the probes cost: None when a probe's price is unknown."""
        return total_cost(c.cost_usd for c in self.probes.values())

    def note(self) -> str | None:
        """One line for the run's notes: how many probes were paid for, and their cost."""
        if not self.probes:
            return None
        spent = self.spent_usd
        cost = "cost unknown" if spent is None else f"${spent:.6f}"
        return (
            f"Preflight: {len(self.probes)} one-token chat request(s), {cost} "
            "(counted in the run's spend)"
        )


async def ready_models(
    contestants: Sequence[str],
    judges: Sequence[str],
    config: BakeoffConfig,
    *,
    ping: bool = True,
    timeout_s: float = PREFLIGHT_TIMEOUT_S,
) -> Ready:
    """Make every contestant and judge and, with `ping`, reach each once concurrently. Raises
    `PreflightFailed` naming every model that cannot be made or reached (the ones made are
    closed first); returns them by id otherwise, with what the probes cost."""
    roles: dict[str, list[str]] = {}
    for model_id in contestants:
        roles.setdefault(model_id, []).append("model")
    for model_id in judges:
        roles.setdefault(model_id, []).append("judge")
    role = {m: " and ".join(dict.fromkeys(r)) for m, r in roles.items()}
    made: dict[str, Model] = {}
    problems: list[PreflightProblem] = []
    for model_id in roles:
        try:
            made[model_id] = resolve_model(model_id, config)
        except UserError as exc:
            problems.append(problem_of(model_id, role[model_id], exc, config, timeout_s))
    probes: dict[str, Completion] = {}
    if ping:
        found = await asyncio.gather(
            *(_reach(m, model, role[m], config, timeout_s) for m, model in made.items())
        )
        for model_id, answer in zip(made, found, strict=True):
            if isinstance(answer, PreflightProblem):
                problems.append(answer)
            elif answer is not None:
                probes[model_id] = answer
    if problems:
        for model in made.values():
            with contextlib.suppress(Exception):
                await model.aclose()
        order = list(roles)
        problems.sort(key=lambda p: order.index(p.model))
        raise PreflightFailed(problems, len(roles), pinged=ping)
    return Ready({m: made[m] for m in contestants}, {j: made[j] for j in judges}, probes)


async def _reach(
    model_id: str, model: Model, role: str, config: BakeoffConfig, timeout_s: float
) -> PreflightProblem | Completion | None:
    # A local model loading its weights may take longer than a remote one answering.
    limit = max(timeout_s, getattr(model, "ping_timeout_s", None) or 0.0)
    try:
        async with asyncio.timeout(limit):
            return await model.ping()
    except ProviderError as exc:
        if exc.status == 429 and "quota" not in str(exc).lower():
            return None  # busy, but it took the key and answered: usable
        return problem_of(model_id, role, exc, config, limit)
    except Exception as exc:  # any failure, even an adapter's bug, is this model's problem
        return problem_of(model_id, role, exc, config, limit)


def problem_of(
    model_id: str, role: str, exc: BaseException, config: BakeoffConfig, timeout_s: float
) -> PreflightProblem:
    """What went wrong with `model_id`, in words, and the fix where one is known."""
    parsed: ModelId | None = None
    with contextlib.suppress(UserError):  # an unknown id: its own message says what is wrong
        parsed = ModelId.parse(model_id, config)
    provider = parsed.provider if parsed is not None else ""
    cfg = parsed.settings if parsed is not None else None
    url = cfg.base_url if cfg is not None else None
    key_env = cfg.api_key_env if cfg is not None else None
    if isinstance(exc, MissingKeyError) and key_env:
        return PreflightProblem(model_id, role, f"{key_env} is not set", f"export {key_env}=...")
    if isinstance(exc, TimeoutError):
        where = f" from {url}" if url else ""
        return PreflightProblem(
            model_id,
            role,
            f"no answer within {timeout_s:g} s{where}",
            "check that its server is up and not overloaded",
        )
    if isinstance(exc, ProviderUnreachable) and url:
        start = START_COMMANDS.get(provider)
        fix = (
            f"start it: `{start}`"
            if start
            else f"start its server, or fix [providers.{provider}] base_url in bakeoff.toml"
        )
        return PreflightProblem(model_id, role, f"no server answers at {url}", fix)
    if isinstance(exc, ProviderError) and exc.status in (401, 403):
        fix = f"check {key_env}" if key_env else "check the key its server expects"
        return PreflightProblem(model_id, role, f"the key was refused (HTTP {exc.status})", fix)
    if isinstance(exc, ProviderError) and exc.status is not None and exc.status >= 500:
        return PreflightProblem(model_id, role, str(exc), "try again once the provider recovers")
    if isinstance(exc, UserError | ProviderError):
        return PreflightProblem(model_id, role, str(exc))
    return PreflightProblem(model_id, role, f"{type(exc).__name__}: {exc}")
