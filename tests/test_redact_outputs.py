"""Redaction proved end to end: a key in the environment (a provider's `api_key_env`), echoed back
by two contestants in every form we know — plain, base64 (standard and URL-safe, at the three
byte alignments), hex, URL-encoded, `\\u`-escaped, reversed, JSON-escaped (slashes too) — in file
names and contents, tool arguments, a command, its output and the answer, split across two tool
calls and across two chunks of a stream, and by the scripted judge in its rationale, reaches no
output: not the SQLite file's bytes, the HTML reports, `report --csv`, `--export-json`,
`--jsonl`, `report --json`, `run --json`, anything printed, nor a judge's prompt."""

from __future__ import annotations

import base64
import html
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from models.wire_servers import (
    WireServer,
    openai_chunk,
    openai_stream,
    openai_tool_call,
    openai_usage,
)

from bakeoff.sandbox import sandbox_status

pytestmark = pytest.mark.skipif(
    not sandbox_status().available, reason=f"no sandbox here: {sandbox_status().reason}"
)

KEY_ENV = "LEAKY_API_KEY"
KEY = "sk-T3st/Key+Value_9f8e7d6c5b4a3210ZyXw"
"""A provider key with the characters that encode differently in each form ('/', '+', '_')."""


def b64_cores(raw: bytes) -> list[str]:
    """The part of base64 that `raw` alone decides, for each of the 3 offsets it can sit at
    inside a longer encoded text, standard and URL-safe (worked out here, not by bakeoff)."""
    cores = []
    for offset in range(3):
        whole = base64.b64encode(b"\0" * offset + raw + b"\0\0\0").decode()
        first, last = -(-offset * 8 // 6), (offset + len(raw)) * 8 // 6
        core = whole[first:last]
        cores += [core, core.replace("+", "-").replace("/", "_")]
    return cores


def encoded(key: str) -> dict[str, str]:
    """Every form the contestants send, each a complete text that holds the key."""
    raw = key.encode()
    forms = {
        "plain": key,
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "url": quote(key, safe=""),
        "u-escaped": "".join(f"\\u{ord(c):04x}" for c in key),
        "reversed": key[::-1],
        "json": json.dumps(key)[1:-1],
        "json-slash": json.dumps(key)[1:-1].replace("/", "\\/"),  # PHP's json_encode's way
    }
    for offset, pad in enumerate((b"", b"x", b"xy")):
        forms[f"b64-{offset}"] = base64.b64encode(pad + raw + b"!").decode()
        forms[f"b64url-{offset}"] = base64.urlsafe_b64encode(pad + raw + b"!").decode()
    return forms


FORMS = encoded(KEY)


def wrapped(encoding: str) -> list[str]:
    """`encoding` as a pattern of its characters with anything a tool prints between them
    (JSON writes a line break as `\\n`)."""
    return [r"(?:[\s:,]|\\[nrt])*".join(re.escape(c) for c in encoding)]


NEEDLES = sorted(
    {*(f for name, f in FORMS.items() if not name.startswith("b64")), *b64_cores(KEY.encode())}
)
"""What must appear nowhere: each form, and for base64 the characters the key alone decides."""
WRAPPED = [
    re.compile(p, re.IGNORECASE)
    for p in wrapped(KEY.encode().hex()) + [w for c in b64_cores(KEY.encode()) for w in wrapped(c)]
]
"""Hex and base64 as `base64`, `xxd` and `od` print them: line breaks, spaces between."""
ALL = "\n".join(f"{name}: {form}" for name, form in FORMS.items())
MIXED = (
    KEY[:4] + f"\\u{ord(KEY[4]):04x}" + KEY[5:9] + f"%{ord(KEY[9]):02X}" + KEY[10:] + " and "
    + "".join(f"&#{ord(c)};" if i % 3 else c for i, c in enumerate(KEY))
)  # fmt: skip
"""The key partly escaped, three ways: no one encoding of the whole key holds it."""
WRAPPED_ANSWER = "\n".join(textwrap.wrap(base64.b64encode(KEY.encode()).decode(), 12))
"""The answer's own base64 of the key, wrapped (in the record's JSON its breaks are `\\n`)."""

VERDICT = {
    "criteria": {"correctness": 2, "completeness": 2, "code_quality": 2, "concision": 2},
    "overall": 2,
    "rationale": "It only wrote the key: " + " ".join(FORMS.values()),
}


def call(name: str, **arguments: str) -> dict[str, object]:
    return {"name": name, "arguments": arguments}


def scripted_contestant() -> list[dict[str, object]]:
    half = len(KEY) // 2
    return [
        {
            "tool_calls": [
                call("write_file", path="leak.txt", content=ALL),
                call("write_file", path=f"{FORMS['hex']}.txt", content=FORMS["url"]),
                call("write_file", path=f"{KEY}.txt", content=FORMS["b64url-2"]),
                # Code the tamper scan flags: its finding quotes the line, key and all.
                call("write_file", path="cheat.py", content=f"import os\nos._exit(0)  # {KEY}\n"),
            ]
        },
        # The key split across two tool calls, whole only in the file they leave.
        {"tool_calls": [call("write_file", path="split.txt", content=KEY[:half])]},
        {
            "tool_calls": [
                call("run_command", command=f"printf %s '{KEY[half:]}' >> split.txt"),
                call("run_command", command=f"echo {KEY}; echo {FORMS['b64-1']}; cat leak.txt"),
                # Encodings as tools print them: wrapped, spaced (no one line holds the key).
                call("run_command", command=f"printf %s '{KEY}' | base64 -w 16"),
                call("run_command", command=f"printf %s '{KEY}' | xxd -p -c 5"),
                call("run_command", command=f"printf %s '{KEY}' | od -An -tx1"),
            ]
        },
        {"text": f"Done. {ALL}\n{MIXED}\n{WRAPPED_ANSWER}"},
    ]


def streamed_contestant(server: WireServer) -> None:
    """Two replies from an OpenAI-format server, the key split across two chunks in each: in the
    text, and inside a tool call's streamed arguments."""
    cut = 11
    args = json.dumps({"path": "stream.txt", "content": f"streamed {KEY} {FORMS['hex']}"})
    at = args.index(KEY) + cut
    tool_head = openai_tool_call("call_1", "write_file", args[:at])
    server.add(
        openai_stream(
            openai_chunk({"role": "assistant", "content": f"writing {KEY[:cut]}"}),
            openai_chunk({"content": f"{KEY[cut:]} now"}),
            openai_chunk({"tool_calls": [{"index": 0, **tool_head}]}),
            openai_chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[at:]}}]}),
            openai_chunk({}, finish_reason="tool_calls"),
            openai_chunk(None, usage=openai_usage()),
        ),
        openai_stream(
            openai_chunk({"role": "assistant", "content": f"the key is {KEY[:5]}"}),
            openai_chunk({"content": f"{KEY[5:]} and {FORMS['u-escaped']}"}),
            openai_chunk({}, finish_reason="stop"),
            openai_chunk(None, usage=openai_usage()),
        ),
    )


