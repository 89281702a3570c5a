"""`bakeoff view` as a user meets it: two real bake-offs of scripted models stored in SQLite, the
viewer served by uvicorn on a loopback port, read over HTTP and in headless Chromium (Debian's):
the run list and its filters, a run's report, a trial's transcript, diff and check output. And
what it refuses: a request without its token, another host name, any write."""

from __future__ import annotations

import html
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from bakeoff.cli import main
from bakeoff.viewer import bind, build_app

CHROMIUM = Path("/usr/bin/chromium")
SECRET_TOKEN = "t0ken-for-tests"


def _task(root: Path, name: str) -> Path:
    folder = root / name
    (folder / "files").mkdir(parents=True)
    (folder / "hidden").mkdir()
    (folder / "hidden" / "hidden_test_hello.py").write_text(
        "from pathlib import Path\n\ndef test_hello():\n"
        "    assert Path('hello.txt').read_text().strip() == 'hello'\n"
    )
    (folder / "task.toml").write_text(
        f'name = "{name}"\nprompt = "Write hello.txt saying hello."\ncategory = "files"\n'
        'difficulty = 1\n[check]\ncommand = "python -m pytest -q hidden_test_hello.py"\n'
    )
    return folder


def _script(root: Path, name: str, text: str) -> Path:
    path = root / f"{name}.json"
    turns: list[dict[str, Any]] = [
        {
            "tool_calls": [
                {"name": "write_file", "arguments": {"path": "hello.txt", "content": text}}
            ]
        },
        {"text": f"<b>wrote</b> {text}"},
    ]
    path.write_text(json.dumps(turns))
    return path


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("view")
    db = root / "results.sqlite"
    good, bad = _script(root, "good", "hello\n"), _script(root, "bad", "bye\n")
    with pytest.MonkeyPatch.context() as mp:
        (root / "bakeoff.toml").write_text("")
        mp.setenv("BAKEOFF_CONFIG", str(root / "bakeoff.toml"))
        for models, run_id, labels in (
            (f"script:{good},script:{bad}", "run-one", ["--label", "team=<i>a&b</i>"]),
            (f"script:{good}", "run-two", ["--label", "team=web"]),
        ):
            code = main(
                ["run", str(_task(root, "hello-" + run_id)), "--models", models,
                 "--store", str(db), "--run-id", run_id, "--json", *labels]
            )  # fmt: skip
            assert code in (0, 1)
    return db


@pytest.fixture(scope="module")
def viewer(store: Path) -> Iterator[str]:
    import uvicorn

    sock = bind(0)
    server = uvicorn.Server(
        uvicorn.Config(build_app(store, SECRET_TOKEN), log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    for _ in range(200):
        if server.started:
            break
        thread.join(0.05)
    yield url
    server.should_exit = True
    thread.join(10)
    sock.close()


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any) -> None:
        return None


def get(
    url: str, headers: dict[str, str] | None = None, method: str = "GET"
) -> tuple[int, str, Any]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect)
    request = urllib.request.Request(url, headers=headers or {}, method=method)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers


def test_without_the_token_nothing_is_shown(viewer: str) -> None:
    status, body, _ = get(f"{viewer}/")
    assert status == 401 and "run-one" not in body
    status, _, _ = get(f"{viewer}/runs/run-one", {"cookie": "bakeoff_view=wrong"})
    assert status == 401
    status, _, _ = get(f"{viewer}/?token=wrong")
    assert status == 401


def test_the_token_becomes_a_strict_cookie(viewer: str) -> None:
    status, _, headers = get(f"{viewer}/?token={SECRET_TOKEN}&model=good")
    assert status == 303 and headers["location"] == "/?model=good"
    cookie = headers["set-cookie"]
    assert "httponly" in cookie.lower() and "samesite=strict" in cookie.lower()


def test_another_host_name_and_writes_are_refused(viewer: str) -> None:
    cookie = {"cookie": f"bakeoff_view={SECRET_TOKEN}"}
    status, _, _ = get(f"{viewer}/", {**cookie, "host": "attacker.example:80"})
    assert status == 403  # a rebound DNS name reaching loopback
    status, _, _ = get(f"{viewer}/", cookie, method="POST")
    assert status == 405


def test_the_list_filters_and_the_pages_escape_model_output(viewer: str) -> None:
    cookie = {"cookie": f"bakeoff_view={SECRET_TOKEN}"}
    status, body, headers = get(f"{viewer}/", cookie)
    assert status == 200 and "run-one" in body and "run-two" in body
    assert "script-src" not in headers["content-security-policy"]  # no script on this page
    _, body, _ = get(f"{viewer}/?model=bad", cookie)
    assert "run-one" in body and "run-two" not in body
    _, body, _ = get(f"{viewer}/?task=hello-run-two", cookie)
    assert "run-two" in body and "run-one" not in body
    _, body, _ = get(f"{viewer}/?status=interrupted", cookie)
    assert "No run matches" in body
    _, report, _ = get(f"{viewer}/runs/run-one", cookie)
    [link] = re.findall(r'href="(/runs/run-one/trial\?[^"]*bad[^"]*)"', report)
    _, page, _ = get(viewer + html.unescape(link), cookie)
    assert "&lt;b&gt;wrote&lt;/b&gt; bye" in page and "<b>wrote</b>" not in page
    status, _, _ = get(f"{viewer}/runs/nope", cookie)
    assert status == 404


def test_the_list_filters_by_label(viewer: str) -> None:
    cookie = {"cookie": f"bakeoff_view={SECRET_TOKEN}"}
    _, body, _ = get(f"{viewer}/?label={quote('team=<i>a&b</i>')}", cookie)
    assert "run-one" in body and "run-two" not in body
    assert "team=&lt;i&gt;a&amp;b&lt;/i&gt;" in body and "<i>a" not in body  # shown as text
    _, body, _ = get(f"{viewer}/?label=team%3Dweb&model=good", cookie)
    assert "run-two" in body and "run-one" not in body
    _, body, _ = get(f"{viewer}/?label=team%3Dwe", cookie)  # a value matches exactly
    assert "No run matches" in body
    status, body, _ = get(f"{viewer}/?label={quote('bad key=<x>')}", cookie)
    assert status == 200 and "No run matches" in body and "is not a plain name" in body
    assert "<x>" not in body
    _, body, _ = get(f"{viewer}/?status=finished", cookie)  # the statuses runs really have
    assert "run-one" in body and "run-two" in body


@pytest.mark.browser
def test_a_user_browses_from_the_list_to_a_trial(viewer: str) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    sync_api = pytest.importorskip("playwright.sync_api")
    from report.test_html_browser import CHROMIUM_ARGS

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.set_default_timeout(90_000)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{viewer}/?token={SECRET_TOKEN}")
            assert "token" not in page.url  # traded for the cookie
            page.fill("input[name=model]", "bad")
            page.click("button[type=submit]")
            page.wait_for_url("**/?model=bad**")
            assert page.locator("tbody tr").count() == 1
            page.click("text=run-one")
            page.wait_for_selector("html[data-charts=ready]")  # the report's own page, charts drawn
            page.click("a:has-text('bad')")
            page.wait_for_selector("details[open]")
            text = page.inner_text("body")
            assert "<b>wrote</b> bye" in text  # shown as text, never as markup
            assert "hello.txt" in text  # the diff
            assert errors == []
        finally:
            browser.close()
