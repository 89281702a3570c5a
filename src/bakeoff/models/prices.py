"""What a model costs: a `Price` per million tokens by token kind, looked up in the user's
`[prices]` overrides first and then in the price table bundled with `genai-prices` (read from the
installed package only: its auto-updater is never started, so nothing phones home). Self-hosted
models (embedded, scripted, servers on loopback, or any provider with `hourly_usd`) are free in
tokens and may carry a $/hour of compute. A model whose price nobody knows gets `None`, never $0;
so does a request of a priced model whose server reported no usage (`Usage.known`).
`cost_fn_of` turns a price into the `CostFn` the adapters call once per request (`make_cost_fn`
looks the price up first). A model's price is asked of its `ModelId` (`model_id.py`), which
also finds the entry that prices a script by its path."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from bakeoff.config import BakeoffConfig, ProviderConfig
from bakeoff.models.base import CostFn, unknown_cost
from bakeoff.types import Usage

if TYPE_CHECKING:
    from genai_prices.types import ModelPrice

PriceSource = Literal["config", "genai-prices", "self-hosted"]

# Our provider names → genai-prices provider ids, where they differ or must not be guessed.
GENAI_PROVIDER_IDS: dict[str, str] = {
    "openai": "openai",
    "anthropic": "anthropic",
    "gemini": "google",
    "google": "google",
    "groq": "groq",
    "openrouter": "openrouter",
}

_KEYS = {
    "input": "input_mtok",
    "output": "output_mtok",
    "cached_input": "cache_read_mtok",
    "cache_write": "cache_write_mtok",
}


class Rates(BaseModel):
    """USD per million tokens of each kind."""

    input: float
    """Uncached input tokens."""
    output: float
    """Output tokens, reasoning included (counted once)."""
    cached_input: float
    """Input tokens read from the prompt cache."""
    cache_write: float
    """Input tokens written to the prompt cache."""

    def tokens_cost(self, usage: Usage) -> float:
        """USD for `usage`. Cached and cache-write tokens are parts of `input_tokens`, and
        reasoning tokens are part of `output_tokens`, so each token is priced exactly once."""
        uncached = max(0, usage.input_tokens - usage.cached_tokens - usage.cache_write_tokens)
        return (
            uncached * self.input
            + usage.cached_tokens * self.cached_input
            + usage.cache_write_tokens * self.cache_write
            + usage.output_tokens * self.output
        ) / 1_000_000


class PriceTier(Rates):
    """Rates that apply to a whole request once its input exceeds a threshold (the "cliff"
    model of long-context pricing: crossing it reprices every token of the request)."""

    above_input_tokens: int
    """The tier applies when a request's input tokens are more than this."""


class Price(Rates):
    """The price of one model: base rates, long-context tiers, optional compute cost."""

    tiers: list[PriceTier] = Field(default_factory=list)
    """Higher rates for long requests, ascending by threshold."""
    hourly_usd: float | None = None
    """Compute cost in $/hour of request time (self-hosted models)."""
    source: PriceSource = "genai-prices"
    """Where the price came from."""

    def rates_for(self, input_tokens: int) -> Rates:
        """The rates a request with `input_tokens` prompt tokens pays."""
        rates: Rates = self
        for tier in self.tiers:
            if input_tokens > tier.above_input_tokens:
                rates = tier
        return rates

    @property
    def charges_tokens(self) -> bool:
        """Whether any token costs money (a self-hosted model's tokens are free)."""
        rates = [self, *self.tiers]
        return any(r.input or r.output or r.cached_input or r.cache_write for r in rates)

    def cost(self, usage: Usage, seconds: float = 0.0) -> float | None:
        """USD of one request: its tokens at the applicable rates plus compute time; None
        when tokens cost money and the server did not report them (never a price of 0)."""
        if not usage.known and self.charges_tokens:
            return None
        total = self.rates_for(usage.input_tokens).tokens_cost(usage)
        if self.hourly_usd:
            total += self.hourly_usd * max(seconds, 0.0) / 3600
        return total

    def describe(self) -> str:
        """Short human form, e.g. `$0.25 in / $2 out per Mtok` or `$0 tokens (self-hosted)`."""
        if self.source == "self-hosted":
            hourly = f" + ${self.hourly_usd:g}/h" if self.hourly_usd else ""
            return f"$0 tokens{hourly} (self-hosted)"
        tiers = " (+tiers)" if self.tiers else ""
        return f"${self.input:g} in / ${self.output:g} out per Mtok{tiers}"


