"""`bakeoff doctor` as a user runs it, through `bakeoff.cli.main` against real loopback servers in
the OpenAI wire format: one line per check with ✔/✘/– and a fix; a provider that answers passes,
one that 500s or hangs fails once (no retries) with a reason; a provider with no key or no
server is skipped, not failed; a damaged store is named; exit 1 only when a required check
fails; `--json` for machines. The embedded model's check loads the real model (marked `model`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from models.wire_servers import Reply, WireServer, error_reply, free_port, openai_said

from bakeoff.cli import main
from bakeoff.cli_doctor import render
from bakeoff.doctor import Finding
from bakeoff.sandbox import sandbox_status


@pytest.fixture
def good() -> Iterator[WireServer]:
    with WireServer() as server:
        yield server


@pytest.fixture
def broken() -> Iterator[WireServer]:
    with WireServer() as server:  # nothing scripted: every request gets HTTP 500
        yield server


def configure(config: Path, **providers: str) -> None:
    config.write_text(
        "".join(f'[providers.{name}]\nbase_url = "{url}/v1"\n' for name, url in providers.items())
    )


def lines_of(out: str) -> dict[str, str]:
    """Each finding's line, by its subject (the second field)."""
    return {line.split()[1]: line for line in out.splitlines() if len(line.split()) > 1}