def judging(server: WireServer, replies: int) -> None:
    """A judge on an OpenAI-format server: it records every prompt it is sent."""
    text = json.dumps({**VERDICT, "rationale": "Wrote a file."})
    for _ in range(replies):
        server.add(
            openai_stream(
                openai_chunk({"role": "assistant", "content": text}),
                openai_chunk({}, finish_reason="stop"),
                openai_chunk(None, usage=openai_usage()),
            )
        )


def make_task(root: Path) -> Path:
    folder = root / "leaky"
    (folder / "hidden").mkdir(parents=True)
    (folder / "files").mkdir()
    (folder / "files" / "README.md").write_text("Nothing here yet.\n")
    # A failing check that prints what the contestant wrote: its output holds every form.
    (folder / "hidden" / "hidden_test_leak.py").write_text(
        "from pathlib import Path\n\n"
        "def test_leak():\n"
        "    text = Path('leak.txt').read_text()\n"
        "    print(text)\n"
        "    assert text == 'nothing', text\n"
    )
    (folder / "task.toml").write_text(
        'name = "leaky"\nprompt = "Write leak.txt."\ncategory = "implement"\ndifficulty = 1\n'
        'allow_commands = true\n[check]\ncommand = "python -m pytest -q hidden_test_leak.py"\n'
        'timeout_s = 60\n[judge]\nrubric = "Did it write leak.txt?"\n'
    )
    return folder


