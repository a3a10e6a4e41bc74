"""Serial line-format files (TOML) as device profiles.

The built-in files live beside this module (``tanita.toml``, ``omron_hbp9030.toml``); the
gateway also loads a technician's files from ``<state_dir>/profiles/*.toml``.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from drivers.profile import Framer, Profile
from drivers.serial.engine import decode_frame
from drivers.serial.formatfile import FormatFileError, read_format
from drivers.serial.framer import LineFramer
from drivers.serial.spec import LineFormat

BUILTIN_DIR = Path(__file__).parent

__all__ = ["BUILTIN_DIR", "FormatFileError", "builtin", "load_format_dir", "load_format_file", "to_profile"]


def _framer(fmt: LineFormat) -> Framer:
    return LineFramer(fmt.terminator, max_length=fmt.max_length, start=fmt.start)


def to_profile(fmt: LineFormat) -> Profile:
    """A :class:`Profile` whose decoder and framer follow ``fmt``."""
    return Profile(
        name=fmt.name,
        title=fmt.title,
        transport="serial",
        decode=partial(decode_frame, fmt),
        exposes=tuple(sorted({r.kind for r in fmt.measurements})),
        connect_policy="stay_connected",
        serial=fmt.serial,
        framer=partial(_framer, fmt),
        provisional=fmt.provisional,
        notes=fmt.notes,
    )


def load_format_file(path: Path) -> Profile:
    """Read, validate and turn one format file into a profile (raises :class:`FormatFileError`)."""
    return to_profile(read_format(Path(path)))


def load_format_dir(
    path: Path, *, logger: logging.Logger | None = None, errors: list[FormatFileError] | None = None
) -> list[Profile]:
    """Every valid ``*.toml`` in ``path`` (sorted by file name); a missing folder gives ``[]``.

    A bad file never stops the others: it is logged (and appended to ``errors`` when given), as
    is a file whose profile name is already taken (built-in or an earlier file).
    """
    from drivers import registry  # lazy: built-in profiles import this module

    log = logger or logging.getLogger("hutgw.profiles")
    folder = Path(path)
    if not folder.is_dir():
        return []
    taken = set(registry.profiles())
    found: list[Profile] = []
    for p in sorted(folder.glob("*.toml")):
        try:
            profile = load_format_file(p)
            if profile.name in taken:
                raise FormatFileError(p, [f"profile.name: {profile.name!r} is already taken; rename it"])
        except FormatFileError as e:
            log.error("format file skipped: %s", e)
            if errors is not None:
                errors.append(e)
            continue
        taken.add(profile.name)
        found.append(profile)
    return found


def builtin(stem: str) -> Profile:
    """A built-in format file by stem (``tanita`` -> ``formats/tanita.toml``)."""
    return load_format_file(BUILTIN_DIR / f"{stem}.toml")
