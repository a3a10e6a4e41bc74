"""Background tasks that live exactly as long as the API app (``app.cleanup_ctx`` entries)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from aiohttp import web

CleanupCtx = Callable[[web.Application], AsyncIterator[None]]


def background(name: str, run: Callable[[web.Application], Coroutine[Any, Any, None]]) -> CleanupCtx:
    """A cleanup context that runs ``run(app)`` as task ``name`` from start-up to clean-up."""

    async def ctx(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run(app), name=name)
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    return ctx
