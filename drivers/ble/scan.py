"""One-off scan for ``hutgw devices scan``: nearby devices, the profile each would use, RSSI,
and whether it is provisioned."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from bleak import BleakScanner
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData

from drivers import registry
from drivers.ble.devices import normalize_address
from drivers.ble.matcher import Advert, match
from drivers.ble.transport import BleBackend
from drivers.errors import TransportError
from drivers.gatt.uuids import normalize
from drivers.profile import Profile


@dataclass(frozen=True, slots=True)
class SeenDevice:
    address: str
    name: str | None
    rssi: int | None
    profile: str | None
    provisioned: bool
    service_uuids: tuple[str, ...] = ()
    service_data_uuids: tuple[str, ...] = ()
    manufacturer_ids: tuple[int, ...] = ()


def advert_of(device: BLEDevice, adv: AdvertisementData) -> Advert:
    return Advert(
        address=normalize_address(device.address),
        name=adv.local_name or device.name,
        rssi=adv.rssi,
        service_uuids=tuple(normalize(u) for u in adv.service_uuids),
        service_data={normalize(u): bytes(d) for u, d in adv.service_data.items()},
        manufacturer_data={k: bytes(v) for k, v in adv.manufacturer_data.items()},
    )


async def scan_once(
    *,
    backend: BleBackend | None = None,
    timeout: float = 5.0,  # noqa: ASYNC109 - how long to listen (the CLI's --timeout), not a deadline
    provisioned: Iterable[str] = (),
    profiles: Mapping[str, Profile] | None = None,
) -> list[SeenDevice]:
    """Listen for ``timeout`` seconds; strongest signal first.

    Raises :class:`TransportError` (with a hint) when the adapter cannot scan.
    """
    known = profiles if profiles is not None else registry.profiles()
    ble_profiles = [p for p in known.values() if p.ble is not None]
    wanted = {normalize_address(a) for a in provisioned}
    latest: dict[str, Advert] = {}

    def on_advert(device: BLEDevice, adv: AdvertisementData) -> None:
        advert = advert_of(device, adv)
        latest[advert.address] = advert

    scanner = BleakScanner(on_advert, backend=(backend or BleBackend()).scanner)
    try:
        await asyncio.wait_for(scanner.start(), 10.0)
    except Exception as e:
        raise TransportError(
            f"cannot scan for BLE devices: {e}",
            hint="check the adapter: bluetoothctl show, rfkill list, systemctl status bluetooth",
        ) from e
    try:
        await asyncio.sleep(timeout)
    finally:
        await asyncio.wait_for(scanner.stop(), 10.0)
    seen = []
    for a in latest.values():
        profile = match(a, ble_profiles)
        seen.append(
            SeenDevice(
                address=a.address,
                name=a.name,
                rssi=a.rssi,
                profile=profile.name if profile else None,
                provisioned=a.address in wanted,
                service_uuids=a.service_uuids,
                service_data_uuids=tuple(a.service_data),
                manufacturer_ids=tuple(a.manufacturer_data),
            )
        )
    return sorted(seen, key=lambda s: (-(s.rssi if s.rssi is not None else -999), s.address))
