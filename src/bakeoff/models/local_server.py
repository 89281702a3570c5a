"""The managed llama.cpp server behind the `local` provider (its weights: `bakeoff.models.gguf`;
the program it runs: `bakeoff.models.llama_server`). `LocalServer` runs llama.cpp's
OpenAI-compatible server on a free loopback port as a subprocess, one per model per process
(`shared_server`), with a new log file per start
(`<cache>/logs/llama-server-<model>-<time>-<pid>.log`) and every layer on the GPU when llama.cpp
was built with CUDA or Metal (`gpu_layers`); `hold()`/`release()` count the models using it and
the last release stops it, and `stop_local_servers()` stops them all, also at interpreter exit.
Every start ends with a one-token self-check, so a build this CPU cannot run (SIGILL) or a model
that will not load is found before a trial; a server that dies says how (`exit_cause`: the
signal or exit code in words, what to do, the log) and is started again at most `MAX_RESTARTS`
times per process, after a pause, then not at all."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from bakeoff.config import BakeoffConfig
from bakeoff.errors import ProviderUnreachable, UserError
from bakeoff.models.gguf import (
    GGUFSpec,
    embedded_spec,
    ensure_gguf,
    logs_dir,
    new_server_log,
    prompt_cache_dir,
)

LOOPBACK_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
"""Opens the server's URLs straight, never through a proxy from the environment."""
# A route bakeoff.models.llama_server adds (that module imports llama_cpp, so not from it).
_IDLE_PATH = "/extras/idle"
PROMPT_CACHE_BYTES = 1024**3
"""Disk the kept prompts of one model may use; the oldest go first."""
MAX_RESTARTS = 2
"""Starts after a server crashed (or failed to load), per server, in one process; after one more
crash the model is unusable until the process ends: no further starts."""
RESTART_BACKOFF_S = (1.0, 4.0)
"""Pauses before the first and the second restart after a crash."""
SELF_CHECK_TOKENS = 1
"""Tokens the start-up self-check generates before the server is reported ready."""
GPU_LAYERS_ENV = "BAKEOFF_N_GPU_LAYERS"
"""Overrides `[local] n_gpu_layers`: an integer (-1 = all layers, 0 = CPU only) or `auto`."""


_SIGNAL_CAUSES = {
    "SIGILL": "this CPU lacks instructions the build uses: run `make rebuild-local`",
    "SIGKILL": "out of memory? the kernel's OOM killer sends SIGKILL (see `dmesg`)",
    "SIGBUS": "the model file changed or its disk failed while mapped",
    "SIGSEGV": "llama.cpp crashed: a damaged model file? delete it from ~/.cache/bakeoff",
    "SIGABRT": "llama.cpp aborted: the log says why",
}


def exit_cause(code: int, log: str = "") -> str:
    """A server process's exit status in words, with what to do: the signal that killed it by
    name, or its exit code and, when its log shows it, that the model file would not load."""
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        cause = _SIGNAL_CAUSES.get(name)
        return f"killed by {name}" + (f" ({cause})" if cause else "")
    lowered = log.lower()
    if "failed to load model" in lowered or "unable to load model" in lowered:
        return f"exited with code {code}: it could not load the model file (damaged, or not enough memory)"
    if "memoryerror" in lowered or "out of memory" in lowered or "failed to allocate" in lowered:
        return f"exited with code {code}: out of memory"
    return f"exited with code {code}"


