"""The CLI's client of the running daemon's local API (``/api/v1/health``, ``/api/v1/events``).

The address comes from the config (``api.listen``; a wildcard listen address is reached on
loopback) and the token (``api.token``) is sent when configured. Every request has a timeout.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from gateway.config import ApiConfig
from provisioning.errors import UnreachableError
from provisioning.i18n import t

PROBE_TIMEOUT_S = 2.0


def base_url(api: ApiConfig) -> str:
    host = api.host
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host in ("::", "[::]"):
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{api.port}"


def _headers(api: ApiConfig) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.token}"} if api.token else {}


class ApiRefusedError(UnreachableError):
    """The daemon answered but refused us (wrong or missing token)."""


@dataclass(frozen=True, slots=True)
class SseEvent:
    type: str
    data: dict[str, Any]


class DaemonApi:
    def __init__(self, api: ApiConfig, *, timeout_s: float = PROBE_TIMEOUT_S) -> None:
        self.api = api
        self.url = base_url(api)
        self.timeout_s = timeout_s

    def _unreachable(self, reason: object) -> UnreachableError:
        return UnreachableError(
            t("api.unreachable", url=self.url, reason=reason), hint=t("api.unreachable_hint")
        )

    def _check(self, resp: aiohttp.ClientResponse) -> None:
        """Raise unless the daemon answered 200 OK."""
        if resp.status in (401, 403):
            raise ApiRefusedError(t("api.refused", status=resp.status), hint=t("api.refused_hint"))
        if resp.status != 200:
            raise self._unreachable(f"HTTP {resp.status}")

    async def health(self) -> dict[str, Any]:
        """``GET /api/v1/health``; raises :class:`UnreachableError` when nobody answers."""
        return await self.get("/api/v1/health")

    async def get(self, path: str) -> dict[str, Any]:
        """``GET <path>`` of the local API as JSON; raises :class:`UnreachableError`."""
        timeout = aiohttp.ClientTimeout(total=self.timeout_s)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(f"{self.url}{path}", headers=_headers(self.api)) as resp,
            ):
                self._check(resp)
                data: dict[str, Any] = await resp.json(content_type=None)
                return data
        except UnreachableError:
            raise
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as e:
            raise self._unreachable(_reason(e)) from None

    async def running(self) -> dict[str, Any] | None:
        """The health view, or None when the daemon does not answer (a refused token still raises)."""
        try:
            return await self.health()
        except ApiRefusedError:
            raise
        except UnreachableError:
            return None

    async def events(self) -> AsyncIterator[SseEvent]:
        """The event stream (``GET /api/v1/events``), one :class:`SseEvent` per message.

        Runs until the caller stops iterating (wrap it in a timeout).
        """
        timeout = aiohttp.ClientTimeout(total=None, connect=self.timeout_s, sock_read=None)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(f"{self.url}/api/v1/events", headers=_headers(self.api)) as resp,
            ):
                self._check(resp)
                event_type = "message"
                data_lines: list[str] = []
                async for raw in resp.content:
                    line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
                    if not line:
                        if data_lines:
                            yield _sse_event(event_type, data_lines)
                        event_type, data_lines = "message", []
                    elif line.startswith("event:"):
                        event_type = line[6:].strip()
                    elif line.startswith("data:"):
                        data_lines.append(line[5:].lstrip())
        except (aiohttp.ClientError, OSError) as e:
            raise self._unreachable(_reason(e)) from None


def _sse_event(event_type: str, data_lines: list[str]) -> SseEvent:
    """One message; data that is not JSON becomes ``{}``, JSON that is not an object ``{"value": ...}``."""
    try:
        data = json.loads("\n".join(data_lines))
    except ValueError:
        data = {}
    return SseEvent(event_type, data if isinstance(data, dict) else {"value": data})


def _reason(e: BaseException) -> str:
    if isinstance(e, TimeoutError | asyncio.TimeoutError):
        return "no answer"
    if isinstance(e, aiohttp.ClientConnectorError):
        return e.os_error.strerror or str(e.os_error) if e.os_error else str(e)
    return str(e) or type(e).__name__
