"""A stand-in for `bakeoff.models.llama_server`, run as its own process by `LocalServer(program=...)`:
it takes the same arguments, answers `GET /v1/models` and then misbehaves the way a broken
llama.cpp does, chosen by `FAKE_LLAMA_MODE`:

- `sigill` / `sigkill`: the process kills itself with that signal on its first chat request
  (a build using CPU instructions this machine lacks; the OOM killer);
- `sigkill-later`: answers its first chat request (the self-check), dies on the second;
- `no-load`: prints llama.cpp's load failure and exits 1 before listening;
- `500`: lists models, answers every chat request with HTTP 500.
Each start appends a line to `$FAKE_LLAMA_STARTS` (when set), so tests count starts."""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

MODE = os.environ.get("FAKE_LLAMA_MODE", "sigill")


def _arg(name: str) -> str:
    return sys.argv[sys.argv.index(name) + 1]


class Handler(BaseHTTPRequestHandler):
    chats = 0

    def log_message(self, format: str, *args: object) -> None:
        print(format % args, flush=True)

    def _send(self, status: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200, {"object": "list", "data": [{"id": _arg("--model_alias")}]})

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        Handler.chats += 1
        if MODE == "500":
            self._send(500, {"error": {"message": "llama_decode failed"}})
            return
        if MODE == "sigill" or (MODE == "sigkill-later" and Handler.chats > 1):
            print("fake: about to run an instruction this CPU lacks", flush=True)
        if MODE == "sigill":
            os.kill(os.getpid(), signal.SIGILL)
        if MODE == "sigkill" or (MODE == "sigkill-later" and Handler.chats > 1):
            os.kill(os.getpid(), signal.SIGKILL)
        self._send(
            200,
            {
                "id": "x",
                "object": "chat.completion",
                "created": 0,
                "model": _arg("--model_alias"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "OK"},
                        "finish_reason": "length",
                    }
                ],
                "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
            },
        )


def main() -> None:
    if starts := os.environ.get("FAKE_LLAMA_STARTS"):
        with open(starts, "a") as out:
            out.write(f"{os.getpid()}\n")
    print(f"fake llama server, mode {MODE}, model {_arg('--model')}", flush=True)
    if MODE == "no-load":
        print("llama_model_load: error loading model: invalid magic", flush=True)
        print("ValueError: Failed to load model from file", flush=True)
        sys.exit(1)
    signal.signal(signal.SIGILL, signal.SIG_DFL)
    HTTPServer(("127.0.0.1", int(_arg("--port"))), Handler).serve_forever()


if __name__ == "__main__":
    main()
