"""Reading recorded fix files and replaying them into JSON events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.geofence.engine import FenceSettings, Fix
from gateway.geofence.replay import FixFileError, event_json, read_fixes, replay
from tests.support.geofence_traces import T0, Local

L = Local()
HOME = L.rect("r1", "home", 200, 150)


def write_csv(path: Path, rows: list[tuple[str, str, float, float, float | None]]) -> Path:
    lines = ["resident_id,time,latitude,longitude,accuracy_m"]
    lines += [f"{r},{t},{lat!r},{lon!r},{'' if acc is None else acc}" for r, t, lat, lon, acc in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_csv_fixes(tmp_path: Path) -> None:
    p = write_csv(
        tmp_path / "t.csv",
        [
            ("r1", "2026-05-04T02:00:00Z", 30.5, 114.3, 8.0),
            ("r1", "2026-05-04T10:00:30+08:00", 30.6, 114.4, None),
        ],
    )
    a, b = read_fixes(p)
    assert a == Fix("r1", T0, 30.5, 114.3, 8.0, "replay:t.csv")
    assert b == Fix("r1", T0 + timedelta(seconds=30), 30.6, 114.4, None, "replay:t.csv")


def test_csv_extra_columns_blank_lines_bom_and_naive_time(tmp_path: Path) -> None:
    p = tmp_path / "t.csv"
    p.write_text(
        "\ufeffresident_id, time ,latitude,longitude,accuracy_m,speed\n"
        "\nr1,2026-05-04T02:00:00,30.5,114.3,,1.2\n",
        encoding="utf-8",
    )
    assert read_fixes(p) == [Fix("r1", T0, 30.5, 114.3, None, "replay:t.csv")]


def test_jsonl_fixes(tmp_path: Path) -> None:
    p = tmp_path / "t.jsonl"
    rows = [
        {
            "resident_id": "r1",
            "time": "2026-05-04T02:00:00Z",
            "latitude": 30.5,
            "longitude": 114.3,
            "accuracy_m": 5,
        },
        {"resident_id": "r1", "time": "2026-05-04T02:01:00Z", "latitude": 30.5, "longitude": 114.3},
        {
            "resident_id": "r1",
            "time": "2026-05-04T02:02:00Z",
            "latitude": 30.5,
            "longitude": 114.3,
            "accuracy_m": None,
        },
    ]
    p.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n", encoding="utf-8")
    fixes = read_fixes(p)
    assert [f.accuracy_m for f in fixes] == [5.0, None, None]


@pytest.mark.parametrize(
    "name,text,message",
    [
        ("a.txt", "", r"expected a \.csv or \.jsonl file, got '\.txt'"),
        ("a.csv", "resident,time,latitude,longitude\n", r"the header has no 'resident_id' column"),
        (
            "a.csv",
            "resident_id,time,latitude,longitude\nr1,yesterday,30,114\n",
            r"a\.csv line 2: time: expected an ISO 8601 time, got 'yesterday'",
        ),
        (
            "a.csv",
            "resident_id,time,latitude,longitude\nr1,2026-05-04T02:00:00Z,95,114\n",
            r"line 2: latitude: expected a number from -90 to 90, got '95'",
        ),
        (
            "a.csv",
            "resident_id,time,latitude,longitude\nr1,2026-05-04T02:00:00Z,30,\n",
            r"line 2: longitude: missing",
        ),
        (
            "a.csv",
            "resident_id,time,latitude,longitude,accuracy_m\nr1,2026-05-04T02:00:00Z,30,114,-3\n",
            r"line 2: accuracy_m: expected a number from 0 to inf",
        ),
        ("a.jsonl", '{"resident_id": "r1"}\nnot json\n', r"a\.jsonl line 1: time: missing"),
        ("a.jsonl", "not json\n", r"a\.jsonl line 1: not JSON"),
        ("a.jsonl", "[1, 2]\n", r"line 1: expected a JSON object"),
        (
            "a.jsonl",
            '{"resident_id": 7, "time": "2026-05-04T02:00:00Z", "latitude": 1, "longitude": 2}\n',
            r"line 1: resident_id: expected a string",
        ),
        (
            "a.jsonl",
            '{"resident_id": "r", "time": "2026-05-04T02:00:00Z", "latitude": true, "longitude": 2}\n',
            r"line 1: latitude: expected a number",
        ),
    ],
)
def test_bad_fix_files_name_line_and_field(tmp_path: Path, name: str, text: str, message: str) -> None:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    with pytest.raises(FixFileError, match=message):
        read_fixes(p)


def test_missing_fix_file(tmp_path: Path) -> None:
    with pytest.raises(FixFileError, match="does not exist"):
        read_fixes(tmp_path / "none.csv")


def test_replay_walk_out_and_gap() -> None:
    home, far = L.latlon(0, 0), L.latlon(500, 0)
    fixes = [Fix("r1", T0 + timedelta(seconds=30 * i), *home, 5.0) for i in range(4)]
    fixes += [Fix("r1", T0 + timedelta(minutes=5, seconds=30 * i), *far, 5.0) for i in range(4)]
    last = fixes[-1]
    back = Fix("r1", last.at + timedelta(minutes=40), *far, None)
    out = [event_json(e) for e in replay([HOME], [*fixes, back], FenceSettings())]
    assert out == [
        {
            "resident_id": "r1",
            "zone": "home",
            "event": "exit",
            "at": "2026-05-04T02:06:00Z",
            "fix": {
                "time": "2026-05-04T02:06:00Z",
                "latitude": far[0],
                "longitude": far[1],
                "accuracy_m": 5.0,
            },
        },
        {
            "resident_id": "r1",
            "zone": "home",
            "event": "signal_lost",
            "at": "2026-05-04T02:21:30Z",
            "fix": {
                "time": "2026-05-04T02:06:30Z",
                "latitude": far[0],
                "longitude": far[1],
                "accuracy_m": 5.0,
            },
        },
        {
            "resident_id": "r1",
            "zone": "home",
            "event": "signal_restored",
            "at": "2026-05-04T02:46:30Z",
            "fix": {
                "time": "2026-05-04T02:46:30Z",
                "latitude": far[0],
                "longitude": far[1],
                "accuracy_m": None,
            },
        },
    ]


def test_replay_ticks_other_residents_with_the_arrival_clock() -> None:
    """r1's gap is reported when r2's later fix arrives, before that fix is processed."""
    z2 = L.circle("r2", "pond", 40.0, kind="danger", east=2000)
    far = L.latlon(500, 0)
    fixes = [Fix("r1", T0 + timedelta(seconds=30 * i), *L.latlon(0, 0), 5.0) for i in range(4)]
    fixes += [Fix("r1", T0 + timedelta(minutes=5, seconds=30 * i), *far, 5.0) for i in range(4)]
    fixes.append(Fix("r2", T0 + timedelta(hours=1), *L.latlon(2000, 0), 5.0))
    events = list(replay([HOME, z2], fixes, FenceSettings()))
    assert [(e.resident_id, e.event) for e in events] == [("r1", "exit"), ("r1", "signal_lost")]
    assert events[1].at == datetime(2026, 5, 4, 2, 21, 30, tzinfo=UTC)
