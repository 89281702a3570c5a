"""Model ids, aliases and the messages a user sees when a name is wrong or a key is missing;
`list_models` as `bakeoff models` shows it."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakeoff.config import BakeoffConfig, PriceOverride, ProviderConfig
from bakeoff.errors import MissingKeyError, UnknownModelError
from bakeoff.models.anthropic_messages import AnthropicModel
from bakeoff.models.base import Model
from bakeoff.models.embedded import EMBEDDED_MODELS, EmbeddedModel
from bakeoff.models.openai_chat import OpenAIChatModel
from bakeoff.models.prices import price_for
from bakeoff.models.registry import (
    BUILTIN_ALIASES,
    list_models,
    parse_model_id,
    resolve_model,
    resolve_model_id,
)
from bakeoff.models.scripted import ScriptedModel
from bakeoff.types import Usage


@pytest.mark.parametrize(
    ("model_id", "expected"),
    [
        ("openai:gpt-5-mini", ("openai", "gpt-5-mini")),
        ("ollama:gpt-oss:20b", ("ollama", "gpt-oss:20b")),
        ("openrouter:openai/gpt-5", ("openrouter", "openai/gpt-5")),
        ("script:/tmp/a:b.json", ("script", "/tmp/a:b.json")),
    ],
)
def test_ids_split_on_the_first_colon(model_id: str, expected: tuple[str, str]) -> None:
    assert parse_model_id(model_id) == expected


@pytest.mark.parametrize("bad", ["gpt-5", ":gpt-5", "openai:", ""])
def test_a_non_id_is_refused(bad: str) -> None:
    with pytest.raises(UnknownModelError, match="provider:model"):
        parse_model_id(bad)


@pytest.mark.parametrize(
    ("alias", "model_id"),
    [
        ("gpt-5-mini", "openai:gpt-5-mini"),
        ("opus-4.1", "anthropic:claude-opus-4-1"),
        ("opus-4", "anthropic:claude-opus-4-0"),
        ("sonnet-4", "anthropic:claude-sonnet-4-0"),
        ("haiku", "anthropic:claude-haiku-4-5"),
        ("gpt-oss-20b", "ollama:gpt-oss:20b"),
        ("gemini-2.5-pro", "gemini:gemini-2.5-pro"),
        ("local", "local:qwen2.5-coder-1.5b"),
        ("local-1.5b", "local:qwen2.5-coder-1.5b"),
        ("openai:gpt-4.1", "openai:gpt-4.1"),
        ("local:", "local:qwen2.5-coder-1.5b"),
    ],
)
def test_aliases_resolve_to_full_ids(alias: str, model_id: str) -> None:
    assert resolve_model_id(alias) == model_id


@pytest.mark.parametrize("model_id", sorted(set(BUILTIN_ALIASES.values())))
def test_every_cloud_alias_has_a_known_price(model_id: str) -> None:
    provider, name = parse_model_id(model_id)
    price = price_for(provider, name)
    assert price is not None, f"{model_id} is aliased but not priced"
    if provider in ("openai", "anthropic", "gemini"):
        assert price.source == "genai-prices" and price.output > 0


def test_user_aliases_override_the_builtin_ones() -> None:
    config = BakeoffConfig(
        aliases={"haiku": "anthropic:claude-3-5-haiku-latest", "me": "openai:o3"}
    )
    assert resolve_model_id("haiku", config) == "anthropic:claude-3-5-haiku-latest"
    assert resolve_model_id("me", config) == "openai:o3"


def test_an_unknown_provider_lists_providers_and_aliases() -> None:
    with pytest.raises(UnknownModelError) as info:
        resolve_model("acme:model-x")
    message = str(info.value)
    assert "unknown provider 'acme'" in message
    assert "ollama" in message and "openrouter" in message
    assert "gpt-5-mini" in message and "opus-4.1" in message


def test_a_bare_unknown_name_suggests_close_matches() -> None:
    with pytest.raises(UnknownModelError, match=r"did you mean gpt-5-mini,"):
        resolve_model("gpt5-mini")
    with pytest.raises(UnknownModelError, match=r"did you mean anthropic:claude-opus-4-1"):
        resolve_model("claude-opus-4-1")


def test_an_alias_to_an_unconfigured_provider_is_reported() -> None:
    config = BakeoffConfig(aliases={"mine": "nowhere:model"})
    with pytest.raises(UnknownModelError, match="unknown provider 'nowhere'"):
        resolve_model("mine", config)


def test_a_missing_key_says_what_to_export(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingKeyError) as info:
        resolve_model("gpt-5-mini")
    assert str(info.value) == (
        "openai:gpt-5-mini needs OPENAI_API_KEY: export OPENAI_API_KEY=... "
        "(or configure another provider in bakeoff.toml)"
    )


def test_openai_models_get_the_chat_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    model = resolve_model("gpt-5-mini")
    assert isinstance(model, OpenAIChatModel) and isinstance(model, Model)
    assert (model.id, model.provider, model.name) == ("openai:gpt-5-mini", "openai", "gpt-5-mini")
    assert model.reasoning
    assert model.cost_fn(Usage(input_tokens=10**6, output_tokens=10**6), 1.0) == pytest.approx(2.25)
    plain = resolve_model("gpt-4.1")
    assert isinstance(plain, OpenAIChatModel) and not plain.reasoning
    assert isinstance(resolve_model("o4-mini"), OpenAIChatModel)
    assert resolve_model("o4-mini").reasoning  # type: ignore[attr-defined]


def test_anthropic_models_get_the_messages_adapter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    model = resolve_model("sonnet-4.5")
    assert isinstance(model, AnthropicModel)
    assert model.id == "anthropic:claude-sonnet-4-5"


def test_an_ollama_id_with_a_colon_needs_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    model = resolve_model("ollama:gpt-oss:20b")
    assert isinstance(model, OpenAIChatModel)
    assert (model.provider, model.name) == ("ollama", "gpt-oss:20b")
    assert model.base_url == "http://localhost:11434/v1"
    assert model.cost_fn(Usage(input_tokens=1000, output_tokens=1000), 5.0) == 0.0


def test_a_custom_provider_from_config(monkeypatch: pytest.MonkeyPatch) -> None:
    config = BakeoffConfig(
        providers={
            "together": ProviderConfig(
                base_url="https://api.together.xyz/v1", api_key_env="TOGETHER_API_KEY", timeout_s=30
            )
        }
    )
    monkeypatch.delenv("TOGETHER_API_KEY", raising=False)
    with pytest.raises(MissingKeyError, match="export TOGETHER_API_KEY="):
        resolve_model("together:Qwen/Qwen3-Coder", config)
    monkeypatch.setenv("TOGETHER_API_KEY", "tg-test")
    model = resolve_model("together:Qwen/Qwen3-Coder", config)
    assert isinstance(model, OpenAIChatModel)
    assert model.base_url == "https://api.together.xyz/v1"
    assert model.timeout_s == 30
    assert model.cost_fn(Usage(input_tokens=1, output_tokens=1), 1.0) is None  # price unknown


def test_script_and_local_models(tmp_path: Path) -> None:
    script = tmp_path / "s.json"
    script.write_text(json.dumps([{"text": "done"}]), encoding="utf-8")
    scripted = resolve_model(f"script:{script}")
    assert isinstance(scripted, ScriptedModel)
    local = resolve_model("local")
    assert isinstance(local, EmbeddedModel)
    assert local.id == "local:qwen2.5-coder-1.5b"
    with pytest.raises(UnknownModelError, match=r"known: local:qwen2\.5-coder-0\.5b"):
        resolve_model("local:qwen-70b")


@pytest.fixture
def listening_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_list_models_says_what_is_usable(
    monkeypatch: pytest.MonkeyPatch, listening_port: int
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    config = BakeoffConfig(
        providers={
            "ollama": ProviderConfig(
                base_url=f"http://127.0.0.1:{listening_port}/v1", concurrency=1
            ),
            "vllm": ProviderConfig(base_url=f"http://127.0.0.1:{_closed_port()}/v1"),
        },
        aliases={"big": "vllm:Qwen/Qwen3-Coder-480B"},
        prices={"openai:my-ft": PriceOverride(input=1, output=2)},
    )
    infos = {info.id: info for info in list_models(config)}
    mini = infos["openai:gpt-5-mini"]
    assert mini.aliases == ["gpt-5-mini"] and mini.kind == "openai"
    assert not mini.usable and mini.why_not == "set OPENAI_API_KEY"
    assert mini.price is not None and mini.price.input == 0.25
    assert infos["anthropic:claude-haiku-4-5"].usable
    assert set(infos["anthropic:claude-haiku-4-5"].aliases) == {"haiku", "haiku-4.5"}
    assert infos["ollama:gpt-oss:20b"].usable
    big = infos["vllm:Qwen/Qwen3-Coder-480B"]
    assert not big.usable and big.why_not is not None and "no server answering" in big.why_not
    assert infos["openai:my-ft"].price is not None and infos["openai:my-ft"].aliases == []
    tiny = infos["local:qwen2.5-coder-1.5b"]
    assert tiny.usable == EMBEDDED_MODELS["qwen2.5-coder-1.5b"].installed()
    if not tiny.usable:
        assert tiny.why_not is not None and "bakeoff[local]" in tiny.why_not
    assert infos["local:qwen2.5-coder-0.5b"].price is not None
    assert infos["local:qwen2.5-coder-0.5b"].price.input == 0
