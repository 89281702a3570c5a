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
reparented and stops the process, so no orphan holds a GB of memory and both cores. With
`--bakeoff_prompt_cache DIR` (and the server's `--cache true --cache_type disk`), evaluated
prompts are kept on disk across starts (`PromptCache`), so a new server's first request does not
evaluate the system prompt and tools again. Run as
`python -m bakeoff.models.llama_server` with llama_cpp.server's arguments; it needs
llama-cpp-python[server] and nothing else of bakeoff."""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import runpy
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, NoReturn, cast

import llama_cpp
import numpy as np
from fastapi import Depends, HTTPException
from llama_cpp import Llama, LlamaState, llama_supports_gpu_offload
from llama_cpp.llama_cache import BaseLlamaCache
from llama_cpp.llama_chat_format import Jinja2ChatFormatter
from llama_cpp.server.app import get_llama_proxy, router
from llama_cpp.server.model import LlamaProxy
from llama_cpp.server.types import CreateChatCompletionRequest, TokenizeInputCountResponse

PROMPT_TOKENS_PATH = "/extras/chat/prompt-tokens"
PROMPT_CACHE_FLAG = "--bakeoff_prompt_cache"
IDLE_PATH = "/extras/idle"
MIN_KEPT_TOKENS = 64
"""Prompts shorter than this are never kept on disk nor loaded from it (`PromptCache`)."""

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


class PromptCache(BaseLlamaCache):
    """Evaluated prompts kept on disk across the server's starts. After a request whose prompt
    neither the server's memory nor the disk held most of (a new server's first request: the
    system prompt and the tools), llama.cpp's state is saved; a later request (in any start)
    sharing a longer prefix with a saved state than with memory loads it instead of evaluating
    that prefix again. Only llama.cpp's own state is kept, not the server's logits rows: the
    prompt's last token is always evaluated anew before sampling. One folder per model file,
    llama.cpp version and context size; the oldest states go beyond `capacity_bytes`. A state
    that cannot be read or loaded is deleted and the prompt evaluated as if none were kept."""

    def __init__(self, root: Path, capacity_bytes: int) -> None:
        super().__init__(capacity_bytes)
        self.root = root
        self.folder = root
        self.llama: Llama | None = None
        self._save_next = False
        self._candidate = root
        self._index: tuple[int, list[tuple[list[int], Path]]] | None = None

    def bind(self, llama: Llama) -> None:
        """Attach to the server's model (called by its `set_cache`)."""
        st = os.stat(llama.model_path)
        key = (
            f"{Path(llama.model_path).stem}-{st.st_size}-{llama_cpp.__version__}-ctx{llama.n_ctx()}"
        )
        self.folder = self.root / key
        self.folder.mkdir(parents=True, exist_ok=True)
        self.llama = llama
        # The model saves its whole state (with an n_batch x vocabulary logits array) after every
        # request and hands it to the cache; this cache saves llama.cpp's part itself, and only
        # when worth it.
        llama.save_state = lambda: None  # type: ignore[method-assign, assignment, return-value]
        llama.load_state = self._load  # type: ignore[method-assign]

    def __bool__(self) -> bool:
        return True

    def _entries(self) -> list[tuple[list[int], Path]]:
        """The kept states' tokens, read again only when the folder changed (a state saved or
        deleted, by this server or another one of the same model)."""
        try:
            changed = self.folder.stat().st_mtime_ns
        except OSError:
            return []
        if self._index is not None and self._index[0] == changed:
            return self._index[1]
        out = []
        for tokens in sorted(self.folder.glob("*.tokens.npy")):
            try:
                out.append((np.load(tokens).tolist(), tokens.with_suffix("").with_suffix(".state")))
            except (OSError, ValueError):
                continue
        self._index = (changed, out)
        return out

    @property
    def cache_size(self) -> int:
        return sum(p.stat().st_size for p in self.folder.glob("*") if p.is_file())

    def _best(self, key: Sequence[int]) -> tuple[list[int], Path, int]:
        best: tuple[list[int], Path, int] = ([], self.folder, 0)
        for tokens, state in self._entries():
            n = Llama.longest_token_prefix(tokens, key)
            if n > best[2]:
                best = (tokens, state, n)
        return best

    def __contains__(self, key: Sequence[int]) -> bool:
        # A prompt shorter than `MIN_KEPT_TOKENS` (the server's one-token self-check at start)
        # is cheaper to evaluate than a state is to load: it neither loads nor saves one.
        return len(key) >= MIN_KEPT_TOKENS and self._best(key)[2] > 0

    def __getitem__(self, key: Sequence[int]) -> LlamaState:
        assert self.llama is not None
        if len(key) < MIN_KEPT_TOKENS:  # see `__contains__`
            self._save_next = False
            raise KeyError("too short a prompt to keep or load")
        tokens, self._candidate, shared = self._best(key)
        in_memory = Llama.longest_token_prefix(self.llama._input_ids.tolist(), key)
        self._save_next = max(shared, in_memory) < len(key) // 2
        if shared == 0:
            raise KeyError("no saved prompt shares a prefix")
        ids = np.zeros(self.llama.n_ctx(), dtype=np.intc)  # the model's buffer: n_ctx long
        ids[: len(tokens)] = tokens
        return LlamaState(
            input_ids=ids,
            scores=np.zeros((1, self.llama.n_vocab()), dtype=np.single),
            n_tokens=len(tokens),
            llama_state=b"",  # read by `_load`, only when this state is used
            llama_state_size=0,
            seed=self.llama._seed,  # sampling goes on as if nothing were loaded
        )

    def _load(self, state: LlamaState) -> None:
        llama = self.llama
        assert llama is not None
        path = self._candidate
        try:
            data = path.read_bytes()
            Llama.load_state(
                llama,
                LlamaState(
                    state.input_ids, state.scores, state.n_tokens, data, len(data), state.seed
                ),
            )
            print(f"bakeoff: prompt cache: loaded {state.n_tokens} tokens", flush=True)
        except (OSError, RuntimeError, ValueError) as exc:
            print(f"bakeoff: prompt cache: {path.name} unusable ({exc}); deleted", flush=True)
            self._delete(path)
            llama.n_tokens = 0  # evaluate the whole prompt, as with nothing kept
            self._save_next = True

    def __setitem__(self, key: Sequence[int], value: LlamaState) -> None:
        llama = self.llama
        if llama is None or not self._save_next:
            return
        self._save_next = False
        tokens = llama.input_ids[: llama.n_tokens].copy()
        size = llama_cpp.llama_state_get_size(llama._ctx.ctx)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_get_data(llama._ctx.ctx, buffer, size)
        name = hashlib.sha256(tokens.tobytes()).hexdigest()[:24]
        state, index = self.folder / f"{name}.state", self.folder / f"{name}.tokens.npy"
        partial = self.folder / f".{name}.{os.getpid()}.partial"
        with partial.open("wb") as out:
            out.write(memoryview(buffer)[:written])
        partial.replace(state)
        with partial.open("wb") as out:
            np.save(out, tokens)
        partial.replace(index)  # the index last: a state is listed only once it is whole
        print(f"bakeoff: prompt cache: saved {len(tokens)} tokens ({written} bytes)", flush=True)
        self._trim()

    def _trim(self) -> None:
        states = sorted(self.folder.glob("*.state"), key=lambda p: p.stat().st_mtime)
        while states and self.cache_size > self.capacity_bytes:
            self._delete(states.pop(0))

    def _delete(self, state: Path) -> None:
        for path in (state.with_suffix(".tokens.npy"), state):
            path.unlink(missing_ok=True)


