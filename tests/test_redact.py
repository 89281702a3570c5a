"""The redaction filter: the value of every key bakeoff knows becomes `[redacted]` before it is
stored, printed or exported. End to end, a real loopback server that echoes the key it was sent
in its error body (as OpenAI does for a wrong key) must not get the key into `agent --json`,
the transcript, the SQLite store, the HTML report, the CSV or the JSON export."""

from __future__ import annotations

import html
import json
import os
import secrets
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bakeoff.redact import (
    HIDDEN,
    REDACTED,
    is_secret_env,
    redact,
    redact_json,
    redact_model,
    register_secret_env,
)
from bakeoff.types import AgentResult, Message

# --- the filter ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "OPENAI_API_KEY",
        "GITHUB_TOKEN",
        "DB_PASSWORD",
        "AWS_SECRET_ACCESS_KEY",
        "hf_token",
        "PASSWD",
    ],
)
def test_credential_names_are_secret(name: str) -> None:
    assert is_secret_env(name)


@pytest.mark.parametrize("name", ["HOME", "PATH", "GIT_AUTHOR_NAME", "LANG", "EDITOR"])
def test_ordinary_names_are_not(name: str) -> None:
    assert not is_secret_env(name)


def test_a_secret_is_redacted_in_every_form_it_takes(monkeypatch: pytest.MonkeyPatch) -> None:
    value = 'p4ss"w/rd+&<' + secrets.token_hex(8)
    monkeypatch.setenv("SERVICE_PASSWORD", value)
    forms = [
        value,
        json.dumps(value)[1:-1],
        quote(value, safe=""),
        html.escape(value),
        html.escape(json.dumps(value)[1:-1]),
    ]
    assert len(set(forms)) == len(forms)
    text = "\n".join(f"form {i}: {f} end" for i, f in enumerate(forms))
    out = redact(text)
    assert out == "\n".join(f"form {i}: {REDACTED} end" for i in range(len(forms)))


def test_short_values_and_other_variables_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_KEY", "true")
    monkeypatch.setenv("PLAIN_SETTING", "an-ordinary-long-value")
    text = "true: an-ordinary-long-value"
    assert redact(text) == text