class ServerCrashed(ProviderUnreachable):
    """The local server process died (a signal, an exit code, a model that would not load); the
    message names the cause and the log. `transient` while a restart is still allowed."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _default_threads() -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8))


def gpu_layers(configured: int | str | None) -> str:
    """The `--n_gpu_layers` the server gets: `$BAKEOFF_N_GPU_LAYERS`, else `configured`, else
    `auto` (the server offloads every layer when llama.cpp supports GPU offload, else none)."""
    value = os.environ.get(GPU_LAYERS_ENV, "").strip() or configured
    if value is None or value == "auto":
        return "auto"
    try:
        return str(int(value))
    except ValueError:
        raise UserError(
            f"n_gpu_layers must be an integer or auto (-1 = all layers, 0 = CPU), not {value!r}"
        ) from None


class LocalServer:
    """llama.cpp's OpenAI-compatible server for one GGUF file, as a managed subprocess. Each
    start writes a new log file (unless `log_path` is given); `log_path` names the current one.
    `hold()`/`release()` count the models using it: the last release stops it."""

    def __init__(
        self,
        gguf: Path | None,
        *,
        model_alias: str,
        n_ctx: int = 8192,
        threads: int | None = None,
        log_path: Path | None = None,
        startup_timeout_s: float = 180.0,
        spec: GGUFSpec | None = None,
        n_gpu_layers: int | str | None = None,
        prompt_cache: Path | None = None,
        program: Sequence[str] | None = None,
        restart_backoff_s: Sequence[float] = RESTART_BACKOFF_S,
    ) -> None:
        self.restart_backoff_s = tuple(restart_backoff_s)
        self.program = list(program or (sys.executable, "-m", "bakeoff.models.llama_server"))
        """The server's command line before its arguments (tests run a stand-in)."""
        self.gguf = gguf  # None: assembled from `spec` on first start
        self.spec = spec
        self.model_alias = model_alias
        self.n_ctx = n_ctx
        self.threads = threads or _default_threads()
        self._fixed_log = log_path
        self.log_path = log_path or logs_dir() / f"llama-server-{model_alias}.log"
        self.n_gpu_layers = gpu_layers(n_gpu_layers)
        self.startup_timeout_s = startup_timeout_s
        self.prompt_cache = prompt_cache
        """Where evaluated prompts are kept across starts (`llama_server.PromptCache`); None:
        not kept."""
        self.starts = 0
        self.crashes = 0
        """Times the server died on its own (or would not start) in this process."""
        self.unusable: str | None = None
        """Why no further start is tried, once the server crashed `MAX_RESTARTS` + 1 times."""
        self.self_check_s: float | None = None
        """Seconds the last start's one-token self-check took."""
        self._users = 0
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        if self.port is None:
            raise RuntimeError("the local server has not been started")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def root_url(self) -> str:
        return self.base_url.removesuffix("/v1")

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start_sync(self) -> float:
        """Start the server unless it is up; return seconds spent waiting for it (0 if up).
        After a crash it is started again at most `MAX_RESTARTS` times, after a pause; then
        `ServerCrashed` (not transient) says why, at once, on every call."""
        if self.running:
            return 0.0
        t0 = time.perf_counter()
        with self._lock:
            if self.running:
                return time.perf_counter() - t0  # another thread loaded it while we waited
            self._note_exit_locked()
            if self.unusable is not None:
                raise ServerCrashed(self.unusable)
            self._stop_locked()
            if self.crashes and self.restart_backoff_s:
                pauses = self.restart_backoff_s
                time.sleep(pauses[min(self.crashes, len(pauses)) - 1])
            if self.gguf is None:
                if self.spec is None:
                    raise RuntimeError("LocalServer needs a GGUF file or a spec")
                self.gguf = ensure_gguf(self.spec.key, spec=self.spec)
            self._spawn()
            try:
                self._wait_ready()
            except BaseException as exc:
                crashed = self._note_exit_locked()
                self._stop_locked()
                if crashed is not None and not isinstance(exc, ServerCrashed):
                    raise crashed from exc
                raise
        _register_atexit()
        return time.perf_counter() - t0

    def _note_exit_locked(self, when: str = "") -> ServerCrashed | None:
        """If the server process died on its own, count the crash and say why (the signal or
        exit code in words, and the log); from the crash after the last allowed restart on the
        server is unusable."""
        proc = self._proc
        if proc is None or proc.poll() is None:
            return None
        self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
        self.crashes += 1
        # The first line is what the run's summary shows (300 characters): the cause, the log.
        cause = exit_cause(proc.returncode, self.log_tail(200))
        was = "was " if cause.startswith("killed") else ""
        message = f"the llama.cpp server {was}{cause}; log {self.log_path}"
        when = f"\nIt stopped {when.strip()}." if when else ""
        if self.crashes > MAX_RESTARTS:
            self.unusable = (
                f"{message}{when}\nIt stopped {self.crashes} times: not started again in this run."
            )
            return ServerCrashed(self.unusable)
        return ServerCrashed(message + when, transient=True)

    def crash(self, wait_s: float = 2.0) -> ServerCrashed | None:
        """After a request failed: if the server process has died (waiting up to `wait_s` for
        it to finish dying), the crash, counted and in words; None while it runs."""
        proc = self._proc
        if proc is None:
            return None
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=wait_s)
        with self._lock:
            if self._proc is not proc:  # another caller counted it, or it was restarted
                return ServerCrashed(self.unusable) if self.unusable else None
            return self._note_exit_locked()

    async def start(self) -> float:
        return await asyncio.to_thread(self.start_sync)

    def _spawn(self) -> None:
        self.port = _free_port()
        self.log_path = self._fixed_log or new_server_log(self.model_alias)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self.starts += 1
        # llama_cpp.server reads CONFIG_FILE and its settings from the environment: keep a
        # stray variable of the user's from reconfiguring it.
        env = {k: v for k, v in os.environ.items() if k != "CONFIG_FILE"}
        command = [
            *self.program,
            "--model", str(self.gguf),
            "--model_alias", self.model_alias,
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.threads),
            "--host", "127.0.0.1",
            "--port", str(self.port),
            # A second request waits its turn instead of cutting the running stream short.
            "--interrupt_requests", "false",
            # The server's default keeps every prompt token's full logits row (no use to us):
            # a quarter of prompt speed and GBs of memory (BENCHMARKS.md, benchmark 4).
            "--logits_all", "false",
            # "auto": every layer on the GPU when llama.cpp was built with CUDA or Metal.
            "--n_gpu_layers", self.n_gpu_layers,
        ]  # fmt: skip
        if self.prompt_cache is not None:
            command += ["--cache", "true", "--cache_type", "disk",
                        "--cache_size", str(PROMPT_CACHE_BYTES),
                        "--bakeoff_prompt_cache", str(self.prompt_cache)]  # fmt: skip
        self._proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT, env=env
        )

    def _wait_ready(self) -> None:
        """Wait for the model list, then generate `SELF_CHECK_TOKENS` token(s): a server that
        loads but dies or fails on its first generation (a CPU without the instructions its
        build uses) is found here, not in a contestant's trial."""
        deadline = time.monotonic() + self.startup_timeout_s
        url = f"{self.base_url}/models"
        while True:
            self._raise_if_exited(f"while loading {self.gguf}")
            try:
                with LOOPBACK_OPENER.open(url, timeout=1.0) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise ProviderUnreachable(
                    f"the local llama.cpp server did not answer within "
                    f"{self.startup_timeout_s:g}s; log {self.log_path}:\n{self.log_tail()}"
                )
            time.sleep(0.1)
        t0 = time.perf_counter()
        body = json.dumps(
            {
                "model": self.model_alias,
                "messages": [{"role": "user", "content": "Say OK."}],
                "max_tokens": SELF_CHECK_TOKENS,
            }
        ).encode()
        request = urllib.request.Request(
            f"{self.base_url}/chat/completions",
            data=body,
            headers={"content-type": "application/json"},
            method="POST",
        )
        try:
            timeout = max(5.0, deadline - time.monotonic())
            with LOOPBACK_OPENER.open(request, timeout=timeout) as response:
                answer = json.load(response)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            if self._proc is not None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._proc.wait(timeout=2.0)
            self._raise_if_exited("on its first generation")
            raise ProviderUnreachable(
                f"the local llama.cpp server failed its one-token self-check ({exc}); "
                f"log {self.log_path}:\n{self.log_tail()}"
            ) from None
        if not isinstance(answer, dict) or not answer.get("choices"):
            raise ProviderUnreachable(
                f"the local llama.cpp server's self-check got no answer ({str(answer)[:200]}); "
                f"log {self.log_path}"
            )
        self.self_check_s = time.perf_counter() - t0

    def _raise_if_exited(self, when: str) -> None:
        assert self._proc is not None
        code = self._proc.poll()
        if code is None:
            return
        crashed = self._note_exit_locked(f" {when}")
        assert crashed is not None
        raise ServerCrashed(f"{crashed}\n{self.log_tail()}", transient=crashed.transient)

    def log_tail(self, lines: int = 20) -> str:
        """The last lines of the server's log, for error messages."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Terminate the server (kill it if it does not exit within 5 s)."""
        with self._lock:
            self._stop_locked()

    def _stop_locked(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None

    async def aclose(self) -> None:
        await asyncio.to_thread(self.stop)

    def users(self) -> int:
        """How many models use this server."""
        return self._users

    def hold(self) -> None:
        """One more model uses this server."""
        with self._lock:
            self._users += 1

    def release(self) -> None:
        """One model less; the last one out stops the server (its memory is freed)."""
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users == 0:
                self._stop_locked()

    def wait_idle(self, timeout_s: float) -> None:
        """Return once the server is generating nothing (a request the client cancelled runs
        until the server notices, which during prompt evaluation can take a while)."""
        if not self.running:
            return
        url = self.root_url + _IDLE_PATH
        with contextlib.suppress(OSError), LOOPBACK_OPENER.open(url, timeout=timeout_s) as response:
            response.read()


_servers: dict[str, LocalServer] = {}
_servers_lock = threading.Lock()
_atexit_registered = False


def _register_atexit() -> None:
    global _atexit_registered
    with _servers_lock:
        if not _atexit_registered:
            atexit.register(stop_local_servers)
            _atexit_registered = True


def shared_server(model_key: str, config: BakeoffConfig | None = None) -> LocalServer:
    """The process-wide server of `model_key` (created, not started, on first call)."""
    spec = embedded_spec(model_key)
    local = (config or BakeoffConfig()).local
    with _servers_lock:
        server = _servers.get(model_key)
        if server is None:
            server = LocalServer(
                None,
                model_alias=model_key,
                n_ctx=local.n_ctx,
                threads=local.threads,
                spec=spec,
                n_gpu_layers=local.n_gpu_layers,
                prompt_cache=prompt_cache_dir() if local.prompt_cache else None,
            )
            _servers[model_key] = server
        return server


def stop_local_servers() -> None:
    """Stop every embedded-model server this process started (also run at interpreter exit)."""
    with _servers_lock:
        servers = list(_servers.values())
    for server in servers:
        with contextlib.suppress(Exception):
            server.stop()
