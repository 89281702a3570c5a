"""`bakeoff view`: a local, read-only web viewer over the results store. The run list with
filters (model, task, label KEY=VALUE, run status, date), each run's report (the same page
`bakeoff report` writes, rendered from the store), and each trial on a page of its own: transcript, diff, check
output and judge reasons (`report.run_details`). A Starlette app served by uvicorn on loopback.

Everything shown is model output or user data: every string is escaped, the list and trial
pages run no script at all (a Content-Security-Policy says so), and the list and the trials
are read through a read-only connection (SQLite `mode=ro`). The server answers only requests
that carry its token — given once in the URL printed at start-up, then kept in an HttpOnly,
SameSite=Strict cookie — and only for its own host name, so neither a contestant's code on this machine (a trial
run with `--allow-network` shares loopback) nor a web page in the user's browser (DNS
rebinding) can read past runs."""

from __future__ import annotations

import hmac
import secrets
import socket
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any, get_args
from urllib.parse import quote, urlencode

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from bakeoff.errors import UserError
from bakeoff.evals.store.records import BakeoffSpec, RunStatus, TrialRecord
from bakeoff.labels import matches, parse_label
from bakeoff.net import LOOPBACK_NAMES
from bakeoff.redact import current

TOKEN_COOKIE = "bakeoff_view"
PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; form-action 'self'"
"""The list and trial pages: styles, no script, forms only to this server."""
STYLE = (
    "body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1200px;padding:16px}"
    "table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:4px 8px;"
    "text-align:left;vertical-align:top}form{margin:12px 0}input,select{margin-right:8px}"
    ".damaged{color:#b00}pre{white-space:pre-wrap;word-break:break-word}"
)


class ReadOnlyStore:
    """The results store, opened read-only: the runs, their specs and their trials."""

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise UserError(f"no results store at {path}: run a bake-off first (`bakeoff run`)")
        self.path = path

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True)
        db.execute("PRAGMA query_only = ON")
        return db

    def runs(self) -> list[tuple[str, float, str, BakeoffSpec | None, int]]:
        """Every run, newest first: id, created, status, spec (None when unreadable), trials."""
        with self._connect() as db:
            rows = db.execute(
                "SELECT r.run_id, r.created_at, r.status, r.spec, "
                "(SELECT COUNT(*) FROM trials t WHERE t.run_id = r.run_id) "
                "FROM runs r ORDER BY r.created_at DESC"
            ).fetchall()
        out = []
        for run_id, created, status, spec, trials in rows:
            try:
                parsed: BakeoffSpec | None = BakeoffSpec.model_validate_json(spec)
            except ValueError:
                parsed = None
            out.append((str(run_id), float(created or 0), str(status), parsed, int(trials)))
        return out

    def trial(self, run_id: str, task: str, model: str, repeat: int) -> TrialRecord | None:
        with self._connect() as db:
            row = db.execute(
                "SELECT record FROM trials WHERE run_id = ? AND task = ? AND model = ? "
                "AND repeat = ?",
                (run_id, task, model, repeat),
            ).fetchone()
        return None if row is None else TrialRecord.model_validate_json(row[0])

    def trial_keys(self, run_id: str) -> list[tuple[str, str, int, str]]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT task, model, repeat, status FROM trials WHERE run_id = ? "
                "ORDER BY task, model, repeat",
                (run_id,),
            ).fetchall()
        return [(str(t), str(m), int(r), str(s)) for t, m, r, s in rows]


def _page(title: str, body: str) -> HTMLResponse:
    html = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>{body}</body></html>"
    )
    return HTMLResponse(current().text(html), headers={"content-security-policy": PAGE_CSP})


def _when(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).strftime("%Y-%m-%d %H:%M UTC") if created else "?"


def _since(text: str) -> float | None:
    """`YYYY-MM-DD` (UTC) as a timestamp; None when empty or unreadable."""
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return None


def _labels(spec: BakeoffSpec | None) -> str:
    return "" if spec is None else ", ".join(f"{k}={v}" for k, v in spec.tags.items())


def _trial_href(run_id: str, task: str, model: str, repeat: int) -> str:
    query = urlencode({"task": task, "model": model, "repeat": repeat})
    return f"/runs/{quote(run_id, safe='')}/trial?{query}"


