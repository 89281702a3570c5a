"""The MCP server over streamable HTTP, guarded. The server runs agents that write files, so:
it listens on loopback (127.0.0.1, ::1, localhost) unless the user passes `--allow-remote`;
every request's Host header must name the address it listens on (or a loopback name, or a host
the user allowed) and a browser's Origin header must be one of those too, which the MCP SDK's
transport security checks, so a web page that rebinds its DNS name to 127.0.0.1 is refused; and
every request must carry `Authorization: Bearer TOKEN`, else 401 — loopback included, since a
contestant's command given the network reaches the host's loopback too. The token is read from
`--token-env`'s variable, or else from `token_file()` (0600, in a 0700 folder), made there and
printed once on first use; `bakeoff init claude --http` makes Claude Code send it. The port is
bound before the server says it is up, so a port in use is one line and nothing else."""

from __future__ import annotations

import errno
import hmac
import os
import secrets
import socket
import stat
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mcp.server.transport_security import TransportSecuritySettings
from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse

from bakeoff.errors import UserError
from bakeoff.net import LOOPBACK_NAMES, is_loopback_host, url_host

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from starlette.types import ASGIApp, Receive, Scope, Send

DEFAULT_HTTP_PATH = "/mcp"
MIN_TOKEN_CHARS = 16
TOKEN_ENV = "BAKEOFF_MCP_TOKEN"
"""The variable `.mcp.json` (from `bakeoff init claude --http`) reads the token from."""


@dataclass(frozen=True)
class HttpOptions:
    """Where and how `bakeoff mcp --http` serves."""

    host: str
    """The address listened on (IPv6 without brackets)."""
    port: int
    token: str
    """The bearer token every request must carry."""
    allowed_hosts: tuple[str, ...] = ()
    """Further names clients may use in the Host header (a DNS name of this machine)."""

    @property
    def url(self) -> str:
        return http_url(self.host, self.port)


def http_url(host: str, port: int) -> str:
    """The URL clients reach a server listening on `host`:`port` at."""
    return f"http://{url_host(host)}:{port}{DEFAULT_HTTP_PATH}"


def parse_http_address(text: str, *, allow_remote: bool = False) -> tuple[str, int]:
    """HOST:PORT (or [V6]:PORT) → (host, port); a non-loopback host needs allow_remote."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not port_text.isdigit() or not host:
        raise UserError(f"--http {text!r}: expected HOST:PORT, e.g. 127.0.0.1:8765")
    host = host.strip("[]")
    port = int(port_text)
    if not 0 < port < 65536:
        raise UserError(f"--http {text!r}: port must be 1-65535")
    if not allow_remote and not is_loopback_host(host):
        raise UserError(
            f"--http {text!r}: {host} is not a loopback address (127.0.0.1, ::1, localhost); "
            "the server runs agents that write files, so it listens on loopback unless you add "
            "--allow-remote (every request, loopback or not, needs the bearer token)"
        )
    return host, port


def token_file() -> Path:
    """Where the server's token is kept: `$XDG_CONFIG_HOME/bakeoff/mcp-token` (by default
    `~/.config/bakeoff/mcp-token`): outside every project, so no workspace holds it."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "bakeoff" / "mcp-token"


