"""Real HTTP servers on 127.0.0.1 that replay the OpenAI chat-completions and Anthropic messages
wire formats from a per-test script, so the adapters are tested through the official SDKs over
real sockets (streaming, status codes, headers, timeouts, dropped connections). A test queues
`Reply`s; each request pops the next one and is recorded for assertions. Builders below write
the JSON bodies and SSE events in each provider's format."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bakeoff.models.base import RetryPolicy
from bakeoff.models.openai_chat import OpenAIChatModel
from bakeoff.types import Message, ToolSpec

READ = ToolSpec(
    name="read_file",
    description="Read a file in the workspace.",
    parameters={"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]},
)
"""The one tool the adapter tests offer."""
ASK = [Message(role="system", content="Be brief."), Message(role="user", content="Hi")]
"""The conversation the adapter tests send."""

JITTER_S = 0.2
"""How late a loaded machine may read a streamed event: a `Pause` of P seconds between two events
is measured on the client as no less than P - JITTER_S (timing assertions allow for it)."""


@dataclass
class Pause:
    """Inside a stream: wait this long before the next event."""

    seconds: float


@dataclass
class KeepAlive:
    """Inside a stream: an SSE comment line (`: keep-alive`), bytes that clients skip."""


@dataclass
class Event:
    """One server-sent event; `name` is the `event:` line (Anthropic), None for OpenAI."""

    data: str
    name: str | None = None


@dataclass
class Reply:
    """One scripted response: a JSON body, or an SSE stream, or a dropped connection."""

    status: int = 200
    body: Any = None
    events: list[Event | Pause | KeepAlive] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # before the status line: long enough, and the client times out
    drop: bool = False  # close the connection without answering


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


class WireServer:
    """A scripted server on a free loopback port; use as a context manager."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._idle = threading.Condition()
        self._active = 0
        self._httpd = _Server(("127.0.0.1", 0), _handler_for(self))
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def pending(self) -> int:
        return len(self._replies)

    def add(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def bodies(self) -> list[Any]:
        return [request.body for request in self.requests]

    def __enter__(self) -> WireServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()  # wakes handlers sleeping in a delay or pause
        self._httpd.shutdown()
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0, timeout=5)
        self._httpd.server_close()
        self._thread.join()

    def _next(self, received: Received) -> Reply:
        with self._lock:
            self.requests.append(received)
            if self._replies:
                return self._replies.popleft()
        return error_reply(500, "wire server: no reply scripted for this request")

    def _enter(self) -> None:
        with self._idle:
            self._active += 1

    def _leave(self) -> None:
        with self._idle:
            self._active -= 1
            self._idle.notify_all()


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is part of the script, not a failure


