"""`hutgw geofence import|list|remove|replay` as a technician runs them (real subprocesses)."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from gateway.geofence.datum import gcj02_to_wgs84, wgs84_to_gcj02
from gateway.geofence.store import ZoneStore
from provisioning import cli
from tests.support.geofence_traces import Local, trace, walk

HUTGW = [sys.executable, "-m", "provisioning.cli"]
L = Local()


@pytest.fixture(autouse=True)
def residents(state_dir: Path) -> None:
    """Fences belong to registered residents: register the ones these tests use."""
    from gateway.registry import Registry, ResidentEntry

    with Registry(state_dir / "registry.db") as reg:
        for rid in ("r1", "r2"):
            reg.add_resident(ResidentEntry(id=rid, name=rid.upper()))


def test_import_for_an_unknown_resident_changes_nothing(tmp_path: Path, state_dir: Path) -> None:
    f = write(tmp_path / "zones.geojson", collection(resident="r9"))
    proc = hutgw("geofence", "import", "r9", f, "--state-dir", state_dir)
    assert proc.returncode == 5
    assert "no resident 'r9'" in proc.stderr
    assert ZoneStore.in_state_dir(state_dir).load() == []


def hutgw_process(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The real command line in its own process."""
    return subprocess.run([*HUTGW, *map(str, args)], capture_output=True, text=True, timeout=60)


