"""The aiohttp application: route modules, Host and token checks, closed CORS, and the
listener that keeps idle or hostile connections from using up the gateway's file descriptors.

Guards (docs/api.md, "Limits"):

- **Host**: only the listen address, ``localhost``, ``127.0.0.1``, ``[::1]`` and
  ``api.allowed_hosts`` are answered (421 otherwise), so a web page on another name cannot reach
  the API through DNS rebinding; an ``Origin`` on a state-changing request must name one of
  those hosts too (403), whatever the method.
- **Bodies**: ``POST``/``PUT``/``PATCH`` bodies must be ``application/json`` (415); at most
  256 KiB (413). Every error the router or aiohttp raises (404, 405, 413, ...) is answered in
  the documented JSON error format.
- **Connections** (:func:`start_api`): at most ``api.max_connections`` open; when full, the
  connection idle longest (no request in progress) is closed to make room, and a newcomer is
  refused only when every connection is busy. A connection that sends no request for
  ``api.idle_timeout_s`` (the first one or the next) is closed. Malformed requests are answered
  400 and logged as one line, without a traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from gateway.api import alerts, doctor, history, kiosk, metrics, page, readings, stream
from gateway.api.errors import problem
from gateway.api.ports import API_CONFIG, ApiPorts, install
from gateway.config import ApiConfig, is_loopback
from gateway.errors import ConfigError
from gateway.notify.engine import Escalation

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = logging.getLogger("hutgw.api")

#: Route modules; each has ``setup(app)``.
ROUTE_MODULES: tuple[ModuleType, ...] = (readings, kiosk, doctor, history, stream, page, metrics, alerts)

MAX_BODY_BYTES = 256 * 1024
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_HOSTS = frozenset({"", "0.0.0.0", "::", "*"})
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
JSON_TYPES = frozenset({"application/json"})
SHUTDOWN_TIMEOUT_S = 2.0


def check_exposure(cfg: ApiConfig) -> None:
    if not is_loopback(cfg.host) and not cfg.token:
        raise ConfigError(
            f"api.listen {cfg.listen} is reachable from other machines but api.token is not set",
            ["api.token: required when api.listen is not a loopback address"],
        )


def _token_ok(request: web.Request, token: str) -> bool:
    header = request.headers.get("Authorization", "")
    supplied = header.removeprefix("Bearer ").strip() if header.startswith("Bearer ") else ""
    supplied = supplied or request.query.get("token", "")
    return bool(supplied) and hmac.compare_digest(supplied.encode(), token.encode())


def _hostname(netloc: str) -> str | None:
    """The host part of ``host[:port]`` / ``[v6][:port]``, lower-case; None when malformed."""
    try:
        parts = urlsplit(f"//{netloc}")
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError:
        return None
    return parts.hostname


def accepted_hosts(cfg: ApiConfig) -> frozenset[str]:
    """Host names (without port) the API answers to."""
    own = cfg.host.strip("[]").lower()
    return LOOPBACK_HOSTS | {own} | {h.strip("[]").lower() for h in cfg.allowed_hosts}


def host_accepted(netloc: str, cfg: ApiConfig) -> bool:
    """True when a ``Host`` header (or an ``Origin``'s host) names this gateway's API."""
    name = _hostname(netloc)
    if not name:
        return False
    if name in accepted_hosts(cfg):
        return True
    if cfg.host.strip("[]") in WILDCARD_HOSTS:  # listening everywhere: any address, never a name
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True
    return False


def origin_accepted(origin: str, request: web.Request, cfg: ApiConfig) -> bool:
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    return host_accepted(parts.netloc, cfg) and parts.netloc.lower() == request.host.lower()


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    cfg = request.app[API_CONFIG]
    host = request.headers.get("Host", "")
    if not host_accepted(host, cfg):
        return problem(421, "this gateway does not answer to that host name (Host header)")
    # CORS is closed: no Access-Control-* headers are ever sent, and requests from a page of
    # another origin (a browser names it in Origin: fetch, EventSource, forms) are refused
    # outright -- also GETs, so that such a page cannot hold event streams open.
    origin = request.headers.get("Origin")
    if origin and not origin_accepted(origin, request, cfg):
        return problem(403, "cross-origin requests are not allowed")
    if request.method == "OPTIONS":
        return problem(403, "cross-origin requests are not allowed")
    peer = request.remote or ""
    needs_token = cfg.token is not None and (not is_loopback(peer) or not is_loopback(cfg.host))
    protected = request.path.startswith("/api/") or request.path == "/metrics"
    if needs_token and protected and not _token_ok(request, cfg.token or ""):
        return problem(401, "missing or wrong API token (send Authorization: Bearer <api.token>)")
    if request.method in BODY_METHODS and request.body_exists and request.content_type not in JSON_TYPES:
        return problem(415, "send the body as JSON (Content-Type: application/json)")
    connections = request.app.get(CONNECTIONS)
    transport = request.transport
    if connections is not None and transport is not None:
        connections.busy(transport)
    try:
        return await handler(request)
    except web.HTTPException as e:
        if e.status < 400:
            raise
        reply = problem(e.status, e.reason if e.status != 413 else "request body too large")
        for name in ("Allow", "Retry-After"):
            if name in e.headers:
                reply.headers[name] = e.headers[name]
        return reply
    finally:
        if connections is not None and transport is not None:
            connections.idle(transport)


def build_app(ports: ApiPorts, cfg: ApiConfig, *, notify: Escalation | None = None) -> web.Application:
    """The API over ``ports`` (made by the daemon, :mod:`gateway.api.ports`), each under its key."""
    check_exposure(cfg)
    app = web.Application(middlewares=[guard], client_max_size=MAX_BODY_BYTES)
    install(app, ports)
    app[API_CONFIG] = cfg
    if notify is not None:
        app[alerts.NOTIFY] = notify
    for module in ROUTE_MODULES:
        module.setup(app)
    return app


# --------------------------------------------------------------------------- the listener


@dataclass(eq=False)
class _Conn:
    opened: float
    requests: int = 0
    in_progress: int = 0
    deadline: asyncio.TimerHandle | None = None


@dataclass(eq=False)
class ConnectionGuard:
    """Open connections of the API listener: the cap, the eviction of idle ones, the deadline
    for a connection's first request (later ones: aiohttp's keep-alive timeout)."""

    max_connections: int
    idle_timeout_s: float
    log: logging.Logger = log
    refused: int = 0
    evicted: int = 0
    timed_out: int = 0
    _open: dict[asyncio.BaseTransport, _Conn] = field(default_factory=dict)

    @property
    def open(self) -> int:
        return len(self._open)

    def opened(self, transport: asyncio.BaseTransport) -> bool:
        """Register a new connection; False when it must be closed (every slot is busy)."""
        loop = asyncio.get_running_loop()
        if len(self._open) >= self.max_connections:
            victim = next((t for t, c in self._open.items() if c.in_progress == 0), None)
            if victim is None:
                self.refused += 1
                self.log.warning("API connection refused: %d connections busy", len(self._open))
                return False
            self.evicted += 1
            self.log.warning("API connections full (%d): closing the one idle longest", len(self._open))
            self._forget(victim)
            victim.abort()  # type: ignore[attr-defined]
        conn = _Conn(opened=loop.time())
        conn.deadline = loop.call_later(self.idle_timeout_s, self._first_request_due, transport)
        self._open[transport] = conn
        return True

    def _first_request_due(self, transport: asyncio.BaseTransport) -> None:
        conn = self._open.get(transport)
        if conn is None or conn.requests:
            return
        self.timed_out += 1
        self.log.info("API connection sent no request within %.0f s; closed", self.idle_timeout_s)
        transport.close()

    def closed(self, transport: asyncio.BaseTransport) -> None:
        self._forget(transport)

    def _forget(self, transport: asyncio.BaseTransport) -> None:
        conn = self._open.pop(transport, None)
        if conn is not None and conn.deadline is not None:
            conn.deadline.cancel()

    def busy(self, transport: asyncio.BaseTransport) -> None:
        conn = self._open.get(transport)
        if conn is not None:
            conn.requests += 1
            conn.in_progress += 1
            # idle longest first: a connection in use moves to the back of the line
            self._open[transport] = self._open.pop(transport)

    def idle(self, transport: asyncio.BaseTransport) -> None:
        conn = self._open.get(transport)
        if conn is not None:
            conn.in_progress = max(0, conn.in_progress - 1)


CONNECTIONS: web.AppKey[ConnectionGuard] = web.AppKey("api_connections", ConnectionGuard)


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol behind the connection guard (all calls forwarded)."""

    def __init__(self, inner: asyncio.Protocol, guard: ConnectionGuard) -> None:
        self._inner = inner
        self._guard = guard
        self._transport: asyncio.BaseTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if not self._guard.opened(transport):
            transport.abort()  # type: ignore[attr-defined]
            return
        self._transport = transport
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._transport is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._transport is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._transport is not None:
            self._guard.closed(self._transport)
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._transport is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._transport is not None:
            self._inner.resume_writing()


