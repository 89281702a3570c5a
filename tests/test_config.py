"""The config file: where it is found, how user tables merge over the built-in providers, and
that mistakes name the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.config import BUILTIN_PROVIDERS, BakeoffConfig, load_config
from bakeoff.errors import ConfigError, UnknownModelError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def no_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No $BAKEOFF_CONFIG, an empty cwd and an empty home."""
    monkeypatch.delenv("BAKEOFF_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return tmp_path


def test_no_file_gives_the_builtin_providers(no_config: Path) -> None:
    config = load_config()
    assert config.source is None
    assert set(BUILTIN_PROVIDERS) <= set(config.providers)
    assert config.provider("openai").api_key_env == "OPENAI_API_KEY"
    assert config.provider("ollama").base_url == "http://localhost:11434/v1"
    assert config.provider("ollama").api_key_env is None
    assert config.concurrency_for("anthropic:claude-haiku-4-5") == 8
    assert config.concurrency_for("ollama:gpt-oss:20b") == 1
    assert config.concurrency_for("vllm:x") == 4
    assert config.concurrency_for("script:/tmp/s.json") == 64
    assert config.local.model == "qwen2.5-coder-1.5b"
    assert config.local.n_ctx == 8192


def test_files_are_found_in_order(no_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = write(no_config / "home/.config/bakeoff/config.toml", '[aliases]\nx = "openai:home"\n')
    assert load_config().source == home
    cwd = write(Path("bakeoff.toml"), '[aliases]\nx = "openai:cwd"\n')
    assert load_config().aliases["x"] == "openai:cwd"
    assert load_config().source == cwd
    env = write(no_config / "env.toml", '[aliases]\nx = "openai:env"\n')
    monkeypatch.setenv("BAKEOFF_CONFIG", str(env))
    assert load_config().aliases["x"] == "openai:env"
    explicit = write(no_config / "explicit.toml", '[aliases]\nx = "openai:explicit"\n')
    assert load_config(explicit).aliases["x"] == "openai:explicit"


def test_an_explicit_file_that_does_not_exist_is_an_error(no_config: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.toml: config file not found"):
        load_config(no_config / "nope.toml")


def test_a_user_table_merges_over_the_builtin_one(no_config: Path) -> None:
    path = write(
        no_config / "c.toml",
        '[providers.ollama]\nbase_url = "http://gpu-box:11434/v1"\nhourly_usd = 1.5\n',
    )
    ollama = load_config(path).provider("ollama")
    assert ollama.base_url == "http://gpu-box:11434/v1"
    assert ollama.kind == "openai_compatible"
    assert ollama.concurrency == 1  # kept from the built-in table
    assert ollama.hourly_usd == 1.5
    assert not ollama.is_local
    assert ollama.self_hosted


def test_a_custom_openai_compatible_provider_needs_no_code(no_config: Path) -> None:
    path = write(
        no_config / "c.toml",
        """
[providers.together]
kind = "openai_compatible"
base_url = "https://api.together.xyz/v1"
api_key_env = "TOGETHER_API_KEY"
concurrency = 3
requests_per_minute = 60

[aliases]
llama-70b = "together:meta-llama/Llama-3.3-70B-Instruct-Turbo"

[prices."together:meta-llama/Llama-3.3-70B-Instruct-Turbo"]
input = 0.8
output = 0.9
""",
    )
    config = load_config(path)
    model_id = "together:meta-llama/Llama-3.3-70B-Instruct-Turbo"
    assert config.concurrency_for(model_id) == 3
    assert config.rpm_for(model_id) == 60
    assert not config.provider("together").is_local
    assert config.aliases["llama-70b"] == model_id
    assert config.prices[model_id].output == 0.9
    assert config.provider("openai").concurrency == 8  # built-ins still there


def test_locality(no_config: Path) -> None:
    config = BakeoffConfig()
    for local in ("local", "script", "ollama", "lmstudio", "llamacpp", "vllm"):
        assert config.provider(local).is_local, local
    for cloud in ("openai", "anthropic", "groq", "gemini", "openrouter"):
        assert not config.provider(cloud).is_local, cloud
    assert config.rpm_for("openai:gpt-5") is None


def test_local_hourly_cost_comes_from_the_local_table(no_config: Path) -> None:
    path = write(no_config / "c.toml", "[local]\nhourly_usd = 0.4\nthreads = 2\n")
    config = load_config(path)
    assert config.hourly_usd_for("local:qwen2.5-coder-0.5b") == 0.4
    assert config.hourly_usd_for("ollama:x") is None
    assert config.local.threads == 2


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("[providers.ollama]\nconcurency = 2\n", "providers.ollama.concurency"),
        ("[providers.ollama]\nconcurrency = 0\n", "providers.ollama.concurrency"),
        ('[providers.x]\nkind = "grpc"\n', "providers.x.kind"),
        (
            '[providers.x]\napi_key_env = "X_KEY"\n',
            "providers.x: Value error, base_url is required",
        ),
        ("[local]\nn_threads = 4\n", "local.n_threads"),
        ('[prices."openai:gpt-5"]\ninput = 1\n', "prices.openai:gpt-5.output"),
        ("colour = 'blue'\n", "colour"),
        ('[aliases]\nfast = "gpt-5-mini"\n', "aliases.fast"),
        ("[prices.gpt-5]\ninput = 1\noutput = 2\n", "prices.gpt-5"),
        ("providers = 3\n", "providers"),
    ],
)
def test_mistakes_name_the_file_and_the_field(no_config: Path, text: str, field: str) -> None:
    path = write(no_config / "bad.toml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value)
    assert field in str(info.value)


def test_invalid_toml_names_the_file(no_config: Path) -> None:
    path = write(no_config / "broken.toml", "[providers\n")
    with pytest.raises(ConfigError, match=r"broken\.toml: not valid TOML"):
        load_config(path)


def test_an_unknown_provider_lists_the_known_ones(no_config: Path) -> None:
    with pytest.raises(
        UnknownModelError,
        match=r"^unknown provider 'nope' in 'nope:model'; known: anthropic, gemini",
    ):
        BakeoffConfig().concurrency_for("nope:model")
    with pytest.raises(KeyError):  # also what a mapping lookup would raise
        BakeoffConfig().rpm_for("nope:model")


def test_local_servers_share_the_machine_pool_unless_told_otherwise(tmp_path: Path) -> None:
    cfg = tmp_path / "b.toml"
    cfg.write_text(
        '[providers.box]\nbase_url = "http://127.0.0.1:8000/v1"\nconcurrency = 4\n'
        '[providers.tunnel]\nbase_url = "http://localhost:9000/v1"\nconcurrency = 8\n'
        "shares_machine = false\n"
    )
    config = load_config(cfg)
    assert config.provider("local").in_local_pool and config.provider("ollama").in_local_pool
    assert config.provider("box").in_local_pool
    assert not config.provider("tunnel").in_local_pool  # its own hardware: concurrency 8 applies
    assert (
        not config.provider("openai").in_local_pool and not config.provider("script").in_local_pool
    )


def test_grade_weights_are_configurable_and_typos_are_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "b.toml"
    cfg.write_text("[weights]\nquality = 0.8\nspeed = 0.1\ncost = 0.1\nquality_bar = 0.6\n")
    w = load_config(cfg).weights
    assert (w.quality, w.speed, w.cost, w.quality_bar, w.check) == (0.8, 0.1, 0.1, 0.6, 0.6)
    cfg.write_text("[weights]\nqualty = 0.8\n")
    with pytest.raises(ConfigError, match=r"weights\.qualty"):
        load_config(cfg)
