"""Zones persisted in ``<state_dir>/registry.db``, table ``zones``.

The file is shared with other registries (residents, devices); this module creates and
touches only its own table. Geometry is stored as WGS-84 GeoJSON, the datum it was drawn
in is kept for reference. Small and used by the CLI and at daemon start, so plain sqlite3.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gateway.geofence.errors import GeofenceError, ZoneError
from gateway.geofence.zones import Circle, Zone, geometry_json, parse_feature

REGISTRY_FILE = "registry.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS zones (
    resident_id  TEXT NOT NULL,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('safe', 'danger')),
    geometry     TEXT NOT NULL,
    radius_m     REAL,
    schedule     TEXT,
    source_datum TEXT NOT NULL,
    imported_at  TEXT NOT NULL,
    PRIMARY KEY (resident_id, name)
)
"""

_UPSERT = """
INSERT INTO zones (resident_id, name, kind, geometry, radius_m, schedule, source_datum, imported_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (resident_id, name) DO UPDATE SET
    kind = excluded.kind, geometry = excluded.geometry, radius_m = excluded.radius_m,
    schedule = excluded.schedule, source_datum = excluded.source_datum, imported_at = excluded.imported_at
"""
_DELETE_ONE = "DELETE FROM zones WHERE resident_id = ? AND name = ?"


class ZoneStoreError(GeofenceError):
    """The zone table cannot be read or written."""


def registry_path(state_dir: Path) -> Path:
    return state_dir / REGISTRY_FILE


class ZoneStore:
    """Zones of all residents in one SQLite file. Every method is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def in_state_dir(cls, state_dir: Path) -> ZoneStore:
        return cls(registry_path(state_dir))

    @contextmanager
    def _connect(self, *, create: bool) -> Iterator[sqlite3.Connection | None]:
        if not create and not self.path.exists():
            yield None
            return
        try:
            if create:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10.0, isolation_level=None)
        except (OSError, sqlite3.Error) as e:
            raise ZoneStoreError(
                f"cannot open {self.path}: {e}", hint="check the state folder exists and is writable"
            ) from None
        with closing(conn):
            try:
                conn.execute(_SCHEMA)
                yield conn
            except sqlite3.Error as e:
                raise ZoneStoreError(f"{self.path}: zones table: {e}", hint="is the file damaged?") from None

    def save(self, zones: Iterable[Zone], *, replace_resident: str | None = None) -> int:
        """Insert or update ``zones`` (by resident and name), atomically.

        With ``replace_resident`` that resident's other zones are removed in the same
        transaction. Returns the number of zones written.
        """
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        rows = [_row(z, now) for z in zones]
        with self._connect(create=True) as conn:
            assert conn is not None
            conn.execute("BEGIN IMMEDIATE")
            try:
                if replace_resident is not None:
                    conn.execute("DELETE FROM zones WHERE resident_id = ?", (replace_resident,))
                conn.executemany(_UPSERT, rows)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return len(rows)

    def load(self, resident_id: str | None = None) -> list[Zone]:
        """All zones (or one resident's), ordered by resident and name."""
        with self._connect(create=False) as conn:
            if conn is None:
                return []
            sql = "SELECT resident_id, name, kind, geometry, radius_m, schedule, source_datum FROM zones"
            args: tuple[str, ...] = ()
            if resident_id is not None:
                sql += " WHERE resident_id = ?"
                args = (resident_id,)
            rows = conn.execute(sql + " ORDER BY resident_id, name", args).fetchall()
        return [_zone(row, self.path) for row in rows]

    def remove(self, resident_id: str, name: str | None = None) -> int:
        """Delete one zone, or all of a resident's; returns how many were deleted."""
        with self._connect(create=False) as conn:
            if conn is None:
                return 0
            if name is None:
                cur = conn.execute("DELETE FROM zones WHERE resident_id = ?", (resident_id,))
            else:
                cur = conn.execute(_DELETE_ONE, (resident_id, name))
            return cur.rowcount


def _row(z: Zone, now: str) -> tuple[Any, ...]:
    radius = z.shape.radius_m if isinstance(z.shape, Circle) else None
    schedule = json.dumps(z.schedule.to_json()) if z.schedule is not None else None
    geometry = json.dumps(geometry_json(z), separators=(",", ":"))
    return (z.resident_id, z.name, z.kind, geometry, radius, schedule, z.source_datum, now)


def _zone(row: tuple[Any, ...], path: Path) -> Zone:
    resident_id, name, kind, geometry, radius, schedule, datum = row
    props: dict[str, Any] = {"resident_id": resident_id, "name": name, "kind": kind}
    try:
        if radius is not None:
            props["radius_m"] = radius
        if schedule is not None:
            props["schedule"] = json.loads(schedule)
        feature = {"type": "Feature", "properties": props, "geometry": json.loads(geometry)}
        zone = parse_feature(feature, 0)
    except (ValueError, ZoneError) as e:
        raise ZoneStoreError(
            f"{path}: stored zone {resident_id}/{name} is damaged: {e}",
            hint=f"remove it with `hutgw geofence remove {resident_id} {name}` and import it again",
        ) from None
    return replace(zone, source_datum=datum)