def use_prompt_cache(argv: list[str]) -> list[str]:
    """`argv` less `--bakeoff_prompt_cache DIR`; with it, the server's disk cache is a
    `PromptCache` in DIR."""
    if PROMPT_CACHE_FLAG not in argv:
        return argv
    i = argv.index(PROMPT_CACHE_FLAG)
    root = Path(argv[i + 1])
    # Where the server makes its disk cache (llama_cpp.server.model), it makes this one.
    llama_cpp.LlamaDiskCache = lambda capacity_bytes, **_: PromptCache(root, capacity_bytes)  # type: ignore[attr-defined]
    set_cache = Llama.set_cache

    def bound(self: Llama, cache: BaseLlamaCache | None) -> None:
        if isinstance(cache, PromptCache):
            cache.bind(self)
        set_cache(self, cache)

    Llama.set_cache = bound  # type: ignore[method-assign]
    return argv[:i] + argv[i + 2 :]


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
    sys.argv = use_prompt_cache(sys.argv)
    gpu = bool(llama_supports_gpu_offload())
    sys.argv = resolve_gpu_layers(sys.argv, gpu)
    if "--n_gpu_layers" in sys.argv:
        layers = sys.argv[sys.argv.index("--n_gpu_layers") + 1]
        print(f"bakeoff: GPU offload supported: {gpu}; n_gpu_layers={layers}", flush=True)
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    serve()
