"""Simulated devices for the demo, the tests and the footprint benchmark.

They speak the real wire formats (a Tanita line with its checksum on a real pseudo-terminal,
JSON to the real local API), so everything downstream runs unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import tty
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType


def tanita_checksum(body: bytes) -> str:
    """Sum of the bytes from ``{`` through the comma before ``CS``, mod 256, two hex digits."""
    return f"{sum(body) & 0xFF:02X}"


def tanita_line(
    *,
    weight_kg: float,
    body_fat_pct: float,
    height_cm: float = 160.0,
    age: int = 68,
    gender: int = 2,
    model: str = "SC-240",
    serial: str = "00000042",
) -> bytes:
    """One SC-240 style output line, terminated CR LF, with a correct ``CS``."""
    fat_mass = weight_kg * body_fat_pct / 100
    ffm = weight_kg - fat_mass
    bmi = weight_kg / (height_cm / 100) ** 2
    fields = [
        "{0",
        "16",
        "~0",
        "1",
        "~1",
        "1",
        "~2",
        "1",
        "MO",
        f'"{model}"',
        "SN",
        f'"{serial}"',
        "Bt",
        "0",
        "GE",
        str(gender),
        "AG",
        str(age),
        "Hm",
        f"{height_cm:.1f}",
        "Pt",
        "0.0",
        "Wk",
        f"{weight_kg:.1f}",
        "FW",
        f"{body_fat_pct:.1f}",
        "fW",
        f"{fat_mass:.1f}",
        "MW",
        f"{ffm:.1f}",
        "mW",
        f"{ffm * 0.95:.1f}",
        "bW",
        f"{ffm * 0.05:.1f}",
        "wW",
        f"{ffm * 0.73:.1f}",
        "MI",
        f"{bmi:.1f}",
        "rb",
        "5300",
        "rB",
        "1267",
        "ZF",
        "580.2",
    ]
    body = (",".join(fields) + ",").encode()
    return body + b"CS," + tanita_checksum(body).encode() + b"\r\n"


class PtyDevice:
    """A serial device on a real pseudo-terminal: the gateway opens ``path`` like a real port.

    ``path`` is a symlink (like ``/dev/serial/by-id/...``) to the pty's slave, so an unplug
    can be modelled by :meth:`unplug` (close the pty, remove the link) and :meth:`plug`.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._master: int | None = None
        self._slave: int | None = None

    def plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        self._master, self._slave = master, slave
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.path.symlink_to(os.ttyname(slave))

    def unplug(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._master = self._slave = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def write(self, data: bytes) -> None:
        if self._master is None:
            raise OSError("device is unplugged")
        os.write(self._master, data)

    def __enter__(self) -> PtyDevice:
        self.plug()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.unplug()


@dataclass
class ResidentProfile:
    resident_id: str
    weight_kg: float
    body_fat_pct: float
    systolic: float
    diastolic: float
    height_cm: float = 160.0


def varied(rng: random.Random, value: float, spread: float) -> float:
    return round(value + rng.uniform(-spread, spread), 1)


def manual_bp(rng: random.Random, who: ResidentProfile) -> dict[str, object]:
    return {
        "kind": "blood_pressure",
        "resident_id": who.resident_id,
        "values": {
            "systolic": round(varied(rng, who.systolic, 8)),
            "diastolic": round(varied(rng, who.diastolic, 6)),
            "pulse_rate": rng.randint(58, 92),
        },
    }


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> bool:
    """Wait ``seconds`` or until ``stop``; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()
