"""Simulated radios for the CLI's ``--ble-backend module:factory`` option (no adapter here).

Each factory returns an async context manager that runs a :class:`SimWorld` while the command
runs and gives its bleak backend classes.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from drivers.ble.transport import BleBackend
from tests.drivers.blesim import SimPeripheral, SimWorld
from tests.drivers.blesim.devices import bp_cuff, mi_scale

CUFF = "C0:FF:EE:00:00:01"
SCALE = "88:0F:10:00:00:04"
STRANGER = "AA:00:00:00:00:06"


@contextlib.asynccontextmanager
async def _running(world: SimWorld) -> AsyncIterator[BleBackend]:
    async with world.running(interval=0.01):
        yield world.backend()


def nearby() -> contextlib.AbstractAsyncContextManager[BleBackend]:
    """A BP cuff (strongest), a Mi scale and someone's headphones."""
    world = SimWorld()
    cuff = bp_cuff(CUFF)
    cuff.rssi = -40
    scale = mi_scale(SCALE)
    scale.rssi = -60
    phones = SimPeripheral(STRANGER, name="Headphones", manufacturer_data={0x004C: b"\x01"})
    phones.rssi = -80
    world.add(cuff, scale, phones)
    return _running(world)


def bonding_cuff() -> contextlib.AbstractAsyncContextManager[BleBackend]:
    world = SimWorld()
    cuff = bp_cuff(CUFF)
    cuff.requires_bond = True
    world.add(cuff)
    return _running(world)


def silence() -> contextlib.AbstractAsyncContextManager[BleBackend]:
    return _running(SimWorld())


def broken_adapter() -> BleBackend:
    """An adapter that cannot scan (bluetoothd not running)."""
    from bleak.exc import BleakError

    from tests.drivers.blesim.backend import SimClient, SimScanner

    class DeadScanner(SimScanner):
        world = SimWorld()

        async def start(self) -> None:
            raise BleakError("org.bluez.Error.NotReady: Resource Not Ready")

    return BleBackend(scanner=DeadScanner, client=type("DeadClient", (SimClient,), {"world": SimWorld()}))
