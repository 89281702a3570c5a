"""A small OpenAI-compatible chat-completions server for the scheduling benchmark: it answers
every request after a seeded latency that depends on the model (mean and spread) and on the
task named in the prompt, streaming (SSE, chunked) or not, and counts how many requests of each
provider are in flight, so the benchmark can check that per-provider limits held.

Run as a process: `python fake_openai.py --host 127.0.0.2 --spec spec.json`; it prints
`PORT <n>` once it listens. `GET /stats` returns every request served (model, task, start and
end as Unix times) and the most requests each provider had in flight at once.
Raw asyncio streams and HTTP/1.1 keep-alive: no framework, so the server's own cost stays
far below the latencies it simulates."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import time
from typing import Any

DIFFICULTY_FACTOR = {1: 0.5, 2: 0.75, 3: 1.0, 4: 1.25, 5: 1.5}
"""How much longer a harder task takes (mean 1.0 over uniformly spread difficulties)."""

TASK_IN_PROMPT = re.compile(r"\bTask (\S+?):")


def latency_s(spec: dict[str, Any], model: str, task: str) -> float:
    """The seeded service time of (model, task): model mean × task difficulty × noise."""
    m = spec["models"][model]
    difficulty = spec["tasks"].get(task, 3)
    noise = random.Random(f"{spec['seed']}:{model}:{task}").uniform(
        1 - m["spread"], 1 + m["spread"]
    )
    return float(m["mean_s"] * DIFFICULTY_FACTOR[difficulty] * noise * spec.get("scale", 1.0))


class FakeServer:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec
        self.requests: list[dict[str, Any]] = []
        self.in_flight: dict[str, int] = {}
        self.max_in_flight: dict[str, int] = {}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                method, path, _ = line.decode("latin-1").split(" ", 2)
                headers: dict[str, str] = {}
                while (h := await reader.readline()) not in (b"\r\n", b"\n", b""):
                    k, _, v = h.decode("latin-1").partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", 0) or 0))
                if method == "GET" and path.endswith("/models"):
                    data = [{"id": m, "object": "model"} for m in self.spec["models"]]
                    await self._json(writer, {"object": "list", "data": data})
                elif method == "GET" and path.endswith("/stats"):
                    await self._json(
                        writer, {"requests": self.requests, "max_in_flight": self.max_in_flight}
                    )
                elif method == "POST" and path.endswith("/chat/completions"):
                    await self._chat(writer, json.loads(body))
                else:
                    await self._json(writer, {"error": {"message": "not found"}}, status=404)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def _json(self, writer: asyncio.StreamWriter, obj: Any, status: int = 200) -> None:
        data = json.dumps(obj).encode()
        writer.write(
            f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\n\r\n".encode()
            + data
        )
        await writer.drain()

    async def _chat(self, writer: asyncio.StreamWriter, req: dict[str, Any]) -> None:
        model = req["model"]
        prompt = next((m["content"] for m in req["messages"] if m["role"] == "user"), "")
        found = TASK_IN_PROMPT.search(prompt or "")
        task = found.group(1) if found else "?"
        provider = self.spec["models"][model]["provider"]
        total = latency_s(self.spec, model, task)
        start = time.time()
        self.in_flight[provider] = self.in_flight.get(provider, 0) + 1
        self.max_in_flight[provider] = max(
            self.max_in_flight.get(provider, 0), self.in_flight[provider]
        )
        words = ["OK", ".", " Done", " here", "."]
        usage = {"prompt_tokens": 40, "completion_tokens": len(words), "total_tokens": 45}
        created = int(start)
        try:
            if not req.get("stream"):
                await asyncio.sleep(total)
                await self._json(
                    writer,
                    {
                        "id": "chatcmpl-bench",
                        "object": "chat.completion",
                        "created": created,
                        "model": model,
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": "".join(words)},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": usage,
                    },
                )
                return
            await asyncio.sleep(total * 0.3)  # time to first token
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                b"Transfer-Encoding: chunked\r\n\r\n"
            )

            def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> None:
                chunk = {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                    **extra,
                }
                data = f"data: {json.dumps(chunk)}\n\n".encode()
                writer.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

            event({"role": "assistant", "content": ""})
            for word in words:
                event({"content": word})
                await writer.drain()
                await asyncio.sleep(total * 0.7 / len(words))
            event({}, "stop")
            data = json.dumps(
                {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": usage,
                }
            )
            for raw in (f"data: {data}\n\n".encode(), b"data: [DONE]\n\n"):
                writer.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        finally:
            self.in_flight[provider] -= 1
            self.requests.append(
                {
                    "model": model,
                    "task": task,
                    "start": start,
                    "end": time.time(),
                    "nominal_s": total,
                }
            )


async def serve(host: str, spec: dict[str, Any]) -> None:
    server = FakeServer(spec)
    srv = await asyncio.start_server(server.handle, host, 0, backlog=1024)
    port = srv.sockets[0].getsockname()[1]
    print(f"PORT {port}", flush=True)
    async with srv:
        await srv.serve_forever()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--spec", required=True, help="JSON file: seed, scale, models, tasks")
    args = ap.parse_args()
    with open(args.spec) as f:
        spec = json.load(f)
    asyncio.run(serve(args.host, spec))


if __name__ == "__main__":
    main()
