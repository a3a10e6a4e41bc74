"""The kiosk page: ``GET /`` and ``GET /static/{name}`` from ``gateway/kiosk/static``.

Only the files listed in :data:`FILES` are served (no directory walking). The page needs no
network: no CDN, system fonts only. A strict Content-Security-Policy keeps it that way: the
page may load and call nothing but this gateway.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from types import MappingProxyType

from aiohttp import web

from drivers.kinds import display
from gateway.api.errors import problem

FILES = MappingProxyType(
    {
        "index.html": "text/html",
        "kiosk.js": "text/javascript",
        "kiosk.css": "text/css",
        "favicon.svg": "image/svg+xml",
    }
)

HEADERS = MappingProxyType(
    {
        "Cache-Control": "no-cache",
        "Content-Security-Policy": (
            "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
            "img-src 'self' data:; font-src 'self'; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
)


def read_static(name: str) -> bytes:
    return resources.files("gateway.kiosk.static").joinpath(name).read_bytes()


def _serve(name: str) -> web.Response:
    return web.Response(
        body=read_static(name), content_type=FILES[name], charset="utf-8", headers=dict(HEADERS)
    )


#: Where the page gets the kind catalogue's display part (labels, units) as inline JSON.
KINDS_MARK = b"<!-- kinds -->"


@cache
def index_html() -> bytes:
    """``index.html`` with the kind catalogue's display part (drivers/kinds.py) inlined as a JSON
    data block (not a script: the Content-Security-Policy stays ``script-src 'self'``)."""
    data = json.dumps(display(), ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")
    block = f'<script type="application/json" id="kinds">{data}</script>'
    return read_static("index.html").replace(KINDS_MARK, block.encode("utf-8"))


async def get_index(request: web.Request) -> web.Response:
    return web.Response(
        body=index_html(), content_type=FILES["index.html"], charset="utf-8", headers=dict(HEADERS)
    )


async def get_static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in FILES:
        return problem(404, f"no file {name!r}")
    return _serve(name)


def setup(app: web.Application) -> None:
    app.router.add_get("/", get_index)
    app.router.add_get("/static/{name}", get_static)