def build_app(store_path: Path, token: str) -> Starlette:
    """The viewer over the store at `store_path`, answering only requests with `token`."""
    store = ReadOnlyStore(store_path)

    async def run_list(request: Request) -> Response:
        q = request.query_params
        model, task, status = q.get("model", ""), q.get("task", ""), q.get("status", "")
        since = _since(q.get("since", ""))
        label, wanted, refused = q.get("label", "").strip(), {}, ""
        if label:
            try:
                wanted = dict([parse_label(label)])
            except ValueError as exc:  # said on the page; nothing matches a label never stored
                refused = f'<p class="damaged">{escape(str(exc))}</p>'
        rows = []
        for run_id, created, run_status, spec, trials in store.runs():
            if label and (refused or spec is None or not matches(spec.tags, wanted)):
                continue
            shown = [] if spec is None else [spec.labels.get(m, m) for m in spec.models]
            if model and not any(model in m for m in [*shown, *(spec.models if spec else [])]):
                continue
            if task and (spec is None or not any(task in t for t in spec.task_names)):
                continue
            if (status and run_status != status) or (since is not None and created < since):
                continue
            what = (
                '<span class="damaged">its spec cannot be read</span>'
                if spec is None
                else f"{len(spec.task_names)} tasks × {len(spec.models)} models × {spec.repeats}"
            )
            rows.append(
                f'<tr><td><a href="/runs/{quote(run_id, safe="")}">{escape(run_id)}</a></td>'
                f"<td>{_when(created)}</td><td>{escape(run_status)}</td><td>{what}</td>"
                f"<td>{trials}</td><td>{escape(', '.join(shown))}</td>"
                f"<td>{escape(_labels(spec))}</td></tr>"
            )
        statuses = ["", *get_args(RunStatus)]
        options = "".join(
            f'<option value="{s}"{" selected" if s == status else ""}>{s or "any status"}</option>'
            for s in statuses
        )
        form = (
            '<form method="get" action="/">'
            f'<input name="model" placeholder="model" value="{escape(model)}">'
            f'<input name="task" placeholder="task" value="{escape(task)}">'
            f'<input name="label" placeholder="KEY=VALUE" value="{escape(label)}">'
            f'<select name="status">{options}</select>'
            f'<input name="since" type="date" value="{escape(q.get("since", ""))}">'
            '<button type="submit">Filter</button> <a href="/">clear</a></form>'
        )
        table = (
            "<table><thead><tr><th>run</th><th>created</th><th>status</th><th>size</th>"
            "<th>trials</th><th>models</th><th>labels</th></tr></thead>"
            f"<tbody>{''.join(rows)}</tbody></table>"
            if rows
            else "<p>No run matches.</p>"
        )
        head = f"<h1>Runs</h1><p>{escape(str(store.path))}</p>{form}{refused}"
        return _page("bakeoff runs", head + table)

    async def run_report(request: Request) -> Response:
        from bakeoff.evals.store.store import Store
        from bakeoff.evals.verdict.outcomes import build_outcome
        from bakeoff.report.html import render_html

        run_id = request.path_params["run_id"]
        if not any(r[0] == run_id for r in store.runs()):
            return PlainTextResponse(f"no run {run_id!r} in this store", status_code=404)
        # The report's own renderer, over the store's own reader (it only reads here).
        reader = Store(store.path)
        try:
            outcome = build_outcome(reader, run_id)
            page = render_html(outcome.summary, outcome.rows)
        finally:
            reader.close()
        links = "".join(
            f'<li><a href="{escape(_trial_href(run_id, t, m, r))}">{escape(t)} · {escape(m)} · '
            f"repeat {r} · {escape(s)}</a></li>"
            for t, m, r, s in store.trial_keys(run_id)
        )
        index = (
            '<section><h2>Every trial</h2><p><a href="/">← all runs</a></p>'
            f"<ul>{links}</ul></section>"
        )
        return HTMLResponse(page.replace("</main>", f"{index}</main>", 1))

    async def trial_page(request: Request) -> Response:
        from bakeoff.report.run_details import render_run

        run_id = request.path_params["run_id"]
        q = request.query_params
        try:
            repeat = int(q.get("repeat", ""))
        except ValueError:
            return PlainTextResponse("repeat must be a number", status_code=400)
        record = store.trial(run_id, q.get("task", ""), q.get("model", ""), repeat)
        if record is None:
            return PlainTextResponse("no such trial", status_code=404)
        back = f'<p><a href="/runs/{quote(run_id, safe="")}">← run {escape(run_id)}</a></p>'
        details = render_run(current().model(record), "trial").replace(
            "<details", "<details open", 1
        )
        return _page(f"{record.task} · {record.model}", back + details)

    return Starlette(
        routes=[
            Route("/", run_list),
            Route("/runs/{run_id}", run_report),
            Route("/runs/{run_id}/trial", trial_page),
        ],
        middleware=[Middleware(BaseHTTPMiddleware, dispatch=_guard(token))],
    )


Handler = Callable[[Request], Awaitable[Response]]


def _guard(token: str) -> Callable[[Request, Handler], Awaitable[Response]]:
    """Only GET, only for this machine's own names, only with the token (query or cookie)."""

    async def check(request: Request, call_next: Handler) -> Response:
        if request.method not in ("GET", "HEAD"):
            return PlainTextResponse("read-only", status_code=405)
        host = (request.headers.get("host") or "").rsplit(":", 1)[0]
        if host not in LOOPBACK_NAMES:
            return PlainTextResponse("unknown host", status_code=403)
        given = request.query_params.get("token")
        if given is not None and hmac.compare_digest(given.encode(), token.encode()):
            # Trade the token in the URL for a cookie, and drop it from the address bar.
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
            response = RedirectResponse(target, status_code=303)
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict", path="/")
            return response
        cookie = request.cookies.get(TOKEN_COOKIE, "")
        if not hmac.compare_digest(cookie.encode(), token.encode()):
            return PlainTextResponse(
                "this viewer needs the token printed by `bakeoff view`", status_code=401
            )
        return await call_next(request)

    return check


def bind(port: int) -> socket.socket:
    """A listening socket on loopback (0: any free port); a port in use is a clear error."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", port))
    except OSError as exc:
        sock.close()
        raise UserError(
            f"cannot listen on 127.0.0.1:{port} ({exc.strerror}): pick another --port, or 0 for any"
        ) from None
    sock.listen(64)
    return sock


def serve(store_path: Path, port: int, announce: Callable[[str], Any] = print) -> None:
    """Bind, then announce the URL (with its token), then serve until interrupted."""
    import uvicorn

    token = secrets.token_urlsafe(24)
    app = build_app(store_path, token)
    sock = bind(port)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/?token={token}"
    announce(f"bakeoff view: {url}  (read-only; Ctrl-C stops)")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
