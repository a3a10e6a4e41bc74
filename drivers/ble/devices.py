"""Provisioned BLE devices as the transport sees them, and the policy each one gets."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from drivers.errors import DriverError
from drivers.gatt.uuids import normalize
from drivers.profile import ConnectPolicy, Profile, Read, Subscribe


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One provisioned BLE device: its address, profile name and (optional) policy override."""

    address: str
    profile: str
    policy: ConnectPolicy | None = None


@dataclass(frozen=True, slots=True)
class BoundDevice:
    address: str
    profile: Profile
    policy: ConnectPolicy


_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}")


def normalize_address(address: str) -> str:
    """A device address as the registry and the transports compare it: a MAC address in
    upper case with colons; anything else (a serial port, a watch id) only stripped."""
    a = address.strip()
    if _MAC.fullmatch(a):
        return a.replace("-", ":").upper()
    return a


def bind(
    devices: Iterable[DeviceSpec | tuple[str, str] | tuple[str, str, ConnectPolicy | None]],
    profiles: Mapping[str, Profile],
) -> dict[str, BoundDevice]:
    """Resolve profiles and policies; raises :class:`DriverError` naming an unknown profile."""
    out: dict[str, BoundDevice] = {}
    for item in devices:
        spec = item if isinstance(item, DeviceSpec) else DeviceSpec(*item)
        profile = profiles.get(spec.profile)
        if profile is None:
            raise DriverError(
                f"BLE device {spec.address}: unknown profile {spec.profile!r}",
                hint="known profiles: " + ", ".join(sorted(profiles)),
            )
        policy = spec.policy or profile.connect_policy
        if policy == "none":
            policy = "advert_only" if profile.transport == "ble_adv" else "connect_on_advert"
        out[normalize_address(spec.address)] = BoundDevice(normalize_address(spec.address), profile, policy)
    return out


def subscribe_uuids(profiles: Iterable[Profile]) -> frozenset[str]:
    """Characteristics some device subscribes to on connecting (``Subscribe`` connect steps:
    measurements, cuff pressure, battery)."""
    return frozenset(normalize(s.char) for p in profiles for s in p.connect if isinstance(s, Subscribe))


def read_uuids(profiles: Iterable[Profile]) -> frozenset[str]:
    """Characteristics some device reads once on connecting (``Read`` connect steps)."""
    return frozenset(normalize(s.char) for p in profiles for s in p.connect if isinstance(s, Read))
