"""Scripted peripherals: an advertisement, a GATT table and what happens on subscription."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.drivers.blesim.backend import SimClient

Script = Callable[["SimPeripheral", str], Coroutine[Any, Any, None]]
#: Runs (synchronously) when the central writes a characteristic: ``(peripheral, uuid, value)``;
#: raising a ``BleakError`` is the ATT error response, :meth:`SimPeripheral.spawn` answers later.
WriteHook = Callable[["SimPeripheral", str, bytes], None]


@dataclass
class Characteristic:
    uuid: str
    service: str
    properties: list[str]
    value: bytes = b""


@dataclass
class SimPeripheral:
    """A device. ``on_subscribe(peripheral, uuid)`` runs (as a task) when the central enables
    notifications/indications on ``uuid``; it calls :meth:`notify` and may :meth:`drop_link`.
    ``on_write(peripheral, uuid, value)`` runs when the central writes (a control point)."""

    address: str
    name: str | None = None
    rssi: int = -60
    service_uuids: list[str] = field(default_factory=list)
    service_data: dict[str, bytes] = field(default_factory=dict)
    manufacturer_data: dict[int, bytes] = field(default_factory=dict)
    characteristics: list[Characteristic] = field(default_factory=list)
    on_subscribe: Script | None = None
    on_write: WriteHook | None = None
    advertising: bool = True
    connectable: bool = True
    requires_bond: bool = False
    refuse_connections: int = 0  # the next N connection attempts fail (busy, out of range)
    bonded: bool = False
    writes: list[tuple[str, bytes]] = field(default_factory=list)
    connections: int = 0
    client: SimClient | None = None
    subscribed: dict[str, Callable[[bytearray], None]] = field(default_factory=dict)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def characteristic(self, uuid: str) -> Characteristic:
        for c in self.characteristics:
            if c.uuid == uuid:
                return c
        raise KeyError(uuid)

    def notify(self, uuid: str, data: bytes) -> None:
        """Send a notification/indication if the central subscribed (else it is lost, as on air)."""
        callback = self.subscribed.get(uuid)
        if callback is not None and self.client is not None:
            callback(bytearray(data))

    def drop_link(self) -> None:
        """The device closes the connection (cuffs after their burst, bands out of range)."""
        if self.client is not None:
            self.client.remote_disconnect()

    def subscribe(self, uuid: str, callback: Callable[[bytearray], None]) -> None:
        self.subscribed[uuid] = callback
        if self.on_subscribe is not None:
            self.spawn(self.on_subscribe(self, uuid))

    def written(self, uuid: str, value: bytes) -> None:
        """The central wrote ``value`` (recorded in ``writes``; accepted when this returns)."""
        self.writes.append((uuid, value))
        if self.on_write is not None:
            self.on_write(self, uuid, value)
        self.characteristic(uuid).value = value

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a script for as long as the link lasts (cancelled when it closes)."""
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def link_closed(self) -> None:
        self.client = None
        self.subscribed.clear()
        for task in list(self.tasks):
            task.cancel()
