"""Checks on what a technician types for ``hutgw devices add``: address, profile, resident.

Each check raises a :class:`ProvisioningError` with one sentence naming the problem and what
to do; nothing is written before all of them pass.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from drivers import registry as builtin_profiles
from drivers.ble.devices import normalize_address
from drivers.profile import Profile
from drivers.serial.formats import load_format_dir
from gateway.registry import looks_like_national_id
from provisioning.errors import BadInputError, NotFoundError
from provisioning.i18n import t

Link = Literal["ble", "serial", "watch"]

BLE_MAC = re.compile(r"[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}")
WATCH_ID = re.compile(r"\d{5,20}")
DEVICE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
PROFILES_SUBDIR = "profiles"


def known_profiles(state_dir: Path) -> dict[str, Profile]:
    """Built-in profiles and the technician's format files in ``<state_dir>/profiles``."""
    found = dict(builtin_profiles.profiles())
    for p in load_format_dir(Path(state_dir) / PROFILES_SUBDIR):
        found.setdefault(p.name, p)
    return found


def link_of(profile: Profile) -> Link | None:
    """How a device with this profile is reached; None for profiles that are not whole devices
    (a single GATT characteristic such as battery level)."""
    if profile.transport in ("ble_gatt", "ble_adv"):
        return "ble" if profile.ble is not None else None
    if profile.transport == "serial":
        return "serial"
    if profile.transport == "tcp":
        return "watch"
    return None


def check_address(link: Link, address: str) -> str:
    """The normalised address; raises when it cannot be one for this link."""
    a = address.strip()
    if link == "ble":
        if not BLE_MAC.fullmatch(a):
            raise BadInputError(t("devices.bad_ble", address=address), hint=t("devices.bad_ble_hint"))
        return normalize_address(a)
    if link == "watch":
        if not WATCH_ID.fullmatch(a) or looks_like_national_id(a):
            raise BadInputError(t("devices.bad_watch", id=address), hint=t("devices.bad_watch_hint"))
        return a
    path = Path(a)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        raise NotFoundError(t("devices.no_serial", path=a), hint=t("devices.no_serial_hint")) from None
    if not stat.S_ISCHR(mode):
        raise BadInputError(t("devices.not_a_port", path=a), hint=t("devices.no_serial_hint"))
    return a


def _names_for(link: Link, profiles: Mapping[str, Profile]) -> str:
    return ", ".join(sorted(n for n, p in profiles.items() if link_of(p) == link))


def check_profile(link: Link, name: str, profiles: Mapping[str, Profile]) -> Profile:
    profile = profiles.get(name)
    transport = t(f"devices.transport.{link}")
    if profile is None:
        raise NotFoundError(
            t("devices.unknown_profile", name=name),
            hint=t("devices.profile_hint", transport=transport, names=_names_for(link, profiles)),
        )
    actual = link_of(profile)
    if actual != link:
        raise BadInputError(
            t(
                "devices.wrong_transport",
                name=name,
                actual=t(f"devices.transport.{actual}") if actual else profile.transport,
                wanted=transport,
            ),
            hint=t("devices.profile_hint", transport=transport, names=_names_for(link, profiles)),
        )
    return profile


def check_device_id(device_id: str) -> str:
    d = device_id.strip()
    if looks_like_national_id(d):
        raise BadInputError(t("devices.bad_id", id=d, reason="national ID"), hint=t("devices.bad_id_hint"))
    if not DEVICE_ID.fullmatch(d):
        raise BadInputError(
            t("devices.bad_id", id=d, reason="letters, digits, '.', '_', '-'"), hint=t("devices.bad_id_hint")
        )
    return d


def default_id(link: Link, address: str) -> str:
    """A device id from the address when the technician gives none (``ble-c0ffee000001``)."""
    if link == "ble":
        tail = address.replace(":", "").lower()
    elif link == "watch":
        tail = address
    else:
        tail = re.sub(r"[^A-Za-z0-9_.-]+", "-", Path(address).name).strip("-.") or "port"
    return f"{link}-{tail}"[:64]
