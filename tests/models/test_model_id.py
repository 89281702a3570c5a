"""`ModelId`: what the user typed, parsed once — aliases, the first-colon split, script paths made
absolute, whether the model runs here, where its price comes from, the name reports show, and the
message for an id nobody knows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff.config import BakeoffConfig, PriceOverride, ProviderConfig, load_config
from bakeoff.errors import UnknownModelError
from bakeoff.evals.run.scheduler import unpriced_models
from bakeoff.evals.store.records import BakeoffSpec
from bakeoff.evals.verdict.model_names import model_labels, namer
from bakeoff.models.model_id import ModelId, provider_of
from bakeoff.models.registry import resolve_model
from bakeoff.models.scripted import ScriptedModel
from bakeoff.types import Usage


def config_with(**providers: ProviderConfig) -> BakeoffConfig:
    return BakeoffConfig(providers=providers)


@pytest.mark.parametrize(
    ("typed", "stored", "provider", "name"),
    [
        ("openai:gpt-5-mini", "openai:gpt-5-mini", "openai", "gpt-5-mini"),
        ("ollama:gpt-oss:20b", "ollama:gpt-oss:20b", "ollama", "gpt-oss:20b"),
        ("gpt-oss-20b", "ollama:gpt-oss:20b", "ollama", "gpt-oss:20b"),
        ("haiku", "anthropic:claude-haiku-4-5", "anthropic", "claude-haiku-4-5"),
        ("  sonnet-4 ", "anthropic:claude-sonnet-4-0", "anthropic", "claude-sonnet-4-0"),
        ("local", "local:qwen2.5-coder-1.5b", "local", "qwen2.5-coder-1.5b"),
        ("local:", "local:qwen2.5-coder-1.5b", "local", "qwen2.5-coder-1.5b"),
        ("openrouter:openai/gpt-5", "openrouter:openai/gpt-5", "openrouter", "openai/gpt-5"),
    ],
)
def test_an_alias_or_id_parses_to_its_full_id(
    typed: str, stored: str, provider: str, name: str
) -> None:
    model = ModelId.parse(typed)
    assert (str(model), model.provider, model.name) == (stored, provider, name)
    assert model.typed == typed.strip()
    assert model == ModelId.parse(stored)  # equal whatever was typed
    assert provider_of(stored) == provider


def test_user_aliases_win_and_the_alias_is_what_reports_show() -> None:
    config = BakeoffConfig(aliases={"haiku": "openai:gpt-5-nano", "fast": "groq:llama-3"})
    assert str(ModelId.parse("haiku", config)) == "openai:gpt-5-nano"
    fast = ModelId.parse("fast", config)
    assert (str(fast), fast.shown) == ("groq:llama-3", "fast")


def test_local_provider_alone_takes_the_configured_embedded_model() -> None:
    config = BakeoffConfig.model_validate({"local": {"model": "qwen2.5-coder-0.5b"}})
    assert str(ModelId.parse("local:", config)) == "local:qwen2.5-coder-0.5b"


def test_a_script_path_is_made_absolute_and_shown_by_its_stem(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "plans").mkdir()
    monkeypatch.chdir(tmp_path)
    model = ModelId.parse("script:plans/careful.json")
    assert str(model) == f"script:{tmp_path / 'plans' / 'careful.json'}"
    assert model.shown == "script:careful"
    assert ModelId.parse(str(model)) == model  # idempotent: a stored id parses to itself
    # one in a folder with a colon in its name: split on the first colon only
    odd = ModelId.parse("script:/tmp/a:b/run.json")
    assert (odd.name, odd.shown) == ("/tmp/a:b/run.json", "script:run")


def test_a_script_kind_provider_of_another_name_is_a_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = config_with(paced=ProviderConfig(kind="script", requests_per_minute=60))
    model = ModelId.parse("paced:s.json", config)
    assert str(model) == f"paced:{tmp_path / 's.json'}"
    assert (model.scripted, model.local, model.pooled) == (True, True, False)
    assert model.shown == "paced:s"
    assert model.price_source == "self-hosted"


def test_two_scripts_with_one_stem_keep_their_ids_in_reports(tmp_path: Path) -> None:
    a, b = (ModelId.parse(f"script:{tmp_path / d / 'careful.json'}") for d in ("a", "b"))
    labels = model_labels([a, b, ModelId.parse("haiku")])
    assert labels == {str(a): str(a), str(b): str(b), "anthropic:claude-haiku-4-5": "haiku"}


def test_a_run_stored_before_labels_shows_scripts_by_stem_and_others_by_id() -> None:
    spec = BakeoffSpec(
        run_id="r",
        task_paths=[],
        task_names=[],
        models=["script:/x/careful.json", "gone:model", "openai:gpt-5"],
        repeats=1,
    )
    name = namer(spec)
    assert [name(m) for m in spec.models] == ["script:careful", "gone:model", "openai:gpt-5"]


@pytest.mark.parametrize(
    ("base_url", "local"),
    [
        ("http://localhost:9000/v1", True),
        ("http://127.0.0.1:9000/v1", True),
        ("http://127.0.0.2:9000/v1", True),  # all of 127.0.0.0/8 is this machine
        ("http://[::1]:9000/v1", True),
        ("http://0.0.0.0:9000/v1", True),
        ("http://[::ffff:127.0.0.1]:9000/v1", True),
        ("https://gpu.example.com/v1", False),
        ("http://10.0.0.5:8000/v1", False),
        ("http://localhost.evil.example/v1", False),
    ],
)
def test_a_configured_server_is_local_when_its_url_is_on_this_machine(
    base_url: str, local: bool
) -> None:
    model = ModelId.parse("mine:m", config_with(mine=ProviderConfig(base_url=base_url)))
    assert model.local is local
    assert model.local_contestant is local
    assert model.pooled is local  # guessed from the URL unless shares_machine says otherwise
    assert model.price_source == ("self-hosted" if local else "unknown")


def test_builtin_kinds_and_servers_are_local_or_not() -> None:
    assert ModelId.parse("local").local and ModelId.parse("local").pooled
    for server in ("ollama:m", "llamacpp:m", "vllm:m", "lmstudio:m"):
        assert ModelId.parse(server).local, server
    for cloud in ("openai:gpt-5", "anthropic:claude-opus-4-1", "gemini:x", "groq:x"):
        assert not ModelId.parse(cloud).local, cloud
    script = ModelId.parse("script:/x.json")
    assert (script.local, script.local_contestant, script.pooled) == (True, False, False)


def test_shares_machine_overrides_the_pool_guess() -> None:
    own = ProviderConfig(base_url="http://localhost:8000/v1", shares_machine=False)
    model = ModelId.parse("tunnel:m", config_with(tunnel=own))
    assert (model.local, model.pooled) == (True, False)


def test_price_sources(tmp_path: Path, isolated_config: Path) -> None:
    script = tmp_path / "stand-in.json"
    script.write_text(json.dumps([{"text": "done"}]))
    isolated_config.write_text(
        '[providers.rented]\nbase_url = "https://gpu.example/v1"\nhourly_usd = 2.0\n'
        '[providers.cloud]\nbase_url = "https://cloud.example/v1"\n'
        '[prices."cloud:priced"]\ninput = 1.0\noutput = 2.0\n'
        '[prices."script:stand-in.json"]\ninput = 3.0\noutput = 4.0\n'
    )
    config = load_config()
    sources = {
        typed: ModelId.parse(typed, config).price_source
        for typed in ["cloud:priced", "openai:gpt-5-mini", "rented:m", "local", "cloud:mystery"]
    }
    assert sources == {
        "cloud:priced": "config",
        "openai:gpt-5-mini": "genai-prices",
        "rented:m": "self-hosted",
        "local": "self-hosted",
        "cloud:mystery": "unknown",
    }
    # a priced script stands in for a paid model: its price (relative to the config's folder)
    # is the one the budget counts and the one its adapter charges
    stand_in = ModelId.parse(f"script:{script}", config)
    assert stand_in.price_source == "config"
    assert stand_in.price is not None and stand_in.price.input == 3.0
    adapter = resolve_model(stand_in)
    assert isinstance(adapter, ScriptedModel)
    assert adapter.cost_fn(Usage(input_tokens=10**6, output_tokens=10**6), 1.0) == 7.0
    assert unpriced_models([str(stand_in), "cloud:mystery", "gone:x"], config) == [
        "cloud:mystery",
        "gone:x",  # a provider no longer configured has no known price
    ]


def test_price_override_on_a_builtin_model_is_configured() -> None:
    config = BakeoffConfig(prices={"openai:gpt-5": PriceOverride(input=9, output=9)})
    assert ModelId.parse("gpt-5", config).price_source == "config"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("nosuch:model", "unknown provider 'nosuch'"),
        ("openai:", "names no model: expected openai:MODEL"),
        (":gpt-5", "unknown provider ''"),
        ("gpt5-mini", "did you mean gpt-5-mini"),
        ("claude-haiku-4.5", "did you mean anthropic:claude-haiku-4-5"),
        ("zzzzzz", "use an alias or a provider:model id"),
        ("script:/tmp/\x00.json", "not a usable script path"),
    ],
)
def test_an_unknown_id_raises_with_what_is_known(typed: str, message: str) -> None:
    with pytest.raises(UnknownModelError, match=message) as caught:
        ModelId.parse(typed)
    assert "\n" not in str(caught.value)


def test_a_stored_id_is_taken_as_it_is() -> None:
    config = BakeoffConfig(aliases={"openai:gpt-5": "anthropic:claude-opus-4-1"})
    assert str(ModelId.stored("openai:gpt-5", config)) == "openai:gpt-5"  # no alias
    assert str(ModelId.stored("script:rel.json", config)) == "script:rel.json"  # no path
    assert ModelId.stored_or_none("gone:model", config) is None
    with pytest.raises(UnknownModelError, match="expected provider:model"):
        ModelId.stored("no-colon", config)
