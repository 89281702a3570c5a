"""The embedded model's server: llama-cpp-python's OpenAI-compatible server with one more route.
That server sends no usage in streamed answers, so `POST /extras/chat/prompt-tokens` counts a
chat request's prompt tokens the way the server itself does: the request is validated by the
server's own request model and rendered and tokenized by the model's own chat handler, which is
stopped just before it would generate. `GET /extras/idle` answers once no generation is running
(it waits for the server's model lock). `--n_gpu_layers auto` becomes -1 (every layer) when this
llama.cpp build can offload to a GPU (CUDA, Metal…) and 0 otherwise; the choice is printed to the
log. Past tool calls reach the chat template with their `arguments` as objects, not the JSON
strings the OpenAI format carries: Qwen's template applies `tojson` to them, and a string would be
encoded twice — the model then copies the escaped form into its own calls. The server exits
when bakeoff does, however bakeoff ended (SIGKILL included): a watchdog thread sees it
reparented and stops the process, so no orphan holds a GB of memory and both cores. Run as
`python -m bakeoff.models.llama_server` with llama_cpp.server's arguments; it needs
llama-cpp-python[server] and nothing else of bakeoff."""

from __future__ import annotations

import json
import os
import runpy
import sys
import threading
import time
from typing import Annotated, Any, NoReturn, cast

from fastapi import Depends, HTTPException
from llama_cpp import Llama, llama_supports_gpu_offload
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from llama_cpp.server.app import get_llama_proxy, router
from llama_cpp.server.model import LlamaProxy
from llama_cpp.server.types import CreateChatCompletionRequest, TokenizeInputCountResponse

PROMPT_TOKENS_PATH = "/extras/chat/prompt-tokens"
IDLE_PATH = "/extras/idle"

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


async def idle(llama_proxy: LockedModels) -> dict[str, bool]:
    return {"idle": True}  # the lock was ours: nothing is generating


def with_object_arguments(messages: list[Any]) -> list[Any]:
    """`messages` with each past tool call's JSON-string `arguments` decoded into an object
    (left as they are when they are not a JSON object)."""
    out = []
    for message in messages:
        calls = message.get("tool_calls") if isinstance(message, dict) else None
        if calls:
            message = {**message, "tool_calls": [_decoded_call(c) for c in calls]}
        out.append(message)
    return out


def _decoded_call(call: Any) -> Any:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("arguments"), str):
        return call
    try:
        arguments = json.loads(function["arguments"])
    except ValueError:
        return call
    if not isinstance(arguments, dict):
        return call
    return {**call, "function": {**function, "arguments": arguments}}


def decode_arguments_for_templates() -> None:
    """Make every Jinja chat template see tool-call arguments as objects (see module doc)."""
    render = Jinja2ChatFormatter.__call__
    if getattr(render, "_bakeoff_decodes", False):
        return

    def call(self: Jinja2ChatFormatter, *, messages: list[Any], **kwargs: Any) -> Any:
        return render(self, messages=with_object_arguments(messages), **kwargs)

    call._bakeoff_decodes = True  # type: ignore[attr-defined]
    Jinja2ChatFormatter.__call__ = call  # type: ignore[method-assign]


def resolve_gpu_layers(argv: list[str], gpu: bool) -> list[str]:
    """`argv` with `--n_gpu_layers auto` made a number: -1 with `gpu` offload, else 0."""
    out = list(argv)
    for i, arg in enumerate(out[:-1]):
        if arg == "--n_gpu_layers" and out[i + 1] == "auto":
            out[i + 1] = "-1" if gpu else "0"
    return out


def exit_with_parent(parent: int, every_s: float = 1.0) -> threading.Thread:
    """End this process at once once `parent` is no longer its parent. Not SIGTERM: the server
    would shut down gracefully, which waits for the generation in flight (measured: minutes for
    a long prompt on the 1.5B) that nobody will read."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every_s)
        os._exit(1)

    thread = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    thread.start()
    return thread


def serve() -> None:
    """`python -m llama_cpp.server`, with the routes added."""
    exit_with_parent(os.getppid())
    router.add_api_route(PROMPT_TOKENS_PATH, prompt_tokens, methods=["POST"], tags=["Extras"])
    router.add_api_route(IDLE_PATH, idle, methods=["GET"], tags=["Extras"])
    decode_arguments_for_templates()
    gpu = bool(llama_supports_gpu_offload())
    sys.argv = resolve_gpu_layers(sys.argv, gpu)
    if "--n_gpu_layers" in sys.argv:
        layers = sys.argv[sys.argv.index("--n_gpu_layers") + 1]
        print(f"bakeoff: GPU offload supported: {gpu}; n_gpu_layers={layers}", flush=True)
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    serve()
