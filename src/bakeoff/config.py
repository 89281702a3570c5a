"""The user's configuration: providers (built-in ones merged under the user's `[providers.NAME]`
tables, so any OpenAI-compatible endpoint is a few lines of TOML and no code), aliases, price
overrides, the embedded local model and the `[defaults]` of `bakeoff run`. `load_config()`
reads the first file found among an explicit path, `$BAKEOFF_CONFIG`, `./bakeoff.toml` and
`~/.config/bakeoff/config.toml`; no file means the defaults. A malformed file raises
`ConfigError` naming the file and the field."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from bakeoff.errors import ConfigError, UnknownModelError
from bakeoff.labels import merge_labels
from bakeoff.net import is_local_url
from bakeoff.protected import ProtectedPaths
from bakeoff.redact import register_secret_env
from bakeoff.weights import GradeBands, GradeWeights

ProviderKind = Literal["openai", "anthropic", "openai_compatible", "local", "script"]


class UnknownProviderError(UnknownModelError, KeyError):
    """No provider of that name is configured. Also a KeyError, as a mapping lookup would be."""

    __str__ = Exception.__str__  # KeyError would quote the message


class ProviderConfig(BaseModel):
    """How to reach one provider. A user table is merged field by field over the built-in one of
    the same name, so `[providers.ollama] base_url = "http://gpu:11434/v1"` keeps the rest."""

    model_config = ConfigDict(extra="forbid")

    kind: ProviderKind = "openai_compatible"
    """Wire format / implementation: openai, anthropic, openai_compatible, local or script."""
    base_url: str | None = None
    """Endpoint base URL (for OpenAI-compatible servers, the URL ending in /v1)."""
    api_key_env: str | None = None
    """Name of the environment variable holding the API key; None when no key is needed."""
    concurrency: int = Field(default=4, ge=1)
    """Most runs of this provider's models at the same time."""
    requests_per_minute: float | None = Field(default=None, gt=0)
    """Client-side request rate cap across all runs of this provider; None = no cap."""
    hourly_usd: float | None = Field(default=None, ge=0)
    """Cost of the compute in $/hour (self-hosted servers); tokens are then free."""
    timeout_s: float = Field(default=120.0, gt=0)
    """Seconds a model request may go without a byte from the server (connecting, before the
    answer begins, between its chunks) before it fails as the provider's error, not the model's."""
    max_retries: int = Field(default=4, ge=0)
    """Times a request that failed for a passing reason (429, 5xx, no byte within `timeout_s`, a
    dropped connection) is sent again, with back-off, before the trial is an error."""
    shares_machine: bool | None = None
    """Whether its models compete for this machine's CPU/GPU and so take turns with the other
    local models in one shared pool (size: `[providers.local] concurrency`). None = guess: yes
    for the embedded model and servers on loopback. Set false for a local server that has its
    own hardware (a vLLM box behind a localhost tunnel), so `concurrency` applies instead."""
    request_params: dict[str, Any] = Field(default_factory=dict)
    """Fields added to every request body, over bakeoff's own: sampling (`temperature`, `top_p`,
    `top_k`, `repeat_penalty`...), `tool_choice`, or anything the server reads; a nested
    `extra_body` table is merged in flat (OpenAI-compatible providers)."""
    max_output_tokens: int | None = Field(default=None, ge=1)
    """Most output tokens one request may generate, below the agent's own cap; small local
    models get a small one (the embedded model: 1024), so a runaway reply ends in seconds."""
    context_tokens: int | None = Field(default=None, ge=256)
    """The model's context window; requests that would not fit have old tool output trimmed,
    with a note to the model. None = no trimming (the embedded model: `[local] n_ctx`)."""
    constrained_tools: bool | Literal["first"] = False
    """Send the tools as a JSON schema in `response_format`, so the server's constrained
    decoding makes every reply a valid call of an offered tool (the final answer is a call of
    `final_answer`); `"first"` holds only the replies until the model's first call (it looks
    before it answers), then lets it answer freely. For llama.cpp-based servers (llama-server,
    llama-cpp-python). Off by default; the embedded model's default is `"first"`. Measured on
    its quick suite (BENCHMARKS.md §6), Qwen2.5-Coder-1.5B passed 11 of 15 trials with `"first"`,
    11 of 15 with nothing held, and 7 of 15 with every reply held (it called tools it could not
    use instead of answering)."""

    tool_format: Literal["native", "blocks"] = "native"
    """How the model is offered its tools: `native` (the API's tool calls; text calls are
    recovered too) or `blocks` (no tools sent: the workspace's small files are shown up front,
    and the model writes a file as its path and a fenced block, runs a command in a ```bash
    block; `bakeoff.models.blocks`), for small local models that write code badly inside JSON.
    The embedded model's default is `blocks`."""

    @model_validator(mode="after")
    def _compatible_needs_a_url(self) -> ProviderConfig:
        # Without it the SDK would default to api.openai.com and send it this provider's key.
        if self.kind == "openai_compatible" and not self.base_url:
            raise ValueError("base_url is required for kind = 'openai_compatible'")
        return self

    @property
    def is_loopback(self) -> bool:
        """Whether `base_url` points at this machine (`bakeoff.net.is_local_url`: loopback, or
        0.0.0.0 / ::, which a client reaches this machine through)."""
        return is_local_url(self.base_url)

    @property
    def is_local(self) -> bool:
        """Runs on this machine (embedded, scripted, or a server on loopback)."""
        return self.kind in ("local", "script") or self.is_loopback

    @property
    def in_local_pool(self) -> bool:
        """Takes turns in the shared local pool (see `shares_machine`)."""
        if self.kind == "script":
            return False
        return self.is_local if self.shares_machine is None else self.shares_machine

    @property
    def self_hosted(self) -> bool:
        """Tokens cost nothing: the model runs here or on compute billed by the hour."""
        return self.is_local or self.hourly_usd is not None


