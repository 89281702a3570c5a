"""A local model server that dies says why: the signal or exit code in words, what to do, and
its log — in the error, the trial and the run's summary; it is started again at most twice per
run, with a pause, and then not at all. The server is a real process (tests/models/
fake_llama_server.py) that kills itself the way a llama.cpp build for another CPU does (SIGILL),
or the OOM killer does (SIGKILL), or fails to load its model."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bakeoff.agent import run_agent
from bakeoff.cli import main
from bakeoff.models import embedded, local_server
from bakeoff.models.local_server import MAX_RESTARTS, LocalServer, ServerCrashed, exit_cause

FAKE = Path(__file__).with_name("fake_llama_server.py")
MODEL = "qwen2.5-coder-0.5b"


def fake_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str) -> LocalServer:
    monkeypatch.setenv("FAKE_LLAMA_MODE", mode)
    monkeypatch.setenv("FAKE_LLAMA_STARTS", str(tmp_path / "starts"))
    monkeypatch.setenv("BAKEOFF_CACHE", str(tmp_path / "cache"))
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF")
    return LocalServer(
        gguf,
        model_alias=MODEL,
        program=[sys.executable, str(FAKE)],
        startup_timeout_s=30,
        restart_backoff_s=(0.0,),
    )


def starts(tmp_path: Path) -> int:
    path = tmp_path / "starts"
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def shared(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process-wide server table, emptied before and after (servers stopped)."""
    monkeypatch.setattr(local_server, "_servers", {})
    yield
    local_server.stop_local_servers()


def test_exit_causes_in_words() -> None:
    assert "SIGILL" in exit_cause(-4) and "make rebuild-local" in exit_cause(-4)
    assert "OOM" in exit_cause(-9)
    assert exit_cause(3) == "exited with code 3"
    assert "could not load the model file" in exit_cause(1, "Failed to load model from file")


def test_a_build_this_cpu_cannot_run_is_named_and_restarted_at_most_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fake_server(tmp_path, monkeypatch, "sigill")
    messages = []
    for _ in range(MAX_RESTARTS + 3):
        with pytest.raises(ServerCrashed) as crashed:
            server.start_sync()
        messages.append(str(crashed.value))
    first = messages[0].splitlines()[0]
    assert "killed by SIGILL" in first and "make rebuild-local" in first
    assert str(server.log_path.parent) in first and "on its first generation" in messages[0]
    # One start and two restarts; after that the reason, at once, with no further start.
    assert starts(tmp_path) == MAX_RESTARTS + 1
    assert server.unusable is not None and "not started again" in server.unusable
    # The summary shows the first line, up to 200 characters: room for a log under ~/.cache.
    assert len(first) - len(str(server.log_path)) <= 120
    assert all("SIGILL" in m for m in messages)
    assert not server.running


def test_a_model_that_will_not_load_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = fake_server(tmp_path, monkeypatch, "no-load")
    with pytest.raises(ServerCrashed, match="could not load the model file") as crashed:
        server.start_sync()
    assert "exited with code 1" in str(crashed.value) and str(server.log_path) in str(crashed.value)


async def test_a_server_that_dies_mid_run_is_an_error_naming_the_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shared: None
) -> None:
    # It passes its self-check, then the OOM killer takes it on the agent's first request.
    server = fake_server(tmp_path, monkeypatch, "sigkill-later")
    local_server._servers[MODEL] = server
    model = embedded.EmbeddedModel(MODEL)
    model.retry.base_s = 0.0
    try:
        result = await run_agent("Say hi", model, tmp_path / "ws")
    finally:
        await model.aclose()
    assert result.stop_reason == "provider_error"
    assert "killed by SIGKILL" in (result.error or "") and "log " in (result.error or "")
    assert starts(tmp_path) == MAX_RESTARTS + 1  # the retries restarted it twice, then stopped


def _task(root: Path, name: str) -> Path:
    folder = root / name
    (folder / "files").mkdir(parents=True)
    (folder / "task.toml").write_text(
        f'name = "{name}"\nprompt = "Say done."\ncategory = "chat"\ndifficulty = 1\n'
        '[judge]\nrubric = "Says done."\n'
    )
    return folder


def test_preflight_names_the_crash_before_anything_runs(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shared: None,
    isolated_config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not embedded.embedded_spec(MODEL).installed():
        pytest.skip("the embedded model's weights are not installed")
    local_server._servers[MODEL] = fake_server(tmp_path, monkeypatch, "sigill")
    task = _task(tmp_path, "say-done")
    store = tmp_path / "r.sqlite"
    code = main(["run", str(task), "--models", f"local:{MODEL}", "--store", str(store)])
    err = capsys.readouterr().err
    assert code == 2
    assert f"local:{MODEL}: the llama.cpp server was killed by SIGILL" in err
    assert "make rebuild-local" in err


def test_without_preflight_every_trial_is_an_error_the_summary_explains(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    shared: None,
    isolated_config: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    local_server._servers[MODEL] = fake_server(tmp_path, monkeypatch, "sigill")
    tasks = [str(_task(tmp_path, f"say-done-{i}")) for i in range(5)]
    store = tmp_path / "r.sqlite"
    main(
        [
            "run", *tasks, "--models", f"local:{MODEL}", "--store", str(store),
            "--no-preflight", "--json",
        ]
    )  # fmt: skip
    out = json.loads(capsys.readouterr().out)
    assert out["ranking"] == []
    [unranked] = out["unranked"]
    assert unranked["errors"] == 5 and "killed by SIGILL" in unranked["reason"]
    assert "make rebuild-local" in unranked["reason"] and ".log" in unranked["reason"]
    assert starts(tmp_path) == MAX_RESTARTS + 1
