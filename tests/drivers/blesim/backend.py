"""bleak backend classes serving :class:`SimWorld` peripherals (see bleak.backends.*.Base*)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from bleak.args import SizedBuffer
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient, NotifyCallback
from bleak.backends.descriptor import BleakGATTDescriptor
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData, AdvertisementDataCallback, BaseBleakScanner
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import BleakDeviceNotFoundError, BleakError

from tests.drivers.blesim.peripherals import SimPeripheral
from tests.drivers.blesim.world import SimWorld

CCCD = "00002902-0000-1000-8000-00805f9b34fb"


class SimScanner(BaseBleakScanner):
    world: ClassVar[SimWorld]

    def __init__(
        self,
        detection_callback: AdvertisementDataCallback | None,
        service_uuids: list[str] | None,
        scanning_mode: str = "active",
        **kwargs: Any,
    ) -> None:
        super().__init__(detection_callback, service_uuids)
        self.scanning = False

    async def start(self) -> None:
        self.seen_devices = {}
        self.scanning = True
        self.world.scanner_starts += 1
        self.world.scanners.append(self)

    async def stop(self) -> None:
        self.scanning = False
        if self in self.world.scanners:
            self.world.scanners.remove(self)

    def deliver(self, address: str, name: str | None, adv: AdvertisementData) -> None:
        if not self.scanning or not self.is_allowed_uuid(adv.service_uuids):
            return
        device = self.create_or_update_device(address, address, name, {"sim": True}, adv)
        self.call_detection_callbacks(device, adv)


def build_services(p: SimPeripheral) -> BleakGATTServiceCollection:
    collection = BleakGATTServiceCollection()
    handle = 1
    services: dict[str, BleakGATTService] = {}
    for c in p.characteristics:
        service = services.get(c.service)
        if service is None:
            service = BleakGATTService(None, handle, c.service)
            handle += 1
            services[c.service] = service
            collection.add_service(service)
        char = BleakGATTCharacteristic(c, handle, c.uuid, list(c.properties), lambda: 20, service)  # type: ignore[arg-type]
        handle += 1
        collection.add_characteristic(char)
        if {"notify", "indicate"} & set(c.properties):
            collection.add_descriptor(BleakGATTDescriptor(None, handle, CCCD, char))
            handle += 1
    return collection


class SimClient(BaseBleakClient):
    world: ClassVar[SimWorld]

    def __init__(
        self,
        address_or_ble_device: BLEDevice | str,
        *,
        disconnected_callback: Callable[[], None] | None = None,
        timeout: float = 10.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(address_or_ble_device, disconnected_callback=disconnected_callback, timeout=timeout)
        self._peripheral: SimPeripheral | None = None

    @property
    def name(self) -> str:
        p = self.world.peripherals.get(self.address.upper())
        return (p.name if p else None) or self.address.replace(":", "-")

    @property
    def mtu_size(self) -> int:
        return 23

    @property
    def is_connected(self) -> bool:
        return self._peripheral is not None

    def _require(self) -> SimPeripheral:
        if self._peripheral is None:
            raise BleakError("Not connected")
        return self._peripheral

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        p = self.world.peripherals.get(self.address.upper())
        if p is None or not p.connectable:
            raise BleakDeviceNotFoundError(self.address, f"Device with address {self.address} was not found.")
        if p.client is not None:
            raise BleakError(f"{self.address} is already connected")
        if p.refuse_connections > 0:
            p.refuse_connections -= 1
            raise BleakError("simulated: connection refused by the peripheral")
        if self.world.connected >= self.world.adapter_slots:
            raise BleakError("le-connection-abort-by-local: no connection slot")
        if pair:
            p.bonded = True
        p.client = self
        p.connections += 1
        self._peripheral = p
        self.world.connected += 1
        self.world.peak_connected = max(self.world.peak_connected, self.world.connected)
        self.services = build_services(p)

    def _close(self) -> None:
        p = self._peripheral
        if p is None:
            return
        self._peripheral = None
        self.world.connected -= 1
        p.link_closed()

    async def disconnect(self) -> None:
        self._close()

    def remote_disconnect(self) -> None:
        """The peripheral dropped the link: bleak calls the callback only for unsolicited drops."""
        self._close()
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        self._require().bonded = True

    async def unpair(self) -> None:
        self._require().bonded = False

    async def read_gatt_char(
        self, characteristic: BleakGATTCharacteristic, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        p = self._require()
        char = p.characteristic(characteristic.uuid)
        if "read" not in char.properties:
            raise BleakError(f"{characteristic.uuid} is not readable")
        return bytearray(char.value)

    async def read_gatt_descriptor(
        self, descriptor: BleakGATTDescriptor, *, use_cached: bool = False, **kwargs: Any
    ) -> bytearray:
        self._require()
        return bytearray(b"\x00\x00")

    async def write_gatt_char(
        self, characteristic: BleakGATTCharacteristic, data: SizedBuffer, response: bool
    ) -> None:
        p = self._require()
        char = p.characteristic(characteristic.uuid)
        if not {"write", "write-without-response"} & set(char.properties):
            raise BleakError(f"{characteristic.uuid} is not writable")
        p.written(characteristic.uuid, bytes(data))

    async def write_gatt_descriptor(self, descriptor: BleakGATTDescriptor, data: SizedBuffer) -> None:
        self._require()

    async def start_notify(
        self, characteristic: BleakGATTCharacteristic, callback: NotifyCallback, **kwargs: Any
    ) -> None:
        p = self._require()
        if p.requires_bond and not p.bonded:
            raise BleakError("[org.bluez.Error.NotPermitted] Insufficient authentication")
        p.subscribe(characteristic.uuid, callback)

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        self._require().subscribed.pop(characteristic.uuid, None)
