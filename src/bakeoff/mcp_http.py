"""The MCP server over streamable HTTP, guarded. The server runs agents that write files, so:
it listens on loopback (127.0.0.1, ::1, localhost) unless the user passes `--allow-remote`;
every request's Host header must name the address it listens on (or a loopback name, or a host
the user allowed) and a browser's Origin header must be one of those too, which the MCP SDK's
transport security checks, so a web page that rebinds its DNS name to 127.0.0.1 is refused; and
with `--allow-remote` (or `--token-env`) every request must carry `Authorization: Bearer TOKEN`,
else 401. The token is read from an environment variable or generated and printed once."""

from __future__ import annotations

import hmac
import os
import secrets
import sys
from dataclasses import dataclass
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


@dataclass(frozen=True)
class HttpOptions:
    """Where and how `bakeoff mcp --http` serves."""

    host: str
    """The address listened on (IPv6 without brackets)."""
    port: int
    token: str | None = None
    """The bearer token every request must carry; None = no authentication (loopback only)."""
    allowed_hosts: tuple[str, ...] = ()
    """Further names clients may use in the Host header (a DNS name of this machine)."""

    @property
    def url(self) -> str:
        return f"http://{url_host(self.host)}:{self.port}{DEFAULT_HTTP_PATH}"


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
            "--allow-remote (which then requires a bearer token)"
        )
    return host, port


def bearer_token(token_env: str | None, *, allow_remote: bool) -> str | None:
    """The token clients must send: the value of `$token_env` when named (it must be set and at
    least 16 characters long), else a fresh random one when `allow_remote`, else None."""
    if token_env:
        value = os.environ.get(token_env, "").strip()
        if len(value) < MIN_TOKEN_CHARS:
            state = "is not set" if not value else f"holds under {MIN_TOKEN_CHARS} characters"
            raise UserError(
                f"--token-env {token_env}: ${token_env} {state}; put a long random token in it "
                '(e.g. python -c "import secrets; print(secrets.token_urlsafe(32))")'
            )
        return value
    return secrets.token_urlsafe(32) if allow_remote else None


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
                "with the token `bakeoff mcp` printed or read from --token-env",
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
    """The server's streamable HTTP app with Host/Origin checks and, with a token, auth."""
    app: ASGIApp = server.streamable_http_app(
        streamable_http_path=DEFAULT_HTTP_PATH,
        transport_security=transport_security(options),
        host=options.host,
    )
    return app if options.token is None else BearerTokenMiddleware(app, options.token)


def serve_http(server: MCPServer, options: HttpOptions, *, token_generated: bool) -> None:
    """Serve until interrupted. Says where on stderr, and prints a generated token once."""
    import anyio
    import uvicorn

    print(f"bakeoff MCP server on {options.url}", file=sys.stderr)
    if options.token is not None:
        shown = options.token if token_generated else "the value of --token-env"
        print(
            f"clients must send the header 'Authorization: Bearer TOKEN'; TOKEN: {shown}",
            file=sys.stderr,
            flush=True,
        )
    config = uvicorn.Config(
        http_app(server, options), host=options.host, port=options.port, log_level="warning"
    )
    anyio.run(uvicorn.Server(config).serve)