def test_a_provider_that_answers_passes_and_one_that_500s_fails_once_with_a_reason(
    isolated_config: Path,
    good: WireServer,
    broken: WireServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure(isolated_config, good=good.url, broken=broken.url)
    good.add(openai_said("OK"))
    code = main(["doctor", "--only", "providers", "--models", "good:m,broken:m"])
    out = capsys.readouterr()
    found = lines_of(out.out)
    assert found["good:m"].startswith("✔") and "answered in" in found["good:m"]
    assert found["broken:m"].startswith("✘") and "500" in found["broken:m"]
    assert "→" in found["broken:m"]  # and what to do
    assert code == 1 and "broken:m" in out.err
    # One one-token chat request each: a doctor reports the provider as it is, without retries.
    assert len(broken.requests) == 1
    [asked] = good.bodies()
    assert asked.get("max_tokens", asked.get("max_completion_tokens")) == 1
    assert good.requests[0].path == "/v1/chat/completions"


def test_every_usable_provider_is_checked_and_the_rest_skipped_with_how_to_enable_them(
    isolated_config: Path, good: WireServer, capsys: pytest.CaptureFixture[str]
) -> None:
    isolated_config.write_text(
        f'[providers.good]\nbase_url = "{good.url}/v1"\n'
        f'[providers.nomodel]\nbase_url = "{good.url}/v1"\n'
        f'[providers.keyed]\nbase_url = "{good.url}/v1"\napi_key_env = "DOCTOR_TEST_KEY"\n'
        f'[providers.down]\nbase_url = "http://127.0.0.1:{free_port()}/v1"\n'
        '[aliases]\ngood-one = "good:m"\n'
    )
    good.add(openai_said("OK"))
    code = main(["doctor", "--only", "providers"])
    found = lines_of(capsys.readouterr().out)
    assert found["good:m"].startswith("✔")  # checked through the user's alias
    assert found["keyed"].startswith("–") and "export DOCTOR_TEST_KEY=" in found["keyed"]
    assert found["down"].startswith("–") and "no server" in found["down"]
    assert found["nomodel"].startswith("–") and "--models nomodel:MODEL" in found["nomodel"]
    assert found["openai"].startswith("–") and "OPENAI_API_KEY" in found["openai"]
    assert code == 0  # nothing the user set up failed
    assert len(good.requests) == 1


def test_a_model_the_server_does_not_serve_fails_only_when_the_user_chose_it(
    isolated_config: Path, good: WireServer, capsys: pytest.CaptureFixture[str]
) -> None:
    # ollama at our server: doctor picks a built-in model of it, which this server lacks.
    isolated_config.write_text(
        f'[providers.ollama]\nbase_url = "{good.url}/v1"\n'
        f'[providers.mine]\nbase_url = "{good.url}/v1"\n[aliases]\nmy-model = "mine:m"\n'
    )
    good.add(*[error_reply(404, "model not found")] * 2)
    code = main(["doctor", "--only", "providers"])
    found = lines_of(capsys.readouterr().out)
    [picked] = [line for subject, line in found.items() if subject.startswith("ollama:")]
    assert picked.startswith("!") and "404" in picked and "--models ollama:MODEL" in picked
    assert found["mine:m"].startswith("✘")  # the user's own alias: a real failure
    assert code == 1


def test_a_provider_that_never_answers_fails_within_the_timeout(
    isolated_config: Path, good: WireServer, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(isolated_config, slow=good.url)
    good.add(Reply(delay_s=30))
    code = main(["doctor", "--only", "providers", "--models", "slow:m", "--timeout", "0.5"])
    line = lines_of(capsys.readouterr().out)["slow:m"]
    assert code == 1 and line.startswith("✘") and "no answer within 0.5 s" in line


def test_json_lists_every_finding_for_machines(
    isolated_config: Path, good: WireServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    configure(isolated_config, good=good.url)
    good.add(openai_said("OK"))
    store = tmp_path / "new" / "results.sqlite"
    args = ["doctor", "--only", "providers,store,chromium", "--models", "good:m"]
    assert main([*args, "--store", str(store), "--json"]) == 0
    doc: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert doc["ok"] is True
    by_check = {c["check"]: c for c in doc["checks"]}
    assert set(by_check) == {"providers", "store", "chromium"}
    assert by_check["providers"]["status"] == "ok" and by_check["providers"]["subject"] == "good:m"
    assert by_check["store"]["status"] == "ok" and "will be created" in by_check["store"]["detail"]
    assert by_check["chromium"]["required"] is False  # optional: present or not, never blocking
    assert all(c["duration_s"] >= 0 and c["blocking"] is False for c in doc["checks"])
    assert not store.exists() and not store.parent.exists()  # a check creates nothing


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda p: p.write_bytes(b"this is not a database" * 100), "cannot be used"),
        (lambda p: p.mkdir(), "cannot be used"),
        (lambda p: p.parent.parent.joinpath("file").write_text("x"), "not a writable folder"),
        (lambda p: None, "File name too long"),
    ],
    ids=["garbage", "a-folder", "under-a-file", "name-too-long"],
)
def test_a_store_that_cannot_be_used_is_named_with_a_fix(
    make: Any,
    words: str,
    isolated_config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    store = tmp_path / "file" / "results.sqlite" if "writable" in words else tmp_path / "r.sqlite"
    if "too long" in words:
        store = tmp_path / ("x" * 300) / "r.sqlite"
    make(store)
    assert main(["doctor", "--only", "store", "--store", str(store)]) == 1
    line = lines_of(capsys.readouterr().out)["store"]
    assert line.startswith("✘") and words in line and "--store" in line


def test_an_existing_store_is_opened_and_its_runs_counted(
    isolated_config: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "r.sqlite"
    assert main(["doctor", "--only", "store", "--store", str(store)]) == 0
    from bakeoff.evals.store.store import Store

    Store(store).close()
    assert main(["doctor", "--only", "store", "--store", str(store)]) == 0
    assert "0 runs, writable" in capsys.readouterr().out


@pytest.mark.parametrize("model", ["nonsense", "nope:m", "openai:gpt-5-mini"])
def test_a_model_that_cannot_be_made_is_a_failed_line_not_a_crash(
    model: str, isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--only", "providers", "--models", model]) == 1
    out = capsys.readouterr()
    assert "✘" in out.out and "Traceback" not in out.err


def test_the_sandbox_check_runs_python_inside_bubblewrap(
    isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["doctor", "--only", "sandbox"])
    line = lines_of(capsys.readouterr().out)["sandbox"]
    if sandbox_status().available:
        assert code == 0 and line.startswith("✔") and "bubblewrap works" in line
    else:  # a machine without user namespaces: said, with the fix, and it fails doctor
        assert code == 1 and line.startswith("✘") and "→" in line


@pytest.mark.parametrize("flags", [["--only", "sandbx"], ["--skip", ""], ["--timeout", "nan"]])
def test_bad_doctor_flags_are_usage_errors(flags: list[str], isolated_config: Path) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["doctor", *flags])
    assert exited.value.code == 2


def test_an_embedded_model_that_cannot_run_fails_with_its_reason(
    isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--only", "local", "--models", "local:nope"]) == 1
    line = lines_of(capsys.readouterr().out)["local:nope"]
    assert line.startswith("✘") and "qwen2.5-coder-1.5b" in line  # what is known instead


def test_a_finding_is_one_line_whatever_the_server_said() -> None:
    crash = "local:m: the server was killed by SIGILL\nlog: /tmp/x.log\n  last line"
    finding = Finding("local", "local:m", "failed", "cannot run", crash)
    assert render(finding) == (
        "✘ local:m                    cannot run → local:m: the server was killed by SIGILL "
        "log: /tmp/x.log last line"
    )
    assert render(finding, ascii_only=True).startswith("FAIL local:m ")
    assert "->" in render(finding, ascii_only=True)


@pytest.mark.model
def test_the_embedded_model_loads_and_generates_with_its_speed(
    isolated_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["doctor", "--only", "local", "--json"]) == 0
    [local] = json.loads(capsys.readouterr().out)["checks"]
    assert local["status"] == "ok", local
    assert local["measures"]["tokens_per_s"] > 0 and local["measures"]["load_s"] >= 0