class _HttpLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """aiohttp's server logger: a malformed request (a NUL byte in a header, ...) is one INFO
    line, not an ERROR with a traceback; anything else is logged as aiohttp logs it."""

    def exception(self, msg: object, *args: object, exc_info: Any = True, **kw: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            first = (exc_info.message or "").strip().split("\n", 1)[0]
            self.info("bad HTTP request from %s: %s", args[0] if args else "?", first)
            return
        super().exception(msg, *args, exc_info=exc_info, **kw)


@dataclass(eq=False)
class ApiServer:
    runner: web.AppRunner
    server: asyncio.Server
    connections: ConnectionGuard

    @property
    def port(self) -> int:
        return int(self.server.sockets[0].getsockname()[1])

    async def aclose(self) -> None:
        self.server.close()
        await self.runner.cleanup()


async def start_api(app: web.Application, cfg: ApiConfig, *, port: int | None = None) -> ApiServer:
    """Serve ``app`` on ``cfg.listen`` (``port`` overrides, 0 = any) behind the connection guard."""
    connections = ConnectionGuard(cfg.max_connections, cfg.idle_timeout_s)
    app[CONNECTIONS] = connections
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        shutdown_timeout=SHUTDOWN_TIMEOUT_S,
        keepalive_timeout=cfg.idle_timeout_s,
        logger=_HttpLog(logging.getLogger("hutgw.api.http"), {}),
    )
    await runner.setup()
    factory = runner.server
    assert factory is not None
    loop = asyncio.get_running_loop()
    try:
        server = await loop.create_server(
            lambda: _Guarded(factory(), connections),
            cfg.host.strip("[]") or None,
            cfg.port if port is None else port,
            reuse_address=True,
            backlog=256,
        )
    except BaseException:
        await runner.cleanup()
        raise
    return ApiServer(runner, server, connections)
