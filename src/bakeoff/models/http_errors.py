"""HTTP failures of the wire adapters as the `ProviderError` family, one mapping for both: each
adapter sorts its SDK's exception into timeout, connection, transport, HTTP status or error event
and calls the function here, so a status means the same whichever API answered. 401 names the
key, 403 the model, 404 the model and base URL; 408, 409, 429 and 5xx are transient and carry
the server's retry-after (`retry-after-ms`, `retry-after` in seconds or as an HTTP date) for
`ModelAdapter.complete` to wait; other 4xx are the request's own fault and not retried. A
connection nobody accepts is `ProviderUnreachable`, with what to start or fix; no byte within the
provider's timeout (connecting, before the answer, between its chunks) is transient, and says
which timeout to raise if the server is only slow."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx2

from bakeoff.errors import ProviderError, ProviderUnreachable

TRANSIENT_STATUSES = frozenset({408, 409, 429})
"""4xx statuses worth asking again (with every 5xx)."""


@dataclass(frozen=True)
class Endpoint:
    """Who failed, for the messages: `provider:name` behind `where` (its base URL)."""

    provider: str
    name: str
    where: str
    timeout_s: float

    @property
    def id(self) -> str:
        return f"{self.provider}:{self.name}"


def is_transient_status(status: int) -> bool:
    """Whether asking again may help: 408, 409, 429 and every 5xx (529 overloaded included)."""
    return status in TRANSIENT_STATUSES or status >= 500


_SLOW_HINT = "; if the server is only slow, raise [providers.{provider}] timeout_s"
"""What a user can do about a provider that sent no byte in time."""


def timeout_error(endpoint: Endpoint) -> ProviderError:
    """No byte within the provider's timeout, connecting or waiting for the answer to begin: a
    hung or overloaded server, or one slower to begin than its timeout allows (transient)."""
    return ProviderError(
        f"{endpoint.id}: no byte from {endpoint.where} within {endpoint.timeout_s:g}s"
        f"{_SLOW_HINT.format(provider=endpoint.provider)}",
        transient=True,
    )


def connection_error(endpoint: Endpoint, exc: BaseException) -> ProviderError:
    """Nobody listening is `ProviderUnreachable` (start it or fix the URL); anything else on
    the way is transient."""
    if connection_refused(exc):
        return ProviderUnreachable(
            f"no server is answering at {endpoint.where}: start the {endpoint.provider} server "
            "or fix the provider's base URL"
        )
    return ProviderError(f"{endpoint.id}: connection to {endpoint.where} failed", transient=True)


def transport_error(endpoint: Endpoint, exc: httpx2.TransportError) -> ProviderError:
    """A connection that broke, or a stream that stalled (no byte within the timeout), after
    the answer began: transient."""
    if isinstance(exc, httpx2.TimeoutException):
        return ProviderError(
            f"{endpoint.id}: the stream from {endpoint.where} stalled: no byte within "
            f"{endpoint.timeout_s:g}s{_SLOW_HINT.format(provider=endpoint.provider)}",
            transient=True,
        )
    return ProviderError(
        f"{endpoint.id}: connection to {endpoint.where} lost: {exc!r}", transient=True
    )


def event_error(
    endpoint: Endpoint, detail: str, *, transient: bool, kind: str = ""
) -> ProviderError:
    """An error event inside a stream that began as HTTP 200; `kind` is its error type."""
    return ProviderError(
        f"{endpoint.id}: {kind or 'error'} mid-stream: {detail}", body=detail, transient=transient
    )


def status_error(
    endpoint: Endpoint,
    status: int,
    body: object,
    headers: Mapping[str, str],
    *,
    fallback: str = "",
    not_found_hint: str = "",
) -> ProviderError:
    """An HTTP error status, with the server's own words from `body` (else `fallback`)."""
    detail = error_detail(body) or fallback
    if status == 401:
        message = f"{endpoint.provider} rejected the API key (HTTP 401): check the key. {detail}"
    elif status == 403:
        message = f"{endpoint.provider} refused access to {endpoint.name!r} (HTTP 403): {detail}"
    elif status == 404:
        message = (
            f"model {endpoint.name!r} was not found at {endpoint.where} (HTTP 404)"
            f"{not_found_hint}: check the model name and the base URL. {detail}"
        )
    else:
        message = f"{endpoint.id}: HTTP {status}: {detail}"
    return ProviderError(
        message.strip(),
        status=status,
        body=body if isinstance(body, str) else json.dumps(body),
        transient=is_transient_status(status),
        retry_after_s=retry_after(headers),
    )


def connection_refused(exc: BaseException) -> bool:
    """Whether nobody listens at the address (refused, or the name did not resolve)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, httpx2.ConnectError | ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def error_detail(body: object) -> str:
    """The server's own words from an error body, short."""
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping):
            inner = inner.get("message", inner)
        body = inner
    text = body if isinstance(body, str) else json.dumps(body) if body is not None else ""
    return text[:300]


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait: `retry-after-ms`, or `retry-after` in seconds or as
    an HTTP date; None when it gave no (readable) hint."""
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return float(ms) / 1000
    except ValueError:
        pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
