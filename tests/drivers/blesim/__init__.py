"""A simulated bleak backend: scripted GATT peripherals behind bleak's own backend interfaces.

``SimWorld`` holds peripherals and hands out ``BaseBleakScanner`` / ``BaseBleakClient``
subclasses bound to it (``world.backend()``), which the code under test passes to bleak through
its ``backend=`` arguments. Nothing is monkeypatched: bleak's ``BleakScanner``/``BleakClient``
and bleak-retry-connector run unchanged on top.
"""

from tests.drivers.blesim.backend import SimClient, SimScanner
from tests.drivers.blesim.peripherals import Characteristic, SimPeripheral
from tests.drivers.blesim.world import SimWorld

__all__ = ["Characteristic", "SimClient", "SimPeripheral", "SimScanner", "SimWorld"]