class PriceOverride(BaseModel):
    """A price in USD per million tokens that wins over the maintained price table."""

    model_config = ConfigDict(extra="forbid")

    input: float = Field(ge=0)
    """Uncached input (prompt) tokens."""
    output: float = Field(ge=0)
    """Output tokens, reasoning included."""
    cached_input: float | None = Field(default=None, ge=0)
    """Input tokens read from the prompt cache; None = the input price."""
    cache_write: float | None = Field(default=None, ge=0)
    """Input tokens written to the prompt cache; None = the input price."""


class LocalConfig(BaseModel):
    """The embedded model behind the `local` provider."""

    model_config = ConfigDict(extra="forbid")

    model: str = "qwen2.5-coder-1.5b"
    """Which embedded model `local` (with no name) means: qwen2.5-coder-1.5b or -0.5b."""
    threads: int | None = Field(default=None, ge=1)
    """CPU threads for llama.cpp; None = the CPUs this process may use, at most 8."""
    n_gpu_layers: Annotated[int, Field(ge=-1)] | Literal["auto"] = "auto"
    """Layers llama.cpp offloads to the GPU: auto = all when it was built with CUDA or Metal,
    else none; -1 = all, 0 = CPU only. `$BAKEOFF_N_GPU_LAYERS` overrides it."""
    n_ctx: int = Field(default=8192, ge=512)
    """Context window the server allocates, in tokens."""
    prompt_cache: bool = True
    """Keep evaluated prompts on disk (`<cache>/prompts`, at most 1 GB a model) so a new
    server's first request skips the system prompt and tools it evaluated before."""
    hourly_usd: float | None = Field(default=None, ge=0)
    """Cost of this machine in $/hour, charged for the time spent answering."""


