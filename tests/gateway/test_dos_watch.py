"""The watch listener in the running daemon: a watch id used from two addresses at once raises
a ``gateway_fault`` alert (issue 17 item 12: a watch is identified only by its id)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from drivers.watch.codec import build_frame
from gateway.config import parse
from gateway.daemon import Daemon
from gateway.registry import DeviceEntry, Registry
from tests.support.broker import free_port
from uplink.codec import wire_dict

WATCH_ID = "8800000015"


async def lk(port: int, source: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    r, w = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    frame = build_frame("3G", WATCH_ID, None, "LK")
    w.write(frame)
    async with asyncio.timeout(10):
        assert await r.readexactly(len(frame)) == frame
    return r, w


async def test_same_watch_id_from_two_addresses_raises_one_gateway_fault(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    with Registry(state / "registry.db") as reg:
        reg.add_device(DeviceEntry(id="watch-grandma", profile="watch.tcp", address=WATCH_ID))
    port = free_port()
    config = parse(
        {
            "gateway_id": "hut-w",
            "state_dir": str(state),
            "api": {"listen": f"127.0.0.1:{free_port()}"},
            "watch": {"listen": f"127.0.0.1:{port}"},
            "clock": {"sync_source": "trust"},
        }
    )
    async with Daemon(config) as daemon:
        conns = [await lk(port, "127.0.0.1"), await lk(port, "127.0.0.1")]  # a reconnect: no alert
        conns.append(await lk(port, "127.0.0.2"))
        conns.append(await lk(port, "127.0.0.1"))  # back and forth: the same condition
        async with asyncio.timeout(10):
            while True:
                alerts = [wire_dict(r.payload) for r in await daemon.outbox.list(stream="alerts", limit=50)]
                faults = [a for a in alerts if a["kind"] == "gateway_fault"]
                if faults:
                    break
                await asyncio.sleep(0.05)
        assert len(faults) == 1, faults
        fault = faults[0]
        assert fault["severity"] == "warning"
        assert fault["detail"]["cause"] == "watch_id_conflict"
        assert fault["detail"]["device"] == "watch-grandma"
        assert "two addresses" in fault["message"]
        for _, w in conns:
            w.close()
