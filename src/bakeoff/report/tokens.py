"""Token counts as people read them: "1.2k", and, where a server did not report the usage of
some requests (`Usage.unreported`), a lower bound ("≥1.2k") or "unknown" when it reported none —
never a 0 that reads as "free". Shared by the terminal, the live progress and the HTML report."""

from __future__ import annotations

from bakeoff.types import Usage


def fmt_tokens(n: int) -> str:
    """A plain count, short: 950, 1.2k, 3.40M."""
    if n < 1000:
        return str(n)
    return f"{n / 1000:.1f}k" if n < 1_000_000 else f"{n / 1_000_000:.2f}M"


TOKENS_LEGEND = (
    "tokens ≥N: a lower bound, the server did not report the usage of some requests; unknown: "
    "it reported none. Either way a priced model's cost is unknown, never computed from 0."
)


def fmt_count(n: int, usage: Usage, *, exact: bool = False) -> str:
    """One count of `usage` ("1.2k", or "1234" when `exact`): as is when every request
    reported its usage, "≥1.2k" when some did not, "unknown" when none did."""
    if usage.nothing_known:
        return "unknown"
    text = str(n) if exact else fmt_tokens(n)
    return text if usage.known else f"≥{text}"


def fmt_in_out(usage: Usage) -> str:
    """Input / output tokens for a table cell, e.g. "1.2k / 300" or "≥1.2k / ≥300"."""
    if usage.nothing_known:
        return "unknown"
    return f"{fmt_count(usage.input_tokens, usage)} / {fmt_count(usage.output_tokens, usage)}"


def fmt_total(usage: Usage, *, exact: bool = False) -> str:
    """Input plus output tokens, marked as `fmt_count` marks one count."""
    return fmt_count(usage.input_tokens + usage.output_tokens, usage, exact=exact)


def usage_text(u: Usage) -> str:
    """Every count of one run, exact, with lower bounds and unknowns said as such."""
    untold = f"{u.unreported} request{'s' if u.unreported != 1 else ''} without usage reported"
    if u.nothing_known:
        return f"tokens unknown ({untold})"
    text = (
        f"tokens in {fmt_count(u.input_tokens, u, exact=True)} "
        f"(cached {fmt_count(u.cached_tokens, u, exact=True)}) "
        f"out {fmt_count(u.output_tokens, u, exact=True)} "
        f"(reasoning {fmt_count(u.reasoning_tokens, u, exact=True)})"
    )
    return text if u.known else f"{text}, lower bounds: {untold}"
