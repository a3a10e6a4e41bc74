"""All known profiles, discovered from ``drivers/profiles/*.py`` (one file per device)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from drivers.errors import DriverError
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


def get(name: str) -> Profile:
    found = profiles().get(name)
    if found is None:
        raise UnknownProfileError(name, profiles())
    return found
