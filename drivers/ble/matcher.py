"""Matching advertisements to profiles (pure: works on :class:`Advert`, not bleak types).

Rules are the profile's :class:`drivers.profile.BleMatch`; the most specific kind of match wins:
service data UUID (a payload format) > manufacturer id > advertised service UUID > name pattern
(``fnmatch``-style, or a plain prefix). Ties go to the first profile by name.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from drivers.gatt.uuids import normalize
from drivers.profile import Profile


@dataclass(frozen=True, slots=True)
class Advert:
    """One advertisement as the transport saw it (service UUIDs normalised to 128-bit)."""

    address: str
    name: str | None = None
    rssi: int | None = None
    service_uuids: tuple[str, ...] = ()
    service_data: Mapping[str, bytes] = field(default_factory=dict)
    manufacturer_data: Mapping[int, bytes] = field(default_factory=dict)


def _name_matches(name: str, pattern: str) -> bool:
    n, p = name.upper(), pattern.upper()
    if any(c in p for c in "*?["):
        return fnmatch.fnmatchcase(n, p)
    return n.startswith(p)


def score(advert: Advert, profile: Profile) -> int:
    """0 when the profile does not match; higher is more specific."""
    rules = profile.ble
    if rules is None:
        return 0
    data_uuids = {normalize(u) for u in advert.service_data}
    if any(normalize(u) in data_uuids for u in rules.service_data_uuids):
        return 4
    if any(m in advert.manufacturer_data for m in rules.manufacturer_ids):
        return 3
    services = {normalize(u) for u in advert.service_uuids}
    if any(normalize(u) in services for u in rules.service_uuids):
        return 2
    if advert.name and any(_name_matches(advert.name, p) for p in rules.name_patterns):
        return 1
    return 0


def match(advert: Advert, profiles: Iterable[Profile]) -> Profile | None:
    """The best-matching profile for ``advert``, or ``None``."""
    best: tuple[int, str] | None = None
    found: Profile | None = None
    for p in profiles:
        s = score(advert, p)
        if s and (best is None or (-s, p.name) < best):
            best, found = (-s, p.name), p
    return found