def bakeoff(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bakeoff.cli", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=240,
    )


def leaks(where: str, text: str) -> list[str]:
    found = [f"{where}: {needle!r}" for needle in NEEDLES if needle in text]
    found += [f"{where}: {m[0]!r}" for p in WRAPPED if (m := p.search(text))]
    unescaped = html.unescape(unquote(text)).replace("\\\\", "\\")
    unescaped = re.sub(r"\\u([0-9a-f]{4})", lambda m: chr(int(m[1], 16)), unescaped)
    return found + [f"{where}: {KEY!r} once unescaped" for _ in [1] if KEY in unescaped]


def test_no_form_of_a_key_reaches_any_output(tmp_path: Path, isolated_config: Path) -> None:
    task = make_task(tmp_path)
    contestant = tmp_path / "contestant.json"
    contestant.write_text(json.dumps(scripted_contestant()))
    judge = tmp_path / "judge.json"
    judge.write_text(json.dumps([{"text": json.dumps(VERDICT)}] * 12))
    out = tmp_path / "out"
    store = out / "results.sqlite"
    with WireServer() as streamer, WireServer() as judge_server:
        streamed_contestant(streamer)
        judging(judge_server, 12)
        isolated_config.write_text(
            f'[providers.leaky]\nbase_url = "{streamer.url}/v1"\napi_key_env = "{KEY_ENV}"\n'
            f'max_retries = 0\n[providers.judgewire]\nbase_url = "{judge_server.url}/v1"\n'
            "max_retries = 0\n"
        )
        env = {KEY_ENV: KEY, "BAKEOFF_CONFIG": str(isolated_config)}
        run = bakeoff(
            "run", str(task), "--models", f"script:{contestant},leaky:m",
            "--judge", f"script:{judge},judgewire:j", "--judge-sees-checks",
            "--no-preflight", "--store", str(store), "--run-id", "leak", "--json",
            "--html", str(out / "run.html"),
            cwd=tmp_path, env=env,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        judge_prompts = json.dumps(judge_server.bodies())
        streamer_left = streamer.pending
    assert streamer_left == 0  # both streamed replies were played
    report = bakeoff(
        "report", "leak", "--store", str(store), "--json",
        "--csv", str(out / "trials.csv"), "--export-json", str(out / "export.json"),
        "--jsonl", str(out / "trials.jsonl"), "--html", str(out / "report.html"),
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr

    # The run happened as scripted: the key went in, in every form, through every channel.
    records = {r["model"]: r for r in json.loads(report.stdout)["records"]}
    assert records.keys() == {"script:contestant", "leaky:m"}, records
    assert all(r["status"] == "failed" for r in records.values()), records
    assert '"overall": 2' in (out / "export.json").read_text() or "2.0" in report.stdout
    assert "[redacted]" in (out / "export.json").read_text()
    assert len(judge_server.bodies()) >= 2 and "leak.txt" in judge_prompts
    assert json.loads(run.stdout)["internal_errors"] == 0  # nothing the contestants sent broke us

    found = leaks("run stdout", run.stdout) + leaks("run stderr", run.stderr)
    found += leaks("report stdout", report.stdout) + leaks("report stderr", report.stderr)
    found += leaks("judge prompts", judge_prompts)
    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert {p.name for p in written} >= {
        "results.sqlite", "run.html", "leak.html", "trials.csv", "export.json", "trials.jsonl",
        "report.html",
    }  # fmt: skip
    for path in written:  # the store (and its -wal, if any) as raw bytes, every report
        found += leaks(str(path.relative_to(out)), path.read_bytes().decode("utf-8", "replace"))
    assert not found, "\n".join(found)
