"""A gateway process for the chaos test: an outbox, the uplink, and a writer putting readings.

``python -m tests.uplink.chaos_gateway --outbox F --broker URL --log DIR --rate N``

Before each ``put_many`` the ids are appended to ``DIR/intent.log``; after it returns (the records
are committed) they are appended to ``DIR/acked.log``. Writing stops when ``DIR/stop`` exists;
the uplink keeps draining until the process is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from pathlib import Path

from buffer.outbox import Outbox
from tests.uplink.helpers import reading_record
from uplink.client import Uplink
from uplink.settings import UplinkSettings


def _append(fd: int, ids: list[str]) -> None:
    os.write(fd, ("\n".join(ids) + "\n").encode())


async def main(args: argparse.Namespace) -> None:
    logdir = Path(args.log)
    settings = UplinkSettings(
        broker=args.broker,
        client_id="hutgw-chaos",
        ack_timeout_s=2.0,
        lease_s=4.0,
        io_timeout_s=3.0,
        keepalive_s=2,
        backoff_initial_s=0.1,
        backoff_max_s=1.0,
        healthy_after_s=5.0,
        heartbeat_s=2.0,
        poll_interval_s=0.1,
        batch_max_count=50,
        max_inflight_batches=4,
        state_dir=logdir,
    )
    intent = os.open(logdir / "intent.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    acked = os.open(logdir / "acked.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    async with Outbox(Path(args.outbox)) as outbox, Uplink(settings, outbox, gateway_id="hut-chaos") as up:
        i = 0
        while not stop.is_set():
            if not (logdir / "stop").exists():
                batch = [reading_record(i + n) for n in range(5)]
                i += 5
                ids = [r.id for r in batch]
                _append(intent, ids)
                await outbox.put_many(batch)
                _append(acked, ids)
                up.wake()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 5 / args.rate)
        state = up.state
        logging.getLogger("chaos").warning(
            "gateway exiting: published %d resent %d acked %d reconnects %d",
            state.published,
            state.resent,
            state.acked,
            state.reconnects,
        )


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--outbox", required=True)
    p.add_argument("--broker", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--rate", type=float, default=200.0, help="readings per second")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main(p.parse_args()))