def _handler_for(server: WireServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            server._enter()
            try:
                self._answer()
            except OSError:
                pass  # the client went away (timeout test): nothing to answer
            finally:
                server._leave()

        def do_GET(self) -> None:
            self.do_POST()

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            try:
                body: Any = json.loads(raw) if raw else None
            except ValueError:
                body = raw.decode(errors="replace")
            reply = server._next(
                Received(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
            )
            self.close_connection = True
            if reply.delay_s and server._stop.wait(reply.delay_s):
                return
            if reply.drop:
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self.send_response(reply.status)
            for key, value in reply.headers.items():
                self.send_header(key, value)
            self.send_header("connection", "close")
            if reply.events is None:
                payload = json.dumps(reply.body).encode()
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            self.send_header("content-type", "text/event-stream")
            self.end_headers()  # no length: the body ends when the connection closes
            self.wfile.flush()
            for item in reply.events:
                if isinstance(item, Pause):
                    if server._stop.wait(item.seconds):
                        return
                    continue
                if isinstance(item, KeepAlive):
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
                    continue
                head = f"event: {item.name}\n" if item.name else ""
                self.wfile.write(f"{head}data: {item.data}\n\n".encode())
                self.wfile.flush()

    return Handler


def free_port() -> int:
    """A loopback port with nobody listening (for connection-refused tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_reply(status: int, message: str, headers: dict[str, str] | None = None) -> Reply:
    kind = _ERROR_TYPES.get(status, "api_error")
    body = {"type": "error", "error": {"type": kind, "message": message}}
    return Reply(status=status, body=body, headers=headers or {})


# --- OpenAI chat completions -------------------------------------------------------------------


def openai_usage(
    prompt: int = 10, completion: int = 5, *, cached: int = 0, reasoning: int = 0
) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached},
        "completion_tokens_details": {"reasoning_tokens": reasoning},
    }


def openai_tool_call(call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def openai_completion(
    content: str | None = "",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    usage: dict[str, Any] | None = None,
    finish_reason: str = "stop",
) -> Reply:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": usage or openai_usage(),
    }
    return Reply(body=body)


def openai_chunk(
    delta: dict[str, Any] | None = None,
    *,
    finish_reason: str | None = None,
    usage: dict[str, Any] | None = None,
) -> Event:
    choices = (
        [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish_reason}]
    )
    chunk: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": choices,
    }
    if usage is not None:
        chunk["usage"] = usage
    return Event(json.dumps(chunk))


def openai_stream(*items: Event | Pause | KeepAlive) -> Reply:
    """A streamed answer; `data: [DONE]` is appended."""
    return Reply(events=[*items, Event("[DONE]")])


# --- Anthropic messages ------------------------------------------------------------------------


def anthropic_usage(
    input_tokens: int = 10, output_tokens: int = 5, *, cache_read: int = 0, cache_write: int = 0
) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
    }


def anthropic_message(
    *blocks: dict[str, Any], usage: dict[str, Any] | None = None, stop_reason: str = "end_turn"
) -> Reply:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": list(blocks),
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": usage or anthropic_usage(),
    }
    return Reply(body=body)


def anthropic_event(data: dict[str, Any]) -> Event:
    return Event(json.dumps(data), name=str(data["type"]))


def anthropic_stream(
    *items: Event | Pause, usage: dict[str, Any] | None = None, stop_reason: str = "end_turn"
) -> Reply:
    """message_start (input usage), the given events, then message_delta (output tokens) and
    message_stop, the way the Messages API frames every stream."""
    full = usage or anthropic_usage()
    start_usage = {**full, "output_tokens": 1}
    message: dict[str, Any] = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage,
    }
    return Reply(
        events=[
            anthropic_event({"type": "message_start", "message": message}),
            anthropic_event({"type": "ping"}),
            *items,
            anthropic_event(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                    "usage": {"output_tokens": full["output_tokens"]},
                }
            ),
            anthropic_event({"type": "message_stop"}),
        ]
    )


def anthropic_text_block(index: int, *pieces: str | Pause) -> list[Event | Pause]:
    """Events of one streamed text block, each string a `text_delta`."""
    events: list[Event | Pause] = [
        anthropic_event(
            {
                "type": "content_block_start",
                "index": index,
                "content_block": {"type": "text", "text": ""},
            }
        )
    ]
    for piece in pieces:
        if isinstance(piece, Pause):
            events.append(piece)
        else:
            delta = {"type": "text_delta", "text": piece}
            events.append(
                anthropic_event({"type": "content_block_delta", "index": index, "delta": delta})
            )
    events.append(anthropic_event({"type": "content_block_stop", "index": index}))
    return events


def anthropic_tool_block(
    index: int, call_id: str, name: str, *json_pieces: str
) -> list[Event | Pause]:
    """Events of one streamed tool_use block, its input sent as `input_json_delta` pieces."""
    block = {"type": "tool_use", "id": call_id, "name": name, "input": {}}
    events: list[Event | Pause] = [
        anthropic_event({"type": "content_block_start", "index": index, "content_block": block})
    ]
    for piece in json_pieces:
        delta = {"type": "input_json_delta", "partial_json": piece}
        events.append(
            anthropic_event({"type": "content_block_delta", "index": index, "delta": delta})
        )
    events.append(anthropic_event({"type": "content_block_stop", "index": index}))
    return events


VERDICT = json.dumps({"criteria": {"correctness": 7}, "overall": 7, "rationale": "fine"})
"""What `SlowServer` answers a judge: a valid verdict."""


class SlowServer:
    """A loopback server speaking llama.cpp's OpenAI-compatible streaming chat (no usage in the
    stream) that "generates" for `work_s`, then answers a contestant (a request offering tools)
    "done" and a judge `VERDICT`. It records when each request ran, on its own clock, as
    `spans` of (start, end), and whose it was (`who`: "c" contestant, "j" judge)."""

    def __init__(self, work_s: float = 0.15) -> None:
        self.work_s = work_s
        self.spans: list[tuple[float, float]] = []
        self.who: list[str] = []
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                start = time.monotonic()
                asked = json.loads(self.rfile.read(int(self.headers.get("content-length", 0))))
                contestant = bool(asked.get("tools"))
                time.sleep(outer.work_s)  # a server thread, not the event loop
                chunk = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
                events = [
                    {**chunk, "choices": [{"index": 0, "delta": {"role": "assistant",
                                           "content": "done" if contestant else VERDICT},
                                 "finish_reason": None}]},
                    {**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
                ]  # fmt: skip
                body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())
                with lock:
                    outer.spans.append((start, time.monotonic()))
                    outer.who.append("c" if contestant else "j")

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> SlowServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._thread.join()
        self._httpd.server_close()


def openai_said(text: str) -> Reply:
    """A streamed reply of plain text that finishes, then its usage chunk."""
    return openai_stream(
        openai_chunk({"content": text}, finish_reason="stop"), openai_chunk(usage=openai_usage())
    )


def llamacpp_model(url: str, retry: RetryPolicy, **options: Any) -> OpenAIChatModel:
    """The chat adapter as a llama.cpp-based provider (`llamacpp:qwen`, keyless) at `url`."""
    return OpenAIChatModel(
        "llamacpp", "qwen", base_url=f"{url}/v1", api_key=None, retry=retry, **options
    )
