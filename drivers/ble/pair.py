"""Pairing/bonding for ``hutgw devices pair ADDRESS`` (devices that refuse unbonded centrals)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bleak import BleakClient, BleakScanner

from drivers.ble.devices import normalize_address
from drivers.ble.transport import BleBackend
from drivers.errors import TransportError


@dataclass(frozen=True, slots=True)
class PairResult:
    address: str
    name: str | None
    paired: bool
    services: tuple[str, ...]


async def pair(
    address: str,
    *,
    backend: BleBackend | None = None,
    connect_timeout_s: float = 30.0,
    find_timeout_s: float = 15.0,
) -> PairResult:
    """Find the device, connect, bond, list its services, disconnect.

    Raises :class:`TransportError` with a technician hint when the device is not found or
    refuses to bond.
    """
    target = normalize_address(address)
    backend = backend or BleBackend()
    try:
        if backend.scanner is None:
            device = await BleakScanner.find_device_by_address(target, timeout=find_timeout_s)
        else:
            device = await BleakScanner.find_device_by_address(
                target, timeout=find_timeout_s, backend=backend.scanner
            )
    except Exception as e:
        raise TransportError(
            f"cannot scan for {target}: {e}", hint="check the adapter: bluetoothctl show, rfkill list"
        ) from e
    if device is None:
        raise TransportError(
            f"BLE device {target} not found within {find_timeout_s:.0f} s",
            hint="wake the device (take a measurement or press its button) and put it in pairing mode",
        )
    client = BleakClient(device, timeout=connect_timeout_s, backend=backend.client)
    try:
        await asyncio.wait_for(client.connect(), connect_timeout_s)
        await asyncio.wait_for(client.pair(), connect_timeout_s)
        services = tuple(sorted(s.uuid for s in client.services))
    except Exception as e:
        raise TransportError(
            f"pairing with {target} failed: {e}",
            hint="put the device in pairing mode (see its manual) and retry; "
            "remove an old bond first with bluetoothctl remove ADDRESS",
        ) from e
    finally:
        if client.is_connected:
            await asyncio.wait_for(client.disconnect(), 10.0)
    return PairResult(target, device.name, True, services)
