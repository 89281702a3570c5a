"""A model id, parsed once: `ModelId.parse` turns what the user typed — an alias (`haiku`, or one
from `[aliases]`) or a `provider:model` id, split on the first colon so `ollama:gpt-oss:20b` is
the model `gpt-oss:20b` of provider `ollama` — into its provider, its model name and the
provider's settings, with a script's path made absolute (so `--resume` works from anywhere).
`str()` of it is the id a run stores; `shown` the name its reports show (as typed, a script by
its file's stem). Whether it runs on this machine (`local`), takes turns in the shared local pool
(`pooled`) and where its price comes from (`price`, `price_source`) are asked of it, never
worked out again from the string. `ModelId.stored` reads back an id a run stored, without
resolving it again. An unknown id raises `UnknownModelError` naming what is known and, for a
bare name, the close matches."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal

from bakeoff.config import BakeoffConfig, ProviderConfig, ProviderKind
from bakeoff.errors import UnknownModelError
from bakeoff.models.prices import Price, PriceSource, price_for

BUILTIN_ALIASES: dict[str, str] = {
    # OpenAI
    "gpt-5": "openai:gpt-5",
    "gpt-5-mini": "openai:gpt-5-mini",
    "gpt-5-nano": "openai:gpt-5-nano",
    "gpt-5.1": "openai:gpt-5.1",
    "gpt-5.2": "openai:gpt-5.2",
    "gpt-5.4": "openai:gpt-5.4",
    "gpt-5.4-mini": "openai:gpt-5.4-mini",
    "gpt-5.4-nano": "openai:gpt-5.4-nano",
    "gpt-5.5": "openai:gpt-5.5",
    "gpt-4.1": "openai:gpt-4.1",
    "gpt-4.1-mini": "openai:gpt-4.1-mini",
    "o3": "openai:o3",
    "o4-mini": "openai:o4-mini",
    # Anthropic
    "opus-4": "anthropic:claude-opus-4-0",
    "opus-4.1": "anthropic:claude-opus-4-1",
    "opus-4.5": "anthropic:claude-opus-4-5",
    "opus-4.6": "anthropic:claude-opus-4-6",
    "opus-4.7": "anthropic:claude-opus-4-7",
    "opus-4.8": "anthropic:claude-opus-4-8",
    "opus-5": "anthropic:claude-opus-5",
    "sonnet-4": "anthropic:claude-sonnet-4-0",
    "sonnet-4.5": "anthropic:claude-sonnet-4-5",
    "sonnet-4.6": "anthropic:claude-sonnet-4-6",
    "sonnet-5": "anthropic:claude-sonnet-5",
    "haiku": "anthropic:claude-haiku-4-5",
    "haiku-4.5": "anthropic:claude-haiku-4-5",
    "haiku-3.5": "anthropic:claude-3-5-haiku-latest",
    # Google (OpenAI-compatible endpoint)
    "gemini-2.5-pro": "gemini:gemini-2.5-pro",
    "gemini-2.5-flash": "gemini:gemini-2.5-flash",
    "gemini-2.5-flash-lite": "gemini:gemini-2.5-flash-lite",
    "gemini-3.1-pro": "gemini:gemini-3.1-pro-preview",
    "gemini-3-flash": "gemini:gemini-3-flash-preview",
    "gemini-3.5-flash": "gemini:gemini-3.5-flash",
    # Open weights on a local server
    "gpt-oss-20b": "ollama:gpt-oss:20b",
    "gpt-oss-120b": "ollama:gpt-oss:120b",
    "qwen3-coder": "ollama:qwen3-coder:30b",
    # The embedded models (`local` is LocalConfig.model's default)
    "local": "local:qwen2.5-coder-1.5b",
    "local-0.5b": "local:qwen2.5-coder-0.5b",
    "local-1.5b": "local:qwen2.5-coder-1.5b",
}
"""Short name → `provider:model`. `[aliases]` in the config adds to and overrides these."""


def all_aliases(config: BakeoffConfig | None = None) -> dict[str, str]:
    """Built-in aliases with the user's merged over them."""
    return {**BUILTIN_ALIASES, **(config.aliases if config else {})}


def provider_of(model_id: str) -> str:
    """The provider part of a full id (before the first colon); never raises, for the paths
    that name a model whose id is already stored (a crashed trial's record)."""
    return model_id.partition(":")[0]


def name_of(model_id: str) -> str:
    """The model part of a full id (after the first colon), "" when it has none; never
    raises, like `provider_of`."""
    return model_id.partition(":")[2]


def parse_model_id(model_id: str) -> tuple[str, str]:
    """Split `provider:model` on the first colon; UnknownModelError when it is not an id."""
    provider, sep, name = model_id.partition(":")
    if not sep or not provider or not name:
        raise UnknownModelError(f"{model_id!r} is not a model id: expected provider:model")
    return provider, name


