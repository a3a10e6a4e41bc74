"""The simulated radio: peripherals, attached scanners, connection accounting."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from bleak.backends.scanner import AdvertisementData

from drivers.ble.transport import BleBackend
from tests.drivers.blesim.peripherals import SimPeripheral

if TYPE_CHECKING:
    from tests.drivers.blesim.backend import SimScanner


class SimWorld:
    def __init__(self, adapter_slots: int = 7) -> None:
        self.peripherals: dict[str, SimPeripheral] = {}
        self.scanners: list[SimScanner] = []
        self.scanner_starts = 0
        self.adapter_slots = adapter_slots
        self.connected = 0
        self.peak_connected = 0
        self.radio_dead = False  # adapter stops delivering adverts (silence tests)

    def add(self, *peripherals: SimPeripheral) -> None:
        for p in peripherals:
            self.peripherals[p.address.upper()] = p

    def backend(self) -> BleBackend:
        """bleak backend classes bound to this world."""
        from tests.drivers.blesim.backend import SimClient, SimScanner

        scanner = type("BoundSimScanner", (SimScanner,), {"world": self})
        client = type("BoundSimClient", (SimClient,), {"world": self})
        return BleBackend(scanner=scanner, client=client)

    def advertise_once(self) -> None:
        if self.radio_dead:
            return
        for p in list(self.peripherals.values()):
            if not p.advertising or p.client is not None:
                continue
            adv = AdvertisementData(
                local_name=p.name,
                manufacturer_data=dict(p.manufacturer_data),
                service_data=dict(p.service_data),
                service_uuids=list(p.service_uuids),
                tx_power=None,
                rssi=p.rssi,
                platform_data=(),
            )
            for scanner in list(self.scanners):
                scanner.deliver(p.address, p.name, adv)

    @contextlib.asynccontextmanager
    async def running(self, interval: float = 0.02) -> AsyncIterator[SimWorld]:
        """Advertise every ``interval`` seconds while the block runs."""

        async def loop() -> None:
            while True:
                self.advertise_once()
                await asyncio.sleep(interval)

        task = asyncio.get_running_loop().create_task(loop(), name="blesim-radio")
        try:
            yield self
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