def _decimal_rate(value: Any, threshold: int | None) -> float | None:
    """The rate of one genai-prices price key for a request above `threshold` input tokens
    (None = the base rate)."""
    from genai_prices.types import TieredPrices

    if value is None:
        return None
    if isinstance(value, TieredPrices):
        rate: Decimal = value.base
        if threshold is not None:
            for tier in value.tiers:
                if tier.start <= threshold:
                    rate = tier.price
        return float(rate)
    return float(value)


def _rates_from(model_price: ModelPrice, threshold: int | None) -> dict[str, float] | None:
    rates = {
        ours: _decimal_rate(getattr(model_price, key), threshold) for ours, key in _KEYS.items()
    }
    base_input, output = rates["input"], rates["output"]
    if base_input is None or output is None:
        return None  # priced per request, per character...: not a token price we can apply
    # A missing cache price means the provider bills those tokens as plain input.
    return {
        "input": base_input,
        "output": output,
        "cached_input": base_input if rates["cached_input"] is None else rates["cached_input"],
        "cache_write": base_input if rates["cache_write"] is None else rates["cache_write"],
    }


def price_from_genai(model_price: ModelPrice) -> Price | None:
    """Convert a genai-prices `ModelPrice` (plain or tiered per key) into a `Price`."""
    from genai_prices.types import TieredPrices

    base = _rates_from(model_price, None)
    if base is None:
        return None
    thresholds = sorted(
        {
            tier.start
            for key in _KEYS.values()
            if isinstance(value := getattr(model_price, key), TieredPrices)
            for tier in value.tiers
        }
    )
    tiers = []
    for threshold in thresholds:
        rates = _rates_from(model_price, threshold)
        if rates is not None:
            tiers.append(PriceTier(above_input_tokens=threshold, **rates))
    return Price(**base, tiers=tiers, source="genai-prices")


def _genai_candidates(
    provider: str, cfg: ProviderConfig | None
) -> list[tuple[str | None, str | None]]:
    """(provider_id, provider_api_url) pairs to try in genai-prices, most specific first."""
    candidates: list[tuple[str | None, str | None]] = []
    if provider in GENAI_PROVIDER_IDS:
        candidates.append((GENAI_PROVIDER_IDS[provider], None))
    else:
        candidates.append((provider, None))
    if cfg is not None:
        if cfg.base_url and not cfg.is_loopback:
            candidates.append((None, cfg.base_url))
        if cfg.kind in ("openai", "anthropic"):
            candidates.append((cfg.kind, None))
    return candidates


def lookup_genai_price(
    provider: str, model_name: str, cfg: ProviderConfig | None = None
) -> Price | None:
    """The bundled genai-prices price of `provider:model_name`, or None when it has none."""
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    for provider_id, api_url in _genai_candidates(provider, cfg):
        try:
            _, model = snapshot.find_provider_model(model_name, None, provider_id, api_url)
            model_price = model.get_prices(datetime.now(tz=UTC))
        except LookupError:
            continue
        return price_from_genai(model_price)
    return None


def price_for(provider: str, model_name: str, config: BakeoffConfig | None = None) -> Price | None:
    """The price of `provider:model_name`: the user's override, else free tokens for a
    self-hosted model, else the genai-prices table; None when unknown."""
    config = config or BakeoffConfig()
    model_id = f"{provider}:{model_name}"
    cfg = config.providers.get(provider)
    hourly = config.hourly_usd_for(model_id) if cfg is not None else None
    override = config.prices.get(model_id)
    if override is not None:
        return Price(
            input=override.input,
            output=override.output,
            cached_input=override.input if override.cached_input is None else override.cached_input,
            cache_write=override.input if override.cache_write is None else override.cache_write,
            hourly_usd=hourly,
            source="config",
        )
    if cfg is not None and cfg.self_hosted:
        return Price(
            input=0,
            output=0,
            cached_input=0,
            cache_write=0,
            hourly_usd=hourly,
            source="self-hosted",
        )
    return lookup_genai_price(provider, model_name, cfg)


def make_cost_fn(provider: str, name: str, config: BakeoffConfig | None = None) -> CostFn:
    """The adapter's `(usage, request_seconds) -> USD | None` for `provider:name`."""
    return cost_fn_of(price_for(provider, name, config))


def cost_fn_of(price: Price | None) -> CostFn:
    """The adapter's `(usage, request_seconds) -> USD | None` at `price` (None: unknown)."""
    if price is None:
        return unknown_cost

    def cost(usage: Usage, seconds: float) -> float | None:
        return price.cost(usage, seconds)

    return cost
