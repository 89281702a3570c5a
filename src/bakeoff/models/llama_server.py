"""The embedded model's server: llama-cpp-python's OpenAI-compatible server with one more route.
That server sends no usage in streamed answers, so `POST /extras/chat/prompt-tokens` counts a
chat request's prompt tokens the way the server itself does: the request is validated by the
server's own request model and rendered and tokenized by the model's own chat handler, which is
stopped just before it would generate. Run as `python -m bakeoff.models.llama_server` with
llama_cpp.server's arguments; it needs llama-cpp-python[server] and nothing else of bakeoff."""

from __future__ import annotations

import runpy
from typing import Annotated, Any, NoReturn, cast

from fastapi import Depends, HTTPException
from llama_cpp import Llama
from llama_cpp.server.app import get_llama_proxy, router
from llama_cpp.server.model import LlamaProxy
from llama_cpp.server.types import CreateChatCompletionRequest, TokenizeInputCountResponse

PROMPT_TOKENS_PATH = "/extras/chat/prompt-tokens"

# What the server's chat-completions route leaves out of the request before calling the model.
_NOT_PASSED = {"n", "logit_bias_type", "user", "min_tokens"}


class _PromptReady(Exception):
    def __init__(self, prompt: object) -> None:
        super().__init__("prompt ready")
        self.prompt = prompt


class _StopBeforeGenerating:
    """The model as its chat handler sees it, except that asking it to generate hands back the
    prompt the handler rendered and tokenized."""

    def __init__(self, llama: Llama) -> None:
        self._llama = llama

    def __getattr__(self, name: str) -> Any:
        return getattr(self._llama, name)

    def create_completion(self, prompt: object, **_: Any) -> NoReturn:
        raise _PromptReady(prompt)


def count_prompt_tokens(llama: Llama, request: CreateChatCompletionRequest) -> int:
    """How many prompt tokens `llama` would evaluate for this chat request."""
    kwargs = request.model_dump(exclude=_NOT_PASSED)
    kwargs["stream"] = False
    try:
        Llama.create_chat_completion(cast(Llama, _StopBeforeGenerating(llama)), **kwargs)
    except _PromptReady as ready:
        if isinstance(ready.prompt, list):  # token ids: what the chat-format handlers pass
            return len(ready.prompt)
    raise HTTPException(501, "this model's chat handler does not hand over token ids")


# The server's own lock: a count waits for a generation in progress rather than racing it (run
# the server with --interrupt_requests false, or the wait would cut that generation short).
LockedModels = Annotated[LlamaProxy, Depends(get_llama_proxy)]


async def prompt_tokens(
    body: CreateChatCompletionRequest, llama_proxy: LockedModels
) -> TokenizeInputCountResponse:
    return TokenizeInputCountResponse(count=count_prompt_tokens(llama_proxy(body.model), body))


def serve() -> None:
    """`python -m llama_cpp.server`, with the route added."""
    router.add_api_route(PROMPT_TOKENS_PATH, prompt_tokens, methods=["POST"], tags=["Extras"])
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    serve()