def stored_token(path: Path | None = None) -> tuple[str, bool]:
    """The token kept in `path` (default `token_file()`) and whether this call made it: a new
    one is random, written with mode 0600 in a folder made 0700. A file that is a symlink, not
    ours, readable or writable by others, or holds a short token is refused (UserError)."""
    path = path or token_file()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_NOFOLLOW | os.O_CLOEXEC
    token = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, flags | os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(token + "\n")
        return token, True
    try:
        fd = os.open(path, flags | os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise UserError(f"{path}: cannot read the MCP token ({exc.strerror}); remove it") from None
    with os.fdopen(fd, encoding="utf-8", errors="replace") as held:
        st = os.fstat(held.fileno())
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o077:
            raise UserError(
                f"{path}: the MCP token file must be a regular file of yours that only you can "
                f"read and write; run `chmod 600 {path}` (or remove it for a new token)"
            )
        token = held.read(4096).strip()
    if len(token) < MIN_TOKEN_CHARS:
        raise UserError(
            f"{path} holds under {MIN_TOKEN_CHARS} characters; remove it and a new token is made"
        )
    return token, False


def bearer_token(token_env: str | None) -> tuple[str, str | None]:
    """The token clients must send, and where it came from for the start-up message (None: it
    was just made, so the message shows it, once): the value of `$token_env` when named (set,
    at least 16 characters long), else the stored token (`stored_token`)."""
    if token_env:
        value = os.environ.get(token_env, "").strip()
        if len(value) < MIN_TOKEN_CHARS:
            state = "is not set" if not value else f"holds under {MIN_TOKEN_CHARS} characters"
            raise UserError(
                f"--token-env {token_env}: ${token_env} {state}; put a long random token in it "
                '(e.g. python -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
        return value, f"the value of ${token_env}"
    token, made = stored_token()
    return token, None if made else f"in {token_file()}"


def transport_security(options: HttpOptions) -> TransportSecuritySettings:
    """Host and Origin allow-lists: the listening address, the loopback names and the allowed
    hosts, each with the port (bare too on port 80); Origins the same with http://."""
    names = dict.fromkeys(
        [url_host(options.host), *LOOPBACK_NAMES, *(url_host(h) for h in options.allowed_hosts)]
    )
    hosts = [f"{name}:{options.port}" for name in names]
    if options.port == 80:
        hosts += list(names)
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=hosts,
        allowed_origins=[f"http://{host}" for host in hosts],
    )


class BearerTokenMiddleware:
    """Refuses every HTTP (and WebSocket) request without `Authorization: Bearer <token>`."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and not self._authorized(Headers(scope=scope)):
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            response = PlainTextResponse(
                "missing or wrong bearer token: send the header 'Authorization: Bearer TOKEN' "
                "with the token `bakeoff mcp` printed at its first start (kept in "
                "~/.config/bakeoff/mcp-token) or the one in its --token-env variable",
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="bakeoff"'},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, headers: Headers) -> bool:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        # compare_digest: the time taken says nothing about how much of a guess was right.
        return scheme.lower() == "bearer" and hmac.compare_digest(
            value.strip().encode(), self._token
        )


def http_app(server: MCPServer, options: HttpOptions) -> ASGIApp:
    """The server's streamable HTTP app with Host/Origin checks and bearer-token auth."""
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=DEFAULT_HTTP_PATH,
        transport_security=transport_security(options),
        host=options.host,
    )
    return BearerTokenMiddleware(app, options.token)


def listen(host: str, port: int) -> socket.socket:
    """A socket listening on `host`:`port`; a port in use (or an address this machine does not
    have) is a one-line UserError, raised before anything says the server is up."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        why = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be used ({exc.strerror})"
        raise UserError(
            f"--http {url_host(host)}:{port}: port {port} on {host} {why}; stop what holds it "
            "or pick another port"
        ) from None


def serve_http(server: MCPServer, options: HttpOptions, *, token_from: str | None) -> None:
    """Serve until interrupted. Binds first (`listen`), then says where on stderr, with the
    token itself only when it was just made (`token_from` None), else where it is kept."""
    import anyio
    import uvicorn

    sock = listen(options.host, options.port)
    print(f"bakeoff MCP server on {options.url}", file=sys.stderr)
    shown = options.token if token_from is None else token_from
    print(
        f"clients must send the header 'Authorization: Bearer TOKEN'; TOKEN: {shown}",
        file=sys.stderr,
        flush=True,
    )
    config = uvicorn.Config(
        http_app(server, options), host=options.host, port=options.port, log_level="warning"
    )
    with sock:
        anyio.run(uvicorn.Server(config).serve, [sock])
