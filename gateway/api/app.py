"""The aiohttp application: route modules, token check, closed CORS."""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Awaitable, Callable
from types import ModuleType

from aiohttp import web

from gateway.api import doctor, history, kiosk, metrics, page, readings, stream
from gateway.api.errors import problem
from gateway.config import ApiConfig
from gateway.core import Gateway
from gateway.errors import ConfigError

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: Route modules; each has ``setup(app)``.
ROUTE_MODULES: tuple[ModuleType, ...] = (readings, kiosk, doctor, history, stream, page, metrics)

API_CONFIG: web.AppKey[ApiConfig] = web.AppKey("api_config", ApiConfig)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


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


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    cfg = request.app[API_CONFIG]
    # CORS is closed: no Access-Control-* headers are ever sent, and state-changing requests
    # from a page of another origin are refused outright.
    origin = request.headers.get("Origin")
    if origin and request.method not in ("GET", "HEAD"):
        expected = {f"http://{request.host}", f"https://{request.host}"}
        if origin not in expected:
            return problem(403, "cross-origin requests are not allowed")
    if request.method == "OPTIONS":
        return problem(403, "cross-origin requests are not allowed")
    peer = request.remote or ""
    needs_token = cfg.token is not None and (not is_loopback(peer) or not is_loopback(cfg.host))
    protected = request.path.startswith("/api/") or request.path == "/metrics"
    if needs_token and protected and not _token_ok(request, cfg.token or ""):
        return problem(401, "missing or wrong API token (send Authorization: Bearer <api.token>)")
    return await handler(request)


def build_app(gateway: Gateway, cfg: ApiConfig) -> web.Application:
    check_exposure(cfg)
    app = web.Application(middlewares=[guard], client_max_size=256 * 1024)
    app[readings.GATEWAY] = gateway
    app[API_CONFIG] = cfg
    for module in ROUTE_MODULES:
        module.setup(app)
    return app
