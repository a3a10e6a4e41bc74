"""The zone store: a real SQLite file shared with other registries."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from gateway.geofence.schedule import parse_schedule
from gateway.geofence.store import ZoneStore, ZoneStoreError, registry_path
from gateway.geofence.zones import Circle, parse_feature_collection
from tests.support.geofence_traces import Local

L = Local()


def zones() -> list:
    night = parse_schedule({"days": ["mon"], "from": "20:00", "to": "06:00", "tz": "Asia/Shanghai"})
    home = replace(L.rect("r1", "home", 200, 150), schedule=night)
    pond = replace(L.circle("r1", "pond", 35.5, kind="danger", east=300), source_datum="gcj02")
    other = L.regular("r2", "yard", 80.0, 50)
    return [home, pond, other]


def test_save_and_load_round_trip(state_dir: Path) -> None:
    store = ZoneStore.in_state_dir(state_dir)
    assert store.load() == []  # no file yet: nothing, and nothing created
    assert not registry_path(state_dir).exists()
    assert store.save(zones()) == 3
    assert store.load() == sorted(zones(), key=lambda z: (z.resident_id, z.name))
    assert [z.name for z in store.load("r1")] == ["home", "pond"]
    # a new store on the same file (as the daemon at start) sees the same
    assert ZoneStore(registry_path(state_dir)).load("r2") == [zones()[2]]


def test_upsert_by_name_and_replace(state_dir: Path) -> None:
    store = ZoneStore.in_state_dir(state_dir)
    store.save(zones())
    bigger = L.circle("r1", "pond", 80.0, kind="danger", east=300)
    store.save([bigger])
    (pond,) = [z for z in store.load("r1") if z.name == "pond"]
    assert isinstance(pond.shape, Circle) and pond.shape.radius_m == 80.0
    assert len(store.load("r1")) == 2
    store.save([bigger], replace_resident="r1")
    assert store.load("r1") == [bigger]
    assert len(store.load("r2")) == 1


def test_remove(state_dir: Path) -> None:
    store = ZoneStore.in_state_dir(state_dir)
    store.save(zones())
    assert store.remove("r1", "pond") == 1
    assert store.remove("r1", "pond") == 0
    assert store.remove("r1") == 1
    assert store.remove("nobody") == 0
    assert [z.resident_id for z in store.load()] == ["r2"]


def test_other_tables_in_the_registry_are_left_alone(state_dir: Path) -> None:
    path = registry_path(state_dir)
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE residents (id TEXT PRIMARY KEY, name TEXT)")
        conn.execute("INSERT INTO residents VALUES ('r1', 'Wang')")
    store = ZoneStore(path)
    store.save(zones())
    store.remove("r1")
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT * FROM residents").fetchall() == [("r1", "Wang")]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"residents", "zones"}


def test_failed_save_changes_nothing(state_dir: Path) -> None:
    store = ZoneStore.in_state_dir(state_dir)
    store.save(zones())
    bad = replace(zones()[0], kind="nope")  # type: ignore[arg-type]  # violates the CHECK
    with pytest.raises(ZoneStoreError):
        store.save([zones()[1], bad], replace_resident="r1")
    assert store.load() == sorted(zones(), key=lambda z: (z.resident_id, z.name))


def test_damaged_row_is_reported_with_a_fix(state_dir: Path) -> None:
    store = ZoneStore.in_state_dir(state_dir)
    store.save(zones())
    with sqlite3.connect(registry_path(state_dir)) as conn:
        conn.execute("UPDATE zones SET geometry = '{\"type\": \"Polygon\"}' WHERE name = 'home'")
    with pytest.raises(ZoneStoreError, match=r"stored zone r1/home is damaged") as err:
        store.load()
    assert "hutgw geofence remove r1 home" in str(err.value)


def test_unwritable_state_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ZoneStoreError, match="cannot open"):
        ZoneStore.in_state_dir(blocker / "state").save(zones())


def test_imported_gcj02_file_survives_the_store(state_dir: Path) -> None:
    data = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"resident_id": "r1", "name": "yard", "kind": "safe", "datum": "gcj02"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[114.30, 30.59], [114.31, 30.59], [114.31, 30.60], [114.30, 30.59]]],
                },
            }
        ],
    }
    parsed = parse_feature_collection(data)
    store = ZoneStore.in_state_dir(state_dir)
    store.save(parsed)
    assert store.load() == parsed