class DefaultsConfig(BaseModel):
    """`[defaults]`: what `bakeoff run` (and `demo`, but for its own models and limits) uses for
    a flag that is not given; a flag always wins. A field left out means the built-in default.
    `bakeoff config` shows every setting and where it came from."""

    # strict: `repeats = "3"` or `allow_commands = 1` is a mistake to name, not to coerce.
    # Field docstrings become descriptions here only: `init config` prints them. (Pydantic
    # reads the module's source to find them, ~4 ms a class at every start.)
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True, strict=True)

    models: list[Annotated[str, Field(min_length=1)]] | None = Field(default=None, min_length=1)
    """Models to run when --models is absent or empty: ids or aliases (`bakeoff models`)."""
    judges: list[Annotated[str, Field(min_length=1)]] | None = None
    """Judge models when --judge is absent ([] = none; `--judge ""` turns these off)."""
    repeats: int | None = Field(default=None, ge=1, le=10_000)
    """Runs per task and model when --repeats is absent (built-in: 1)."""
    timeout: float | None = Field(default=None, gt=0, le=7 * 24 * 3600)
    """Wall-clock limit per trial in seconds when --timeout is absent (at most a week, as the
    flag; built-in: the agent's own limit, which `bakeoff config` shows)."""
    max_cost: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """USD after which no new trial starts, when --max-cost is absent (built-in: no cap)."""
    max_parallel: int | None = Field(default=None, ge=1, le=4096)
    """Trials in flight at most when --max-parallel is absent (built-in: 32)."""
    labels: dict[str, str] = Field(default_factory=dict)
    """Labels every new run carries (`bakeoff.labels`); `--label KEY=VALUE` adds to them, its
    value winning for the same key."""
    allow_commands: bool | None = None
    """Offer run_command in every task when neither --allow-commands nor --no-allow-commands
    is given (built-in: false)."""

    @field_validator("labels")
    @classmethod
    def _labels_follow_the_rules(cls, labels: dict[str, str]) -> dict[str, str]:
        return merge_labels(labels)  # a ValueError names the label and the rule


def _builtin(
    kind: ProviderKind, concurrency: int, base_url: str | None = None, key: str | None = None
) -> dict[str, Any]:
    return {"kind": kind, "base_url": base_url, "api_key_env": key, "concurrency": concurrency}


BUILTIN_PROVIDERS: dict[str, dict[str, Any]] = {
    "openai": _builtin("openai", 8, None, "OPENAI_API_KEY"),
    "anthropic": _builtin("anthropic", 8, None, "ANTHROPIC_API_KEY"),
    "ollama": _builtin("openai_compatible", 1, "http://localhost:11434/v1"),
    "vllm": _builtin("openai_compatible", 4, "http://localhost:8000/v1"),
    "llamacpp": _builtin("openai_compatible", 1, "http://localhost:8080/v1"),
    "lmstudio": _builtin("openai_compatible", 1, "http://localhost:1234/v1"),
    "openrouter": _builtin(
        "openai_compatible", 8, "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"
    ),
    "groq": _builtin("openai_compatible", 4, "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    "gemini": _builtin(
        "openai_compatible",
        8,
        "https://generativelanguage.googleapis.com/v1beta/openai/",
        "GEMINI_API_KEY",
    ),
    "local": {
        **_builtin("local", 1),
        "max_output_tokens": 1024,
        "constrained_tools": "first",
        "tool_format": "blocks",
    },
    "script": _builtin("script", 64),
}
"""Providers known without any config file; user tables with the same name are merged over."""


