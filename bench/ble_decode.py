"""BLE decoder throughput against a hand-written struct baseline, same frames, same run.

For each characteristic the table-driven decoder (flag walker + presentation + typed
measurement) is timed on a real vector, and so is the least a decoder must do: a hard-coded
``struct.unpack_from`` of the same fields with no checks. Prints decodes/s and the ratio
(decoder / baseline); per-reading cost matters on a Pi only when a band streams at 1 Hz or a
cuff resends a large memory, so the target is merely "well above 1,000 decodes/s".

Usage: .venv/bin/python bench/ble_decode.py [--n 20000]
"""

from __future__ import annotations

import argparse
import struct
import time
from collections.abc import Callable
from datetime import UTC, datetime

from drivers import registry
from drivers.frames import RawFrame

AT = datetime(2026, 1, 1, tzinfo=UTC)


def _sfloat(raw: int) -> float:
    exp = raw >> 12
    mant = raw & 0x0FFF
    if exp >= 8:
        exp -= 16
    if mant >= 0x800:
        mant -= 0x1000
    return mant * 10.0**exp


def bpm_baseline(b: bytes) -> tuple[float, ...]:
    _flags, s, d, m = struct.unpack_from("<BHHH", b)
    y, mo, da, h, mi, se = struct.unpack_from("<HBBBBB", b, 7)
    (p,) = struct.unpack_from("<H", b, 14)
    return (_sfloat(s), _sfloat(d), _sfloat(m), _sfloat(p), y, mo, da, h, mi, se, b[16])


def bcm_baseline(b: bytes) -> tuple[float, ...]:
    return struct.unpack_from("<HH7sBHHHH", b)[1:]  # type: ignore[return-value]


def hrm_baseline(b: bytes) -> tuple[float, ...]:
    return (b[1], *struct.unpack_from("<HH", b, 2))


def mi_baseline(b: bytes) -> tuple[float, ...]:
    return (b[0], struct.unpack_from("<H", b, 1)[0] / 200, *struct.unpack_from("<HBBBBB", b, 3))


CASES: list[tuple[str, str, Callable[[bytes], tuple[float, ...]]]] = [
    ("gatt.blood_pressure_measurement", "1e8a00580078000000041114293b3c00012700", bpm_baseline),
    ("gatt.body_composition_measurement", "7e10d200e8070601070f1e01581b9c01e015342b", bcm_baseline),
    ("gatt.heart_rate_measurement", "1e5532002100", hrm_baseline),
    ("mi_scale_v1.adv", "229e43e507040b101301", mi_baseline),
]


def rate(fn: Callable[[], object], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return n / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20_000)
    args = ap.parse_args()
    print(f"{'protocol':38} {'decoder/s':>11} {'baseline/s':>11} {'ratio':>6}")
    for name, hex_data, baseline in CASES:
        profile = registry.get(name)
        frame = RawFrame(profile.transport, "AA:BB:CC:DD:EE:FF", bytes.fromhex(hex_data), AT)
        data = frame.data
        decoder = rate(lambda p=profile, f=frame: p.decode(f), args.n)
        raw = rate(lambda b=baseline, d=data: b(d), args.n)
        print(f"{name:38} {decoder:11,.0f} {raw:11,.0f} {decoder / raw:6.3f}")


if __name__ == "__main__":
    main()
