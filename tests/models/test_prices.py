"""Costs by token kind, checked by hand and against genai-prices' own calculator; unknown
prices stay unknown; the user's overrides win; self-hosted models cost compute time only."""

from __future__ import annotations

import threading

import genai_prices
import pytest
from genai_prices import update_prices

from bakeoff.config import BakeoffConfig, LocalConfig, PriceOverride, ProviderConfig
from bakeoff.models.prices import make_cost_fn, price_for
from bakeoff.types import Usage


def cost(
    provider: str,
    model: str,
    usage: Usage,
    seconds: float = 1.0,
    config: BakeoffConfig | None = None,
) -> float | None:
    return make_cost_fn(provider, model, config or BakeoffConfig())(usage, seconds)


def test_gpt5_mini_by_hand() -> None:
    # $0.25 in, $0.025 cached, $2 out per Mtok
    usage = Usage(input_tokens=10_000, cached_tokens=2_000, output_tokens=1_000)
    expected = (8_000 * 0.25 + 2_000 * 0.025 + 1_000 * 2.0) / 1e6
    assert cost("openai", "gpt-5-mini", usage) == pytest.approx(expected)
    assert expected == pytest.approx(0.00405)


def test_claude_cache_reads_and_writes_by_hand() -> None:
    # Sonnet 4: $3 in, $0.30 cache read, $3.75 cache write, $15 out per Mtok
    usage = Usage(
        input_tokens=50_000, cached_tokens=30_000, cache_write_tokens=5_000, output_tokens=2_000
    )
    expected = (15_000 * 3 + 30_000 * 0.3 + 5_000 * 3.75 + 2_000 * 15) / 1e6
    assert cost("anthropic", "claude-sonnet-4-0", usage) == pytest.approx(expected)
    assert expected == pytest.approx(0.10275)


def test_reasoning_tokens_are_counted_once() -> None:
    # gpt-5: $1.25 in, $10 out; the 4,000 reasoning tokens are part of the 5,000 output tokens
    usage = Usage(input_tokens=1_000, output_tokens=5_000, reasoning_tokens=4_000)
    assert cost("openai", "gpt-5", usage) == pytest.approx((1_000 * 1.25 + 5_000 * 10) / 1e6)


def test_long_context_tier_reprices_the_whole_request() -> None:
    # Sonnet 4.5 above 200k input tokens: $6 in, $22.50 out
    usage = Usage(input_tokens=250_000, output_tokens=1_000)
    assert cost("anthropic", "claude-sonnet-4-5", usage) == pytest.approx(1.5225)
    small = Usage(input_tokens=200_000, output_tokens=1_000)
    assert cost("anthropic", "claude-sonnet-4-5", small) == pytest.approx(0.615)


def test_gemini_maps_to_googles_prices() -> None:
    price = price_for("gemini", "gemini-2.5-flash")
    assert price is not None
    assert (price.input, price.output) == (0.3, 2.5)


@pytest.mark.parametrize(
    ("provider", "model", "genai_provider"),
    [
        ("openai", "gpt-5-mini", "openai"),
        ("openai", "gpt-5", "openai"),
        ("openai", "gpt-4.1", "openai"),
        ("anthropic", "claude-haiku-4-5", "anthropic"),
        ("anthropic", "claude-sonnet-4-5", "anthropic"),
        ("anthropic", "claude-opus-4-1", "anthropic"),
        ("gemini", "gemini-2.5-pro", "google"),
        ("openrouter", "openai/gpt-5-mini", "openrouter"),
        ("groq", "openai/gpt-oss-20b", "groq"),
    ],
)
@pytest.mark.parametrize(
    "usage",
    [
        Usage(input_tokens=1_234, output_tokens=567),
        Usage(
            input_tokens=40_000, cached_tokens=30_000, cache_write_tokens=2_000, output_tokens=900
        ),
        Usage(
            input_tokens=230_000, cached_tokens=100_000, output_tokens=3_000, reasoning_tokens=2_000
        ),
    ],
)
def test_matches_genai_prices_calculator(
    provider: str, model: str, genai_provider: str, usage: Usage
) -> None:
    reference = genai_prices.calc_price(
        genai_prices.Usage(
            input_tokens=usage.input_tokens,
            cache_read_tokens=usage.cached_tokens,
            cache_write_tokens=usage.cache_write_tokens,
            output_tokens=usage.output_tokens,
        ),
        model,
        provider_id=genai_provider,
    )
    assert cost(provider, model, usage) == pytest.approx(float(reference.total_price), rel=1e-9)


