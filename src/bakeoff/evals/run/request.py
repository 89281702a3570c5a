"""What a bake-off is asked to do, as one value: `BakeoffRequest`, validated once when it is
made (every shell and the Python API build one; `run_bakeoff` takes it); `choose_tasks`, the
tasks a new run of it runs; and `resolve_run_id`, the stored run `latest` stands for. A
request that breaks a rule is a `UserError` in one line that names the field, so the CLI exits
2 and the MCP server answers a tool error; nothing is made, reached or stored before that."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bakeoff.agent import AgentConfig
from bakeoff.errors import UserError
from bakeoff.evals.store.records import GradeWeights, UntilDecided
from bakeoff.evals.store.store import Store, check_run_id
from bakeoff.evals.trial.task import TaskSpec
from bakeoff.labels import merge_labels
from bakeoff.models.preflight import PREFLIGHT_TIMEOUT_S

Executor = Literal["local", "ray"]
"""Where trials run: in this process, or as Ray tasks on a cluster (bakeoff[ray])."""


class BakeoffRequest(BaseModel):
    """A bake-off as asked: which tasks, which models, how often, graded how, within which
    limits. A new run needs `models`; `resume` or `retry_errors` continue a stored run, which
    keeps its own tasks, models and settings."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    models: list[str] = Field(default_factory=list)
    """Contestants: model ids or aliases (`bakeoff models`); a repeated one runs once."""
    tasks: list[str] = Field(default_factory=list)
    """As `bakeoff run` takes them: task folders, folders of tasks, built-in task names, or
    prompts in quotes (`evals.run.selection.select_tasks`). None, and no `prompts`: the built-in
    suite."""
    prompts: list[str] = Field(default_factory=list)
    """Prompts run as ad-hoc tasks, never read as a path or a task name (for a caller that
    has told them apart, as the MCP server does)."""
    files: Path | None = None
    """With a prompt: the folder every model starts from (a fresh copy each)."""
    task_patterns: list[str] = Field(default_factory=list)
    """Only tasks whose name matches one of these shell globs."""
    category: str | None = None
    """Only tasks of this category (any case)."""
    quick: bool = False
    """Only tasks tagged `quick` (`bakeoff demo`)."""
    judges: list[str] = Field(default_factory=list)
    """Judge models; each grades every trial (and every pair with `pairwise`)."""
    repeats: int = 1
    """Trials per task and model, at least 1."""
    pairwise: bool = False
    """Also judge every pair of models head to head, in both orders (needs a judge)."""
    judge_sees_checks: bool = False
    """Show judges the check's verdict and output (off: they grade blind)."""
    weights: GradeWeights | None = None
    """How quality is weighed; None: the config's `[weights]`."""
    run_id: str | None = None
    """The new run's id, a plain name (`store.check_run_id`); None: a timestamp."""
    resume: str | None = None
    """Continue this stored run (or `latest`): its missing and errored trials."""
    retry_errors: str | None = None
    """Rerun only the errored trials of this stored run (or `latest`), replacing their
    records."""
    preflight: bool = True
    """Reach every model once before anything runs (`bakeoff.models.preflight`)."""
    preflight_timeout_s: float = PREFLIGHT_TIMEOUT_S
    """How long the preflight waits for each model, in seconds."""
    max_cost_usd: float | None = None
    """Start no trial once contestants and judges have spent this many USD."""
    allow_unpriced: bool = False
    """With `max_cost_usd`: run models of unknown price, their spend counted as $0."""
    agent: AgentConfig | None = None
    """The contestants' limits and sandbox; None: `AgentConfig` with the config's
    `[protected]` paths."""
    max_parallel: int = 32
    """The most trials in flight at once."""
    executor: Executor = "local"
    """Run trials in this process or as Ray tasks."""
    ray_address: str | None = None
    """With executor "ray": the cluster to join (None: start a local one)."""
    tags: dict[str, str] = Field(default_factory=dict)
    """The new run's labels (`bakeoff.labels`); a continued run keeps its own."""
    until_decided: UntilDecided | None = None
    """Add repeats to undecided pairs after the planned ones (`evals/verdict/sequential.py`)."""

    @model_validator(mode="wrap")
    @classmethod
    def _one_line(cls, data: Any, handler: Any) -> Any:
        # A broken rule reads as the user's mistake in one line, not a pydantic report.
        try:
            return handler(data)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "request"
            raise UserError(f"bake-off request: {where}: {err['msg']}") from None

    @field_validator("tasks", "prompts", "judges", "models", mode="before")
    @classmethod
    def _paths_as_text(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            return [os.fspath(v) if isinstance(v, os.PathLike) else v for v in value]
        return value

    @field_validator("repeats", "max_parallel")
    @classmethod
    def _at_least_one(cls, value: int, info: ValidationInfo) -> int:
        if value < 1:
            raise UserError(f"{info.field_name} must be at least 1 (got {value})")
        return value

    @field_validator("max_cost_usd", "preflight_timeout_s")
    @classmethod
    def _finite_positive(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and not 0 < value < math.inf:  # NaN fails this too
            raise UserError(
                f"{info.field_name} {value!r} is not a limit: give a finite number above 0"
            )
        return value

    @field_validator("run_id")
    @classmethod
    def _plain_run_id(cls, value: str | None) -> str | None:
        return None if value is None else check_run_id(value)

    @field_validator("resume", "retry_errors")
    @classmethod
    def _stored_run(cls, value: str | None) -> str | None:
        # `latest`: the newest stored run, found when the run starts (`resolve_run_id`).
        return value if value is None or value == "latest" else check_run_id(value)

    @field_validator("tags")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        try:
            return merge_labels(value)
        except ValueError as exc:
            raise UserError(str(exc)) from None

    @model_validator(mode="after")
    def _consistent(self) -> BakeoffRequest:
        if self.resume and self.retry_errors:
            raise UserError("--resume and --retry-errors cannot be combined: choose one")
        if self.continues is None:
            if not self.models:
                raise UserError("no models given: pass --models ID,ID,... (see `bakeoff models`)")
            if self.pairwise and not self.judges:
                raise UserError("--pairwise needs --judge ID (the judge that compares each pair)")
        elif self.tags:
            raise UserError(
                "--label labels a new run: a resumed run keeps the labels it began with"
            )
        return self

    @property
    def continues(self) -> str | None:
        """The stored run this request continues (`resume` or `retry_errors`), else None."""
        return self.resume or self.retry_errors


def resolve_run_id(store: Store, given: str) -> str:
    """`given`, or the newest stored run's id for `latest`."""
    if given != "latest":
        return given
    runs = store.list_runs()
    if not runs:
        raise UserError(f"no runs yet in {store.path}: `latest` needs one (try `bakeoff run`)")
    return str(runs[0]["run_id"])


def choose_tasks(request: BakeoffRequest, adhoc_root: Path) -> list[TaskSpec]:
    """The tasks a new run of `request` runs: its `tasks` as `select_tasks` reads them, its
    `prompts` as ad-hoc tasks (written under `adhoc_root`, so `--resume` finds them), narrowed
    by `task_patterns`, `category` and `quick`; none left is a UserError."""
    from bakeoff.evals.run.selection import adhoc_task, filter_tasks, select_tasks

    chosen: list[TaskSpec] = []
    if request.tasks or not request.prompts:  # no tasks and no prompt: the built-in suite
        files = None if request.prompts else request.files
        chosen = select_tasks(request.tasks, files=files, adhoc_root=adhoc_root)
    chosen += [adhoc_task(p, root=adhoc_root, files=request.files) for p in request.prompts]
    chosen = filter_tasks(chosen, patterns=request.task_patterns, category=request.category)
    if request.quick:
        chosen = [t for t in chosen if "quick" in t.tags]
    if not chosen:
        raise UserError("no tasks to run")
    return chosen
