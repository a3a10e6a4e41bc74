from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from buffer.outbox import Outbox
from buffer.record import State
from county.receiver import BrokerOptions, Receiver
from county.sqlite import SqliteStore as ReceiverStore
from uplink.settings import UplinkSettings


async def wait_until(
    cond: Callable[[], Awaitable[bool]] | Callable[[], bool],
    *,
    timeout: float = 20.0,
    what: str = "condition",
) -> None:
    """Poll ``cond`` until true; fail the test (not a timing assertion: a generous deadline)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        got = cond()
        if asyncio.iscoroutine(got) or isinstance(got, Awaitable):
            got = await got
        if got:
            return
        if loop.time() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def settings(url: str, tmp_path: Path, **kw: Any) -> UplinkSettings:
    base: dict[str, Any] = dict(
        broker=url,
        ack_timeout_s=10.0,
        backoff_initial_s=0.1,
        backoff_max_s=0.5,
        auth_failure_backoff_s=2.0,
        heartbeat_s=30.0,
        keepalive_s=5,
        io_timeout_s=5.0,
        poll_interval_s=0.2,
        batch_max_count=100,
        state_dir=tmp_path,
    )
    base.update(kw)
    return UplinkSettings(**base)


async def undelivered(outbox: Outbox) -> int:
    st = await outbox.stats()
    return sum(
        n
        for lane in st.depth.values()
        for state, n in lane.items()
        if state in (State.PENDING.value, State.INFLIGHT.value, State.PENDING, State.INFLIGHT)
    )


@dataclasses.dataclass
class RunningReceiver:
    store: ReceiverStore
    receiver: Receiver
    task: asyncio.Task[None]


@contextlib.asynccontextmanager
async def run_receiver(
    db: Path, url: str, *, client_id: str = "test-receiver", signing_key: Ed25519PrivateKey | None = None
) -> AsyncIterator[RunningReceiver]:
    async with ReceiverStore(db) as store:
        receiver = Receiver(store, BrokerOptions(url=url, client_id=client_id), signing_key=signing_key)
        task = asyncio.create_task(receiver.run())
        try:
            await asyncio.wait_for(receiver.connected.wait(), 10)
            yield RunningReceiver(store, receiver, task)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


@pytest.fixture
async def outbox(tmp_path: Path) -> AsyncIterator[Outbox]:
    async with Outbox(tmp_path / "outbox.db") as ob:
        yield ob


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder the ``mosquitto`` user can reach (pytest's tmp_path is root-only, 0700): Mosquitto
    started as root drops privileges and could otherwise neither log, persist, nor read files."""
    d = Path(tempfile.mkdtemp(prefix="hutgw-uplink-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