def test_unknown_price_is_none_never_zero() -> None:
    assert price_for("openai", "gpt-unreleased-9") is None
    assert cost("openai", "gpt-unreleased-9", Usage(input_tokens=10, output_tokens=10)) is None
    # A cloud provider nobody configured and genai-prices does not know
    assert price_for("acme", "model-x") is None


def test_custom_provider_is_priced_by_its_base_url() -> None:
    config = BakeoffConfig(
        providers={"tg": ProviderConfig(base_url="https://api.together.xyz/v1", api_key_env="K")}
    )
    price = price_for("tg", "meta-llama/Llama-3.3-70B-Instruct-Turbo", config)
    assert price is not None and price.output > 0


def test_the_users_override_wins() -> None:
    config = BakeoffConfig(
        prices={"openai:gpt-5-mini": PriceOverride(input=1.0, output=4.0, cached_input=0.5)}
    )
    price = price_for("openai", "gpt-5-mini", config)
    assert price is not None and price.source == "config"
    assert price.cache_write == 1.0  # defaults to the input price
    usage = Usage(input_tokens=3_000, cached_tokens=1_000, output_tokens=500)
    assert cost("openai", "gpt-5-mini", usage, config=config) == pytest.approx(
        (2_000 * 1.0 + 1_000 * 0.5 + 500 * 4.0) / 1e6
    )


def test_an_override_prices_a_model_nobody_knows() -> None:
    config = BakeoffConfig(prices={"openai:my-finetune": PriceOverride(input=2, output=8)})
    assert (
        cost("openai", "my-finetune", Usage(input_tokens=10**6, output_tokens=10**6), config=config)
        == 10
    )


def test_self_hosted_models_are_free_in_tokens() -> None:
    usage = Usage(input_tokens=100_000, output_tokens=10_000)
    assert cost("local", "qwen2.5-coder-0.5b", usage) == 0.0
    assert cost("ollama", "gpt-oss:20b", usage) == 0.0  # loopback: this machine
    assert cost("script", "/tmp/s.json", usage) == 0.0
    assert price_for("vllm", "anything") is not None


def test_local_compute_is_charged_by_the_hour() -> None:
    config = BakeoffConfig(
        local=LocalConfig(hourly_usd=3.6),
        providers={"ollama": ProviderConfig(base_url="http://gpu:11434/v1", hourly_usd=1.8)},
    )
    usage = Usage(input_tokens=1_000, output_tokens=100)
    assert cost("local", "qwen2.5-coder-0.5b", usage, 10.0, config) == pytest.approx(0.01)
    assert cost("ollama", "gpt-oss:20b", usage, 10.0, config) == pytest.approx(0.005)
    price = price_for("ollama", "gpt-oss:20b", config)
    assert price is not None and price.describe() == "$0 tokens + $1.8/h (self-hosted)"


def test_unreported_usage_makes_a_priced_request_cost_unknown_never_zero() -> None:
    # The server said nothing about a request's tokens: pricing the 0 it counted would be $0.
    unreported = Usage(output_tokens=40, unreported=1)
    assert cost("openai", "gpt-5-mini", unreported) is None
    partly = Usage(input_tokens=900, cached_tokens=0, output_tokens=40, unreported=1)
    assert cost("anthropic", "claude-sonnet-4-0", partly) is None
    config = BakeoffConfig(prices={"openai:my-finetune": PriceOverride(input=2, output=8)})
    assert cost("openai", "my-finetune", unreported, config=config) is None
    assert cost("openai", "gpt-5-mini", Usage(input_tokens=900, output_tokens=40)) is not None


def test_unreported_usage_leaves_a_self_hosted_cost_as_it_was() -> None:
    # Free tokens are free however many there were; compute time is still charged by the hour.
    unreported = Usage(output_tokens=40, unreported=1)
    assert cost("local", "qwen2.5-coder-0.5b", unreported) == 0.0
    assert cost("ollama", "gpt-oss:20b", unreported) == 0.0
    hourly = BakeoffConfig(local=LocalConfig(hourly_usd=3.6))
    assert cost("local", "qwen2.5-coder-0.5b", unreported, 10.0, hourly) == pytest.approx(0.01)


def test_a_remote_server_without_hourly_cost_is_priced_from_the_table() -> None:
    config = BakeoffConfig(providers={"ollama": ProviderConfig(base_url="http://gpu:11434/v1")})
    assert price_for("ollama", "gpt-oss:20b", config) is None


def test_prices_never_start_the_updater() -> None:
    price_for("openai", "gpt-5")
    price_for("anthropic", "claude-opus-4-1")
    assert update_prices._shared_updater.ref_count == 0
    assert update_prices._shared_updater.thread is None
    assert not any("price" in t.name.lower() for t in threading.enumerate())