def test_a_registered_name_is_secret_whatever_it_is_called(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    value = "cred-" + secrets.token_hex(12)
    monkeypatch.setenv("ODD_NAME_FOR_A_CRED", value)
    assert redact(f"x {value} y") == f"x {value} y"
    register_secret_env("ODD_NAME_FOR_A_CRED")
    assert redact(f"x {value} y") == f"x {REDACTED} y"


def test_the_environment_is_read_at_call_time(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = "tok-" + secrets.token_hex(8), "tok-" + secrets.token_hex(8)
    monkeypatch.setenv("LATE_TOKEN", first)
    assert redact(first) == REDACTED
    monkeypatch.setenv("LATE_TOKEN", second)
    assert redact(f"{first} {second}") == f"{first} {REDACTED}"


def test_nested_structures_and_models(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-" + secrets.token_hex(16)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    obj = {"a": [1, None, {"b": f"key={key}", key: True}], "n": 2.5}
    assert redact_json(obj) == {"a": [1, None, {"b": f"key={REDACTED}", REDACTED: True}], "n": 2.5}

    clean = AgentResult(
        ok=True, answer="nothing here", model="m", provider="p", stop_reason="completed"
    )
    assert redact_model(clean) is clean
    leaky = clean.model_copy(
        update={
            "error": f"HTTP 401: {key}",
            "transcript": [Message(role="tool", content=f'{{"key": "{key}"}}')],
        }
    )
    out = redact_model(leaky)
    assert out.error == f"HTTP 401: {REDACTED}"
    assert out.transcript[0].content == f'{{"key": "{REDACTED}"}}'
    assert key not in out.model_dump_json()


# --- end to end ---------------------------------------------------------------------------------


class EchoKeyServer:
    """A loopback OpenAI-compatible server that rejects every request with a 401 whose body
    repeats the bearer token it was sent, raw and URL-encoded in a link."""

    def __init__(self) -> None:
        self.tokens: list[str] = []

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(handler) -> None:
                handler.rfile.read(int(handler.headers.get("content-length") or 0))
                token = handler.headers.get("authorization", "").removeprefix("Bearer ")
                self.tokens.append(token)
                message = (
                    f"Incorrect API key provided: {token}. Check it at "
                    f"https://example.invalid/keys?key={quote(token, safe='')}"
                )
                body = json.dumps(
                    {"error": {"message": message, "type": "invalid_request_error", "code": None}}
                ).encode()
                handler.send_response(401)
                handler.send_header("content-type", "application/json")
                handler.send_header("content-length", str(len(body)))
                handler.end_headers()
                handler.wfile.write(body)

            do_GET = do_POST  # the preflight's model list

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> EchoKeyServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join()


class Keys:
    """Fake keys in the environment: OpenAI's, and one under a name no pattern would catch."""

    def __init__(self) -> None:
        self.openai = "sk-test-" + secrets.token_urlsafe(24)[:32]
        self.odd = 'cr3d"/+&<' + secrets.token_hex(12)  # changes under JSON, URL and HTML escaping

    @property
    def env(self) -> dict[str, str]:
        return {"OPENAI_API_KEY": self.openai, "MY_LLM_CRED": self.odd}

    def leaked_in(self, data: bytes) -> list[str]:
        """Which key shows up in `data`, in any form a file or output could hold it."""
        found = []
        for name, value in self.env.items():
            forms = {
                value,
                json.dumps(value)[1:-1],
                quote(value, safe=""),
                html.escape(value),
                html.escape(json.dumps(value)[1:-1]),
            }
            if any(f.encode() in data for f in forms):
                found.append(name)
        return found


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def echo(isolated_config: Path) -> Iterator[EchoKeyServer]:
    with EchoKeyServer() as server:
        isolated_config.write_text(
            f'[providers.openai]\nbase_url = "{server.url}"\n'
            f'[providers.mybox]\nkind = "openai_compatible"\nbase_url = "{server.url}"\n'
            'api_key_env = "MY_LLM_CRED"\n',
            encoding="utf-8",
        )
        yield server


def bakeoff(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "bakeoff.cli", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        timeout=180,
    )


@pytest.mark.parametrize("model", ["openai:gpt-test", "mybox:some-model"])
def test_agent_output_and_transcript_never_show_the_key(
    tmp_path: Path, keys: Keys, echo: EchoKeyServer, model: str
) -> None:
    out = bakeoff(
        "agent", "hi", "-m", model, "-w", "w", "--json", "--transcript", "t.json",
        cwd=tmp_path, env=keys.env,
    )  # fmt: skip
    assert out.returncode == 1, out.stderr
    assert set(echo.tokens) & set(keys.env.values()), "the server never saw a key to echo"
    error = json.loads(out.stdout)["error"]
    assert "HTTP 401" in error and REDACTED in error
    transcript = (tmp_path / "t.json").read_bytes()
    assert REDACTED.encode() in transcript
    text = bakeoff("agent", "hi", "-m", model, "-w", "w", cwd=tmp_path, env=keys.env)
    assert REDACTED in text.stdout.decode()
    for data in (out.stdout, out.stderr, transcript, text.stdout, text.stderr):
        assert keys.leaked_in(data) == []


def test_a_key_pasted_where_a_model_belongs_is_not_echoed(
    tmp_path: Path, keys: Keys, echo: EchoKeyServer
) -> None:
    out = bakeoff("agent", "hi", "-m", keys.openai, "-w", "w", cwd=tmp_path, env=keys.env)
    assert out.returncode == 2
    assert out.stderr.decode().startswith(f"error: unknown model '{REDACTED}'")
    assert keys.leaked_in(out.stderr + out.stdout) == []


def test_a_bakeoff_stores_and_exports_no_key(
    tmp_path: Path, keys: Keys, echo: EchoKeyServer
) -> None:
    # A contestant that got hold of both keys writes one into a file and answers with the
    # other; the check prints the file. The second contestant and the judge hit the echo server.
    task = tmp_path / "in" / "leak"
    task.mkdir(parents=True)
    (task / "task.toml").write_text(
        'name = "leak"\nprompt = "Write notes.txt."\ncategory = "implement"\ndifficulty = 1\n'
        '[check]\ncommand = "python -c \'print(open(\\"notes.txt\\").read())\'"\n'
        '[judge]\nrubric = "Any notes."\n',
        encoding="utf-8",
    )
    script = tmp_path / "in" / "leaker.json"
    write = {"name": "write_file", "arguments": {"path": "notes.txt", "content": keys.openai}}
    script.write_text(json.dumps([{"tool_calls": [write]}, {"text": f"found {keys.odd}"}]))
    out_dir = tmp_path / "out"
    store = out_dir / "results.sqlite"
    common = ("--store", str(store))
    preflight = bakeoff(
        "run", str(task), "--models", "openai:gpt-test", "--judge", "mybox:judge", *common,
        cwd=tmp_path, env=keys.env,
    )  # fmt: skip
    assert preflight.returncode == 2 and "HTTP 401" in preflight.stderr.decode()
    assert keys.leaked_in(preflight.stderr) == []
    run = bakeoff(
        "run", str(task), "--models", f"script:{script},openai:gpt-test",
        "--judge", "mybox:judge", "--pairwise", "--run-id", "leaky", "--show-runs", "--no-preflight",
        "--html", str(out_dir / "run.html"), *common, cwd=tmp_path, env=keys.env,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr.decode()
    report = bakeoff(
        "report", "leaky", "--csv", str(out_dir / "t.csv"), "--export-json",
        str(out_dir / "e.json"), "--html", str(out_dir / "report.html"), "--json", *common,
        cwd=tmp_path, env=keys.env,
    )  # fmt: skip
    assert report.returncode == 0, report.stderr.decode()
    assert set(keys.env.values()) <= set(echo.tokens), "contestant and judge both used a key"

    written = [p for p in out_dir.rglob("*") if p.is_file()]
    names = {p.name for p in written}
    assert {"results.sqlite", "run.html", "report.html", "t.csv", "e.json"} <= names
    for path in written:
        assert keys.leaked_in(path.read_bytes()) == [], path
    for output in (run.stdout, run.stderr, report.stdout, report.stderr):
        assert keys.leaked_in(output) == []

    sqlite_bytes = b"".join(p.read_bytes() for p in written if p.name.startswith("results."))
    for name in ("report.html", "t.csv", "e.json"):
        assert REDACTED.encode() in (out_dir / name).read_bytes(), name
    assert REDACTED.encode() in sqlite_bytes
    doc = json.loads((out_dir / "e.json").read_text())
    (leaker, rejected) = sorted(doc["records"], key=lambda r: r["model"] != "script:leaker")
    assert leaker["check"]["passed"] and REDACTED in leaker["check"]["output"]
    assert leaker["agent"]["answer"] == f"found {REDACTED}"
    assert REDACTED in leaker["diff"] and REDACTED in leaker["judges"][0]["error"]
    assert rejected["status"] == "error" and REDACTED in rejected["agent"]["error"]


# --- encoded, reversed and split forms; the cache -------------------------------------------------


def encoded_forms(value: str) -> dict[str, str]:
    """The forms a contestant can echo a key back in, each as it would sit in a longer text."""
    import base64

    raw = value.encode()
    forms = {
        "hex": raw.hex(),
        "HEX": raw.hex().upper(),
        "url": quote(value, safe=""),
        "\\u": "".join(f"\\u{ord(c):04x}" for c in value),
        "json": json.dumps(value)[1:-1],
        "reversed": value[::-1],
    }
    for pad in range(3):  # the key at each byte offset inside a longer encoded blob
        blob = b"p" * pad + raw + b" and more"
        forms[f"base64+{pad}"] = base64.b64encode(blob).decode()
        forms[f"urlsafe+{pad}"] = base64.urlsafe_b64encode(blob).decode()
    return forms


def test_encoded_and_reversed_forms_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-test-" + secrets.token_urlsafe(24)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    for name, form in encoded_forms(key).items():
        out = redact(f"echo: {form} :end")
        assert REDACTED in out, name
        # What is left cannot give the key back: its own characters are gone.
        assert form not in out and key not in out, name


def test_a_key_streamed_in_chunks_is_redacted_once_assembled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = "sk-test-" + secrets.token_hex(16)
    monkeypatch.setenv("OPENAI_API_KEY", key)
    chunks = [key[i : i + 3] for i in range(0, len(key), 3)]
    message = Message(role="assistant", content="".join(f"{c}" for c in chunks))
    result = AgentResult(
        ok=True, answer="", model="m", provider="p", stop_reason="completed", transcript=[message]
    )
    assert key not in redact_model(result).model_dump_json()


def test_lone_surrogates_become_storable(monkeypatch: pytest.MonkeyPatch) -> None:
    leaky = AgentResult(
        ok=True, answer="a\ud800b", model="m", provider="p", stop_reason="completed"
    )
    out = redact_model(leaky)
    assert out.answer == "a\ufffdb"
    out.model_dump_json().encode("utf-8")


def test_the_redactor_is_rebuilt_only_when_the_environment_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from bakeoff.redact import current

    monkeypatch.setenv("CACHE_TEST_TOKEN", "tok-" + secrets.token_hex(8))
    first = current()
    assert current() is first  # nothing changed: the same redactor, no re-read
    monkeypatch.setenv("UNRELATED_SETTING", "x")
    second = current()
    monkeypatch.setenv("CACHE_TEST_TOKEN", "tok-" + secrets.token_hex(8))
    third = current()
    assert third is not second
    assert redact(os.environ["CACHE_TEST_TOKEN"]) == REDACTED
    register_secret_env("CACHE_TEST_ODD")
    assert current() is not third


def test_a_key_with_its_slashes_json_escaped_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-a/b+" + secrets.token_hex(12)
    monkeypatch.setenv("SLASHY_API_KEY", key)
    escaped = key.replace("/", "\\/")  # how PHP's json_encode and some servers write '/'
    assert redact(f'{{"k": "{escaped}"}}') == f'{{"k": "{REDACTED}"}}'


def test_a_key_in_a_file_name_never_reaches_the_kept_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Files named after a key (in two forms, so both stand-ins read `[redacted].txt`) are kept
    as notes under distinct redacted names: the changes table keys on the name."""
    from bakeoff.evals.store.changes import changes_between
    from bakeoff.evals.trial.diff import Snapshot

    key = "sk-test-" + secrets.token_hex(16)
    monkeypatch.setenv("NAMED_API_KEY", key)
    after: Snapshot = {
        f"{key}.txt": b"x",
        f"{key.encode().hex()}.txt": b"y",
        f"{REDACTED}.txt": b"a plain file already named so",
    }
    files = changes_between({}, after).files
    names = [f.path for f in files]
    assert len(set(names)) == 3, names
    assert not any(key in n or key.encode().hex() in n for n in names), names
    kept = {f.path: f for f in files}
    assert kept[f"{REDACTED}.txt"].content == b"a plain file already named so"
    assert all(f.content is None and f.not_kept for n, f in kept.items() if "(" in n)


def _mixed_forms(key: str) -> dict[str, str]:
    """The key with only some characters escaped, or wrapped as command-line tools print their
    encodings (the forms a filter of whole-value encodings misses)."""
    import base64
    import textwrap

    def wrapped(text: str, width: int) -> str:
        return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False))

    raw = key.encode()
    return {
        "one char u-escaped": key[:5] + f"\\u{ord(key[5]):04x}" + key[6:],
        "u-escaped, upper hex": "".join(f"\\u{ord(c):04X}" for c in key),
        "one char x-escaped": key[:7] + f"\\x{ord(key[7]):02x}" + key[8:],
        "every other char percent-encoded": "".join(
            f"%{ord(c):02X}" if i % 2 else c for i, c in enumerate(key)
        ),
        "html decimal entities": "".join(f"&#{ord(c)};" for c in key),
        "html hex entity once": key[:3] + f"&#x{ord(key[3]):x};" + key[4:],
        "SHOUTED": key.upper(),
        "base64 wrapped at 20 (base64 -w 20)": wrapped(base64.b64encode(raw).decode(), 20),
        "base64 wrapped at 76, offset 1": wrapped(base64.b64encode(b"a" + raw * 2).decode(), 76),
        "URL-safe base64 wrapped at 16": wrapped(base64.urlsafe_b64encode(raw).decode(), 16),
        "hex wrapped at 14 (xxd -p -c 7)": wrapped(raw.hex(), 14),
        "hex with spaces (od-like)": " ".join(f"{b:02x}" for b in raw),
        "hex with colons": ":".join(f"{b:02x}" for b in raw),
        "spaced out (ends up HIDDEN)": " ".join(key),
        "double URL-encoded (ends up HIDDEN)": "".join(f"%25{ord(c):02X}" for c in key),
        "reversed, one char escaped": key[::-1][:4] + f"\\u{ord(key[::-1][4]):04x}" + key[::-1][5:],
    }


@pytest.mark.parametrize("form", sorted(_mixed_forms("sk-" + "x" * 20)))
def test_partly_escaped_and_wrapped_forms_are_redacted(
    monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    key = "sk-Ab/cd+" + secrets.token_hex(14)
    monkeypatch.setenv("MIXED_API_KEY", key)
    text = _mixed_forms(key)[form]
    out = redact(f"before\n{text}\nafter")
    if "HIDDEN" in form:  # found, but no span can be cut out: the whole text goes
        assert out == HIDDEN
        return
    assert out.startswith("before\n") and out.endswith("\nafter"), out
    assert REDACTED in out, out
    left = out.removeprefix("before\n").removesuffix("\nafter").replace(REDACTED, "")
    assert len(left.replace("\n", "")) < 6, (form, out)  # at most a few edge characters remain


def test_ordinary_text_around_a_key_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    key = "sk-Ab/cd+" + secrets.token_hex(14)
    monkeypatch.setenv("MIXED_API_KEY", key)
    text = "deadbeef 0123 cafe\n" + "QUJDREVG\n" * 3 + "%41%42 \\u0041 &#65;"
    assert redact(text) == text


def test_a_wrapped_encoding_inside_a_model_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    """In a model's JSON a line break is `\\n`: the wrapped form is looked for string by string."""
    import base64
    import textwrap

    key = "sk-Ab/cd+" + secrets.token_hex(14)
    monkeypatch.setenv("WRAPPED_API_KEY", key)
    wrapped = "\n".join(textwrap.wrap(base64.b64encode(key.encode()).decode(), 12))
    leaky = AgentResult(
        ok=True, answer=f"here:\n{wrapped}\n", model="m", provider="p", stop_reason="completed"
    )
    out = redact_model(leaky)
    assert REDACTED in out.answer
    assert base64.b64encode(key.encode()).decode()[:12] not in out.answer
