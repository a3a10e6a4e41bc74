"""Writer subprocess for the crash test: puts, claims and acks until it is killed.

    python crash_writer.py DB RUN SEED

Prints one line per durable event, flushed, only after the call returned:
  ``P <id>``              put() returned: the record is committed
  ``D <batch> <id> ...``  ack() returned: these ids are delivered
Lines are written whole; the test ignores a line cut by the kill.
"""

from __future__ import annotations

import asyncio
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from buffer import Lane, Outbox, OutboxSettings, Record


def emit(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(db: Path, run: int, seed: int) -> None:
    rnd = random.Random(seed)
    async with Outbox(db, settings=OutboxSettings(maintain_interval_s=None)) as ob:
        emit("ready")

        async def writer(w: int) -> None:
            n = 0
            while True:
                n += 1
                rid = f"run{run:03d}-w{w}-{n:06d}"
                lane = Lane(rnd.randrange(3))
                await ob.put(
                    Record(rid, "readings", lane, "k", rnd.randbytes(rnd.randrange(50, 400)), f"res-{w}")
                )
                emit(f"P {rid}")

        async def courier() -> None:
            while True:
                c = await ob.claim(max_count=rnd.randrange(1, 40), lease_s=60)
                if c is None:
                    await asyncio.sleep(0.002)
                    continue
                await asyncio.sleep(rnd.random() * 0.01)  # "publishing"
                roll = rnd.random()
                if roll < 0.6:
                    await ob.ack(c.batch_id, c.ids)
                    emit(f"D {c.batch_id} " + " ".join(c.ids))
                elif roll < 0.8:
                    await ob.release(c.batch_id)
                # else: leave it in flight, as if the ack was lost

        async with asyncio.TaskGroup() as tg:
            for w in range(6):
                tg.create_task(writer(w))
            tg.create_task(courier())


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])))
