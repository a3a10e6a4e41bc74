"""All known profiles, discovered from ``drivers/profiles/*.py`` (one file per device)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from drivers.errors import DriverError
from drivers.gatt.uuids import normalize as normalize_uuid
from drivers.profile import Profile


class UnknownProfileError(DriverError):
    def __init__(self, name: str, known: Iterable[str]) -> None:
        super().__init__(
            f"unknown profile {name!r}",
            hint="known profiles: " + ", ".join(sorted(known)),
        )
        self.name = name


def _discover() -> Mapping[str, Profile]:
    from drivers import profiles as package

    found: dict[str, Profile] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        declared: list[Profile] = []
        if isinstance(getattr(module, "PROFILE", None), Profile):
            declared.append(module.PROFILE)
        declared.extend(p for p in getattr(module, "PROFILES", ()) if isinstance(p, Profile))
        for profile in declared:
            if profile.name in found:
                raise RuntimeError(f"profile {profile.name!r} declared twice (in {info.name})")
            found[profile.name] = profile
    return MappingProxyType(found)


_PROFILES: Mapping[str, Profile] | None = None


def profiles() -> Mapping[str, Profile]:
    """Every built-in profile by name (loaded once, read-only)."""
    global _PROFILES
    if _PROFILES is None:
        _PROFILES = _discover()
    return _PROFILES


def add_local(extra: Iterable[Profile]) -> list[str]:
    """Add a site's own profiles (serial format files a technician dropped in the state folder).

    A local profile never replaces a built-in one; returns the names added.
    """
    global _PROFILES
    merged = dict(profiles())
    added = []
    for p in extra:
        if p.name not in merged:
            merged[p.name] = p
            added.append(p.name)
    _PROFILES = MappingProxyType(merged)
    return added


def get(name: str) -> Profile:
    found = profiles().get(name)
    if found is None:
        raise UnknownProfileError(name, profiles())
    return found


def for_frame(frame_transport: str, channel: str | None, device_profile: str | None) -> Profile | None:
    """The profile that decodes a frame.

    GATT values and advertisement service data are decoded by the profile that declares the
    characteristic / service-data UUID they arrived on (a cuff also sends battery level and
    intermediate cuff pressure); byte-stream frames (serial, TCP) by the device's profile.
    """
    if channel is not None and frame_transport in ("ble_gatt", "ble_adv"):
        wanted = normalize_uuid(channel)
        for p in profiles().values():
            if frame_transport == "ble_gatt":
                uuids = p.gatt_characteristics
            else:
                uuids = p.ble.service_data_uuids if p.ble else ()
            if any(normalize_uuid(u) == wanted for u in uuids):
                return p
    if device_profile is not None:
        return profiles().get(device_profile)
    return None