@dataclass(frozen=True)
class ModelId:
    """One model: its provider, its model name, and the provider's settings it runs under.
    Equal ids are equal whatever was typed; `str()` is the stored `provider:model` id."""

    provider: str
    """The provider's name (the id's prefix): a key of `BakeoffConfig.providers`."""
    name: str
    """The model's name at that provider; for a scripted model, its file's absolute path."""
    typed: str = field(compare=False)
    """What the user typed (an alias stays the alias); the stored id for `ModelId.stored`."""
    settings: ProviderConfig = field(compare=False, repr=False)
    """The provider's configuration."""
    config: BakeoffConfig = field(compare=False, repr=False)
    """The configuration it was parsed under (aliases, price overrides, `[local]`)."""

    @classmethod
    def parse(cls, text: str, config: BakeoffConfig | None = None) -> ModelId:
        """The model that `text`, an alias or a `provider:model` id, names. `provider:` alone
        is the embedded provider's default model; a scripted model's path is made absolute."""
        config = config or BakeoffConfig()
        typed = text.strip()
        target = all_aliases(config).get(typed, typed)
        provider, sep, name = target.partition(":")
        if not sep:
            raise UnknownModelError(_unknown_name(typed, config))
        settings = config.providers.get(provider)
        if settings is None:
            raise UnknownModelError(
                f"unknown provider {provider!r} in {target!r}; {_known(config)}"
            )
        if not name:
            if settings.kind != "local":
                raise UnknownModelError(f"{target!r} names no model: expected {provider}:MODEL")
            name = config.local.model
        if settings.kind == "script":
            name = _absolute(name, target)
        return cls(provider, name, typed, settings, config)

    @classmethod
    def stored(cls, model_id: str, config: BakeoffConfig) -> ModelId:
        """A full id as a run stored it, taken as it is (no alias, no path resolved again);
        UnknownModelError when it is not an id or its provider is no longer configured."""
        provider, name = parse_model_id(model_id)
        settings = config.providers.get(provider)
        if settings is None:
            raise UnknownModelError(
                f"unknown provider {provider!r} in {model_id!r}; {_known(config)}"
            )
        return cls(provider, name, model_id, settings, config)

    @classmethod
    def stored_or_none(cls, model_id: str, config: BakeoffConfig) -> ModelId | None:
        """`ModelId.stored`, or None for an id the config cannot place (a run stored under a
        provider since removed): such a model is not local, not pooled and has no price."""
        try:
            return cls.stored(model_id, config)
        except UnknownModelError:
            return None

    def __str__(self) -> str:
        return f"{self.provider}:{self.name}"

    @property
    def kind(self) -> ProviderKind:
        """The provider's wire format (`ProviderConfig.kind`)."""
        return self.settings.kind

    @property
    def scripted(self) -> bool:
        """A `script:PATH` model (of a `kind = "script"` provider of any name)."""
        return self.kind == "script"

    @property
    def local(self) -> bool:
        """Runs on this machine: the embedded model, a script, or a server whose base URL is
        here (`bakeoff.net.is_local_url`: 127.0.0.0/8, ::1, localhost, 0.0.0.0, ::)."""
        return self.settings.is_local

    @property
    def local_contestant(self) -> bool:
        """Runs on this machine as a real model (a script is no candidate for "best local")."""
        return self.local and not self.scripted

    @property
    def pooled(self) -> bool:
        """Takes turns with the other local models in the shared local pool
        (`ProviderConfig.shares_machine`)."""
        return self.settings.in_local_pool

    @cached_property
    def price(self) -> Price | None:
        """Its price (`bakeoff.models.prices.price_for`); None when nobody knows it. A script
        is free unless a `[prices."script:PATH"]` entry names its file (PATH from the config's
        folder), which lets it stand in for a paid model."""
        key = self.name
        if self.scripted:
            key = _script_price_key(self.provider, self.name, self.config) or self.name
        return price_for(self.provider, key, self.config)

    @property
    def price_source(self) -> PriceSource | Literal["unknown"]:
        """Where its price comes from: the config, the genai-prices table, self-hosted (free
        tokens, maybe $/hour), or unknown — which a budget cannot count."""
        return "unknown" if self.price is None else self.price.source

    @property
    def shown(self) -> str:
        """The name reports show: as typed (an alias stays the alias), and a script typed by
        its path as `provider:` + the file's stem."""
        provider, sep, path = self.typed.partition(":")
        if self.scripted and sep and provider == self.provider:
            return f"{provider}:{Path(path).stem}"
        return self.typed


def _absolute(path: str, model_id: str) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, ValueError, RuntimeError) as exc:  # a NUL byte, a symlink loop
        raise UnknownModelError(f"{model_id!r}: not a usable script path ({exc})") from None


def _script_price_key(provider: str, path: str, config: BakeoffConfig) -> str | None:
    """The PATH of the `[prices."PROVIDER:PATH"]` entry for the script at `path`; a relative
    PATH counts from the config file's folder, as every path in a config file does."""
    base = config.source.parent if config.source is not None else Path.cwd()
    target = Path(path)
    for key in config.prices:
        owner, _, name = key.partition(":")
        if owner == provider and name:
            try:
                if (base / name).resolve() == target:
                    return name
            except (OSError, ValueError, RuntimeError):
                continue
    return None


def _known(config: BakeoffConfig) -> str:
    providers = ", ".join(sorted(config.providers))
    aliases = ", ".join(sorted(all_aliases(config)))
    return f"known providers: {providers}; aliases: {aliases}"


def _unknown_name(text: str, config: BakeoffConfig) -> str:
    """The message for a bare name that is no alias: the aliases and the ids whose model part
    is close to it."""
    aliases = all_aliases(config)
    candidates = {alias: alias for alias in aliases}
    for target in aliases.values():
        candidates.setdefault(target.partition(":")[2], target)
    close = difflib.get_close_matches(text, list(candidates), n=4, cutoff=0.6)
    hint = (
        f"did you mean {', '.join(dict.fromkeys(candidates[c] for c in close))}? " if close else ""
    )
    return f"unknown model {text!r}: {hint}use an alias or a provider:model id; {_known(config)}"