class BakeoffConfig(BaseModel):
    """Everything a user can configure. Build it with `load_config()`; `BakeoffConfig()` gives
    the built-in providers and nothing else."""

    model_config = ConfigDict(extra="forbid")

    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    """Provider name → how to reach it (built-ins included after loading)."""
    aliases: dict[str, str] = Field(default_factory=dict)
    """Short name → full `provider:model` id; wins over the built-in aliases."""
    prices: dict[str, PriceOverride] = Field(default_factory=dict)
    """`provider:model` → price per million tokens; wins over the maintained price table."""
    local: LocalConfig = Field(default_factory=LocalConfig)
    """The embedded model behind the `local` provider."""
    weights: GradeWeights = Field(default_factory=GradeWeights)
    """`[weights]`: how checks, judges, speed and cost make the grades (stated in every report)."""
    grading: GradeBands = Field(default_factory=GradeBands)
    """`[grading]`: the absolute bands for speed (median time), cost (per solved task) and the
    letters; they travel with the weights (`weights.bands`) into every run."""
    protected: ProtectedPaths = Field(default_factory=ProtectedPaths)
    """`[protected]`: workspace paths the agent may not write, added to or lifted from the
    built-in ones (`bakeoff.protected`)."""
    defaults: DefaultsConfig = Field(default_factory=DefaultsConfig)
    """`[defaults]`: values `bakeoff run` uses for the flags it is not given."""
    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _bands_into_weights(self) -> BakeoffConfig:
        # A dumped config round-trips (Ray workers get one): bands equal to [grading] are fine.
        if "bands" in self.weights.model_fields_set and self.weights.bands != self.grading:
            raise ValueError("weights.bands: set the grade bands in the [grading] table")
        self.weights = self.weights.model_copy(update={"bands": self.grading})
        return self

    @property
    def source(self) -> Path | None:
        """The file this was loaded from; None when only defaults apply."""
        return self._source

    def model_post_init(self, context: Any) -> None:
        for name, raw in BUILTIN_PROVIDERS.items():
            if name not in self.providers:
                self.providers[name] = ProviderConfig.model_validate(raw)
        for provider in self.providers.values():  # however unusual its name, its key is secret
            if provider.api_key_env:
                register_secret_env(provider.api_key_env)

    def provider(self, name: str) -> ProviderConfig:
        """The provider called `name`; UnknownProviderError when none is configured."""
        return self._provider_of(name)

    def _provider_of(self, model_id: str) -> ProviderConfig:
        # `models.model_id.provider_of`'s split: that module sits above this one (a ModelId
        # holds a ProviderConfig), so the one line is repeated here rather than imported.
        provider = model_id.partition(":")[0]
        if provider not in self.providers:
            known = ", ".join(sorted(self.providers))
            raise UnknownProviderError(
                f"unknown provider {provider!r} in {model_id!r}; known: {known}"
            )
        return self.providers[provider]

    def concurrency_for(self, model_id: str) -> int:
        """Most simultaneous runs of `model_id` (its provider's limit)."""
        return self._provider_of(model_id).concurrency

    def rpm_for(self, model_id: str) -> float | None:
        """Request-per-minute cap of `model_id`'s provider, or None."""
        return self._provider_of(model_id).requests_per_minute

    def hourly_usd_for(self, model_id: str) -> float | None:
        """$/hour of compute for `model_id`, if configured (`[local]` for the embedded model)."""
        provider = self._provider_of(model_id)
        if provider.hourly_usd is None and provider.kind == "local":
            return self.local.hourly_usd
        return provider.hourly_usd


def default_config_path() -> Path | None:
    """The file `load_config()` would read: `$BAKEOFF_CONFIG`, ./bakeoff.toml, then
    ~/.config/bakeoff/config.toml; None when none exists."""
    env = os.environ.get("BAKEOFF_CONFIG")
    if env:
        return Path(env).expanduser()
    for candidate in (Path("bakeoff.toml"), Path.home() / ".config" / "bakeoff" / "config.toml"):
        if candidate.is_file():
            return candidate
    return None


def _merge_providers(raw: dict[str, Any], path: Path) -> None:
    providers = raw.get("providers")
    if providers is None:
        return
    if not isinstance(providers, dict):
        raise ConfigError(f"{path}: providers: expected a table of [providers.NAME] tables")
    merged: dict[str, Any] = {}
    for name, table in providers.items():
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: providers.{name}: expected a table")
        merged[name] = {**BUILTIN_PROVIDERS.get(name, {}), **table}
    raw["providers"] = merged


def _describe(exc: ValidationError, path: Path) -> str:
    lines = []
    for err in exc.errors():
        field = ".".join(str(part) for part in err["loc"]) or "(top level)"
        lines.append(f"{path}: {field}: {err['msg']}")
    return "\n".join(lines)


def load_config(path: Path | str | None = None) -> BakeoffConfig:
    """Load the config from `path`, or the first file `default_config_path()` finds. An explicit
    path (or `$BAKEOFF_CONFIG`) that does not exist is an error; no file at all means defaults."""
    explicit = path is not None or bool(os.environ.get("BAKEOFF_CONFIG"))
    file = Path(path).expanduser() if path is not None else default_config_path()
    if file is None:
        return BakeoffConfig()
    if not file.is_file():
        if explicit:
            raise ConfigError(f"{file}: config file not found")
        return BakeoffConfig()
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from exc
    _merge_providers(raw, file)
    try:
        config = BakeoffConfig.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, file)) from exc
    for alias, target in config.aliases.items():
        if ":" not in target:
            raise ConfigError(f"{file}: aliases.{alias}: {target!r} is not a provider:model id")
    for model_id in config.prices:
        if ":" not in model_id:
            raise ConfigError(f"{file}: prices.{model_id}: the key must be a provider:model id")
    config._source = file
    return config