def hutgw(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The same entry point in this process (argument parsing, handler, error to exit code)."""
    out, err = io.StringIO(), io.StringIO()
    argv = list(map(str, args))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(argv)
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


def ring(w: float, h: float, datum: str = "wgs84") -> list[list[float]]:
    pts = [L.latlon(e, n) for e, n in ((-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2))]
    if datum == "gcj02":
        pts = [wgs84_to_gcj02(*p) for p in pts]
    coords = [[lon, lat] for lat, lon in pts]
    return [*coords, coords[0]]


def collection(resident: str = "r1", datum: str = "wgs84") -> dict[str, Any]:
    lat, lon = L.latlon(300, 0)
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"resident_id": resident, "name": "home", "kind": "safe", "stroke": "#f00"},
                "geometry": {"type": "Polygon", "coordinates": [ring(200, 150, datum)]},
            },
            {
                "type": "Feature",
                "properties": {
                    "resident_id": resident,
                    "name": "pond",
                    "kind": "danger",
                    "radius_m": 40,
                    "schedule": {"from": "20:00", "to": "06:00", "tz": "Asia/Shanghai"},
                },
                "geometry": {"type": "Point", "coordinates": [lon, lat]},
            },
        ],
    }


def write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def listed(state: Path, *args: str) -> list[dict[str, Any]]:
    proc = hutgw("geofence", "list", *args, "--state-dir", state, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["features"]


def test_import_list_remove(tmp_path: Path, state_dir: Path) -> None:
    f = write(tmp_path / "zones.geojson", collection())
    proc = hutgw_process("geofence", "import", "r1", f, "--state-dir", state_dir)
    assert proc.returncode == 0, proc.stderr
    assert "imported 2 zone(s) for r1: home, pond" in proc.stdout
    assert (
        hutgw(
            "geofence",
            "import",
            "r2",
            write(tmp_path / "r2.geojson", collection("r2")),
            "--state-dir",
            state_dir,
        ).returncode
        == 0
    )

    text = hutgw("geofence", "list", "--state-dir", state_dir)
    assert text.returncode == 0
    lines = text.stdout.splitlines()
    assert lines[0].startswith("r1\thome\tsafe\tpolygon 4 vertices\talways")
    assert lines[1].startswith("r1\tpond\tdanger\tcircle r=40 m\tdaily 20:00-06:00 Asia/Shanghai")
    assert len(lines) == 4

    features = listed(state_dir, "r1")
    assert [x["properties"]["name"] for x in features] == ["home", "pond"]
    assert features[0]["geometry"]["coordinates"] == [ring(200, 150)]
    assert "stroke" not in features[0]["properties"]

    rm = hutgw("geofence", "remove", "r1", "pond", "--state-dir", state_dir)
    assert rm.returncode == 0 and "removed 1 zone(s) of r1" in rm.stdout
    assert [x["properties"]["name"] for x in listed(state_dir, "r1")] == ["home"]
    again = hutgw("geofence", "remove", "r1", "pond", "--state-dir", state_dir)
    assert again.returncode == 5 and "no zone 'pond' of resident 'r1'" in again.stderr
    assert hutgw("geofence", "remove", "r2", "--state-dir", state_dir, "--json").stdout.strip() == json.dumps(
        {"resident_id": "r2", "removed": 2}
    )
    nobody = hutgw("geofence", "list", "r2", "--state-dir", state_dir)
    assert nobody.returncode == 5 and "resident 'r2' has no zones" in nobody.stderr


def test_import_converts_gcj02(tmp_path: Path, state_dir: Path) -> None:
    f = write(tmp_path / "amap.geojson", collection(datum="gcj02"))
    assert hutgw("geofence", "import", "r1", f, "--datum", "gcj02", "--state-dir", state_dir).returncode == 0
    home = listed(state_dir, "r1")[0]
    assert home["properties"]["source_datum"] == "gcj02"
    drawn = collection(datum="gcj02")["features"][0]["geometry"]["coordinates"][0]
    for (lon, lat), (slon, slat) in zip(drawn, home["geometry"]["coordinates"][0], strict=True):
        assert (slat, slon) == gcj02_to_wgs84(lat, lon)
    # within a millimetre of the place the family meant
    for (lon, lat), (slon, slat) in zip(ring(200, 150), home["geometry"]["coordinates"][0], strict=True):
        assert abs(lat - slat) < 1e-8 and abs(lon - slon) < 1e-8


def test_import_replace(tmp_path: Path, state_dir: Path) -> None:
    assert (
        hutgw(
            "geofence", "import", "r1", write(tmp_path / "a.geojson", collection()), "--state-dir", state_dir
        ).returncode
        == 0
    )
    only_home = collection()
    only_home["features"] = only_home["features"][:1]
    f = write(tmp_path / "b.geojson", only_home)
    assert hutgw("geofence", "import", "r1", f, "--state-dir", state_dir).returncode == 0
    assert len(listed(state_dir, "r1")) == 2  # upsert by name keeps the pond
    assert hutgw("geofence", "import", "r1", f, "--replace", "--state-dir", state_dir).returncode == 0
    assert [x["properties"]["name"] for x in listed(state_dir, "r1")] == ["home"]


def _broken(kind: str) -> Any:
    data = collection()
    if kind == "kind":
        data["features"][1]["properties"]["kind"] = "dangerous"
    elif kind == "resident":
        data["features"][0]["properties"]["resident_id"] = "r9"
    elif kind == "ring":
        data["features"][0]["geometry"]["coordinates"] = [[[114.3, 30.5], [114.3, 30.5], [114.3, 30.5]]]
    elif kind == "schedule":
        data["features"][1]["properties"]["schedule"] = {"from": "20:00", "to": "06:00"}
    elif kind == "type":
        data = data["features"][0]
    return data


@pytest.mark.parametrize(
    "kind,message",
    [
        ("kind", r"features[1].properties.kind: expected 'safe' or 'danger', got 'dangerous'"),
        (
            "resident",
            r"features[0].properties.resident_id: belongs to resident 'r9', but the import is for 'r1'",
        ),
        ("ring", r"features[0].geometry.coordinates[0]: a ring needs at least 3 distinct positions, got 1"),
        ("schedule", r"features[1].properties.schedule.tz: a schedule needs a time zone"),
        ("type", r"type: expected a GeoJSON FeatureCollection, got type 'Feature'"),
    ],
)
def test_bad_geojson_is_refused_and_nothing_changes(
    tmp_path: Path, state_dir: Path, kind: str, message: str
) -> None:
    good = write(tmp_path / "good.geojson", collection())
    assert hutgw("geofence", "import", "r1", good, "--state-dir", state_dir).returncode == 0
    before = listed(state_dir)
    db = (state_dir / "registry.db").read_bytes()
    bad = write(tmp_path / "bad.geojson", _broken(kind))
    run = hutgw_process if kind == "kind" else hutgw
    proc = run("geofence", "import", "r1", bad, "--replace", "--state-dir", state_dir)
    assert proc.returncode == 3
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {bad}: ")
    assert message in lines[0]
    assert listed(state_dir) == before
    assert (state_dir / "registry.db").read_bytes() == db


def test_not_json_and_missing_file(tmp_path: Path, state_dir: Path) -> None:
    bad = tmp_path / "bad.geojson"
    bad.write_text('{"type": "FeatureCollection", "features": [', encoding="utf-8")
    proc = hutgw("geofence", "import", "r1", bad, "--state-dir", state_dir)
    assert proc.returncode == 3 and "is not valid JSON (line 1" in proc.stderr
    missing = hutgw("geofence", "import", "r1", tmp_path / "nope.geojson", "--state-dir", state_dir)
    assert missing.returncode == 5 and "does not exist" in missing.stderr
    assert ZoneStore.in_state_dir(state_dir).load() == []


def _trace_csv(path: Path) -> Path:
    # r1 at home for 10 min, walks out east; the watch goes quiet for 40 min; one more fix
    fixes = list(
        trace("r1", walk((0.0, 0.0), 90.0, 1.2, after_s=600, stop_after_m=600), duration_s=2400, seed=21)
    )
    gap_fix = fixes[-1].__class__("r1", fixes[-1].at + timedelta(minutes=40), *L.latlon(640, 0), None, "x")
    rows = ["resident_id,time,latitude,longitude,accuracy_m"]
    for f in [*fixes, gap_fix]:
        acc = "" if f.accuracy_m is None else f"{f.accuracy_m}"
        rows.append(
            f"{f.resident_id},{f.at.isoformat().replace('+00:00', 'Z')},{f.latitude!r},{f.longitude!r},{acc}"
        )
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_replay_csv(tmp_path: Path) -> None:
    zones = write(tmp_path / "zones.geojson", collection())
    fixes = _trace_csv(tmp_path / "walk.csv")
    proc = hutgw_process(
        "geofence", "replay", "--zones", zones, "--fixes", fixes, "--config", _config(tmp_path, "")
    )
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [e["event"] for e in events] == ["exit", "signal_lost", "signal_restored"]
    assert all(set(e) == {"resident_id", "zone", "event", "at", "fix"} for e in events)
    assert all(set(e["fix"]) == {"time", "latitude", "longitude", "accuracy_m"} for e in events)
    exit_, lost, restored = events
    assert exit_["zone"] == "home" and exit_["resident_id"] == "r1" and exit_["at"] == exit_["fix"]["time"]
    assert lost["fix"]["time"] < lost["at"]
    assert restored["fix"]["accuracy_m"] is None
    # signal lost at the last fix before the gap plus 15 minutes
    from datetime import datetime

    last = datetime.fromisoformat(lost["fix"]["time"])
    assert datetime.fromisoformat(lost["at"]) == last + timedelta(minutes=15)


def _config(tmp_path: Path, geofence_toml: str) -> Path:
    p = tmp_path / "hutgw.toml"
    p.write_text(f"[geofence]\n{geofence_toml}\n", encoding="utf-8")
    return p


def test_replay_jsonl_with_tuned_settings(tmp_path: Path) -> None:
    zones = write(tmp_path / "zones.geojson", collection())
    # drifting on the east fence line for an hour
    rows = [
        {
            "resident_id": f.resident_id,
            "time": f.at.isoformat(),
            "latitude": f.latitude,
            "longitude": f.longitude,
            "accuracy_m": f.accuracy_m,
        }
        for f in trace("r1", walk((100.0, 0.0), 0.0, 0.0, 0, 0), duration_s=3600, seed=2)
    ]
    fixes = tmp_path / "drift.jsonl"
    fixes.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    default = hutgw(
        "geofence", "replay", "--zones", zones, "--fixes", fixes, "--config", _config(tmp_path, "")
    )
    assert default.returncode == 0 and default.stdout == ""
    # Traccar-like settings (one fix, no margin, trust the fix) turn drift into an alarm storm
    twitchy = _config(tmp_path, "margin_m = 0\nfixes = 1\ndwell_s = 0\nmax_accuracy_m = 1\n")
    # max_accuracy 1 m makes every fix unusable: still no events
    assert hutgw("geofence", "replay", "--zones", zones, "--fixes", fixes, "--config", twitchy).stdout == ""
    twitchy = _config(tmp_path, "margin_m = 0\nfixes = 1\ndwell_s = 0\ndefault_accuracy_m = 0\n")
    no_acc = tmp_path / "drift-noacc.jsonl"
    no_acc.write_text("\n".join(json.dumps({**r, "accuracy_m": None}) for r in rows), encoding="utf-8")
    storm = hutgw("geofence", "replay", "--zones", zones, "--fixes", no_acc, "--config", twitchy)
    assert storm.returncode == 0
    assert len(storm.stdout.splitlines()) >= 4


def test_replay_bad_inputs(tmp_path: Path) -> None:
    zones = write(tmp_path / "zones.geojson", collection())
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "resident_id,time,latitude,longitude,accuracy_m\nr1,2026-05-04T02:00:00Z,30.5,east,5\n",
        encoding="utf-8",
    )
    proc = hutgw("geofence", "replay", "--zones", zones, "--fixes", bad, "--config", _config(tmp_path, ""))
    assert proc.returncode == 3
    assert "bad.csv line 2: longitude: expected a number" in proc.stderr and proc.stdout == ""
    badzones = copy.deepcopy(collection())
    badzones["features"][0]["properties"]["kind"] = "home"
    proc = hutgw("geofence", "replay", "--zones", write(tmp_path / "z.geojson", badzones), "--fixes", bad)
    assert proc.returncode == 3 and "features[0].properties.kind" in proc.stderr
    cfg = _config(tmp_path, "fixes = 0")
    proc = hutgw("geofence", "replay", "--zones", zones, "--fixes", bad, "--config", cfg)
    assert (
        proc.returncode == 2 and "geofence.fixes: Input should be greater than or equal to 1" in proc.stderr
    )
    missing = hutgw(
        "geofence",
        "replay",
        "--zones",
        zones,
        "--fixes",
        tmp_path / "none.csv",
        "--config",
        _config(tmp_path, ""),
    )
    assert missing.returncode == 5
