from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from buffer.outbox import Outbox
from buffer.record import Lane, Record
from drivers.frames import RawFrame
from drivers.measurement import Measurement, Value
from gateway.alerts import AlertManager
from gateway.clinical import ClinicalSettings
from gateway.clock import FakeClock
from gateway.pipeline import Pipeline
from gateway.registry import DeviceEntry, Registry, ResidentEntry
from gateway.sessions import KioskSessions
from provisioning.cli import main
from provisioning.errors import EXIT_CONFLICT, EXIT_INPUT, EXIT_NOT_FOUND, EXIT_OK
from uplink.codec import Reading
from uplink.contract import WireReading

NATIONAL_ID = "11010519491231002X"


def run(capsys: pytest.CaptureFixture[str], state_dir: Path, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--state-dir", str(state_dir)])
    out, err = capsys.readouterr()
    return code, out, err


def test_add_list_remove(capsys: pytest.CaptureFixture[str], state_dir: Path) -> None:
    code, out, _ = run(
        capsys,
        state_dir,
        "residents",
        "add",
        "R001",
        "--name",
        "王秀英",
        "--sex",
        "女",
        "--birth-year",
        "1950",
        "--height-cm",
        "155",
        "--guardian",
        "13800138000",
        "--card",
        "NFC-01",
    )
    assert code == EXIT_OK and "R001" in out
    code, out, _ = run(capsys, state_dir, "residents", "list", "--json")
    assert code == EXIT_OK
    assert json.loads(out) == [
        {
            "resident_id": "R001",
            "name": "王秀英",
            "sex": "female",
            "birth_year": 1950,
            "height_cm": 155.0,
            "guardians": ["13800138000"],
            "consent": True,
            "card_number": "NFC-01",
        }
    ]
    code, out, _ = run(capsys, state_dir, "residents", "list")
    assert "王秀英" in out and "NFC-01" in out
    code, _, err = run(capsys, state_dir, "residents", "add", "R001", "--name", "x", "--birth-year", "1950")
    assert code == EXIT_CONFLICT and "already registered" in err
    code, out, _ = run(
        capsys, state_dir, "residents", "update", "R001", "--height-cm", "157", "--no-consent", "--json"
    )
    assert (
        code == EXIT_OK
        and json.loads(out)["updated"]["height_cm"] == 157
        and not json.loads(out)["updated"]["consent"]
    )
    code, out, _ = run(capsys, state_dir, "residents", "remove", "R001")
    assert code == EXIT_OK
    code, _, err = run(capsys, state_dir, "residents", "remove", "R001")
    assert code == EXIT_NOT_FOUND and "R001" in err


def test_national_id_is_refused(capsys: pytest.CaptureFixture[str], state_dir: Path) -> None:
    code, _, err = run(
        capsys, state_dir, "residents", "add", NATIONAL_ID, "--name", "李四", "--birth-year", "1949"
    )
    assert code == EXIT_INPUT
    assert "national ID" in err and NATIONAL_ID not in err and "健康档案" in err


def test_list_without_a_registry(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, tmp_path / "typo", "residents", "list")
    assert code == EXIT_NOT_FOUND and "--state-dir" in err
    assert not (tmp_path / "typo").exists()


def test_import_bom_bad_rows_and_skip_bad(
    capsys: pytest.CaptureFixture[str], state_dir: Path, tmp_path: Path
) -> None:
    csv_path = tmp_path / "village.csv"
    csv_path.write_bytes(
        b"\xef\xbb\xbf"
        + (
            "resident_id,name,sex,birth_year,height_cm,guardian_phone\r\n"
            "R001,王秀英,女,1950,155,13800138000\r\n"
            f"{NATIONAL_ID},李四,男,1949,170,\r\n"
            "R003,张三,男,1947,999,\r\n"
        ).encode()
    )
    code, out, err = run(capsys, state_dir, "residents", "import", str(csv_path))
    assert code == EXIT_INPUT
    assert "line 3" in err and "line 4" in err and "height_cm" in err and "nothing imported" in err
    assert NATIONAL_ID not in err
    code, out, _ = run(capsys, state_dir, "residents", "list", "--json")
    assert json.loads(out) == []
    code, out, _ = run(capsys, state_dir, "residents", "import", str(csv_path), "--json")
    assert code == EXIT_INPUT and [b["line"] for b in json.loads(out)["bad"]] == [3, 4]
    code, out, err = run(capsys, state_dir, "residents", "import", str(csv_path), "--skip-bad", "--json")
    assert code == EXIT_OK
    report = json.loads(out)
    assert (report["imported"], report["skipped"]) == (1, 2)
    code, out, _ = run(capsys, state_dir, "residents", "list", "--json")
    assert [r["resident_id"] for r in json.loads(out)] == ["R001"]


def test_cli_as_a_real_process(state_dir: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "provisioning.cli",
        "residents",
        "add",
        "R9",
        "--name",
        "A",
        "--birth-year",
        "1960",
        "--height-cm",
        "20",
        "--state-dir",
        str(state_dir),
    ]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert p.returncode == EXIT_INPUT and "height_cm" in p.stderr and p.stderr.startswith("error:")


# ---------------------------------------------------------------------------- readings


def _make_readings(state_dir: Path) -> tuple[Reading, Reading]:
    """Two readings from the hut scale as the daemon would store them: one unattributed, one not."""
    clock = FakeClock(datetime(2026, 3, 1, 2, 0, tzinfo=UTC))
    reg = Registry(state_dir / "registry.db")
    reg.add_resident(ResidentEntry("R001", "王秀英", "female", 1950, 155.0))
    reg.add_resident(ResidentEntry("R002", "张三", "male", 1947, 170.0))
    scale = reg.add_device(DeviceEntry("hut-scale", "gatt.weight", "AA:BB:CC:DD:EE:02"))
    sessions = KioskSessions(clock, 180)
    pipeline = Pipeline(
        registry=reg.snapshot,
        sessions=sessions,
        clinical=ClinicalSettings.default(),
        alerts=AlertManager(clock),
        clock=clock,
        max_device_skew_s=86_400,
    )
    frame = RawFrame("ble_gatt", "AA:BB:CC:DD:EE:02", b"\x00\x70\x17", clock.now())
    lost = pipeline.from_measurement(
        Measurement("weight", {"weight": Value(60, "kg")}), device=scale, frame=frame
    ).reading
    sessions.sign_in("R001")
    owned = pipeline.from_measurement(
        Measurement("weight", {"weight": Value(61, "kg")}), device=scale, frame=frame
    ).reading
    reg.close()

    async def store() -> None:
        async with Outbox(state_dir / "outbox.db") as box:
            for r in (lost, owned):
                await box.put(Record(r.id, "readings", Lane.CLINICAL, r.kind, r.to_wire(), key=r.resident_id))

    asyncio.run(store())
    return lost, owned


def _stored(state_dir: Path, reading_id: str) -> tuple[dict[str, object], str | None]:
    async def get() -> tuple[dict[str, object], str | None]:
        async with Outbox(state_dir / "outbox.db") as box:
            s = await box.get(reading_id)
            assert s is not None
            return orjson.loads(s.payload), s.key

    return asyncio.run(get())


def test_unattributed_and_assign(capsys: pytest.CaptureFixture[str], state_dir: Path) -> None:
    lost, owned = _make_readings(state_dir)
    assert owned.resident_id == "R001"
    code, out, _ = run(capsys, state_dir, "readings", "unattributed", "--json")
    assert code == EXIT_OK
    rows = json.loads(out)
    assert [r["id"] for r in rows] == [lost.id]
    assert rows[0]["values"]["weight"] == {"value": 60, "unit": "kg"}
    code, out, _ = run(capsys, state_dir, "readings", "unattributed")
    assert lost.id in out and "1 unattributed" in out

    code, out, _ = run(capsys, state_dir, "readings", "assign", lost.id, "R001")
    assert code == EXIT_OK and "revision 1" in out
    payload, key = _stored(state_dir, lost.id)
    wire = WireReading.model_validate(payload)
    assert (wire.id, wire.revision, wire.resident_id, wire.attribution, key) == (
        lost.id,
        1,
        "R001",
        "assigned",
        "R001",
    )
    assert wire.classification is not None and wire.classification.category == "overweight"  # 60 kg, 155 cm
    assert wire.values["bmi"].value == 25.0
    code, out, _ = run(capsys, state_dir, "readings", "unattributed", "--json")
    assert json.loads(out) == []

    code, _, err = run(capsys, state_dir, "readings", "assign", lost.id, "R002")
    assert code == EXIT_CONFLICT and "already belongs to resident R001" in err and "--force" in err
    code, out, _ = run(capsys, state_dir, "readings", "assign", lost.id, "R002", "--force", "--json")
    assert code == EXIT_OK and json.loads(out)["revision"] == 2 and json.loads(out)["resident_id"] == "R002"
    code, _, err = run(capsys, state_dir, "readings", "assign", lost.id, "R404")
    assert code == EXIT_NOT_FOUND and "R404" in err
    code, _, err = run(capsys, state_dir, "readings", "assign", "no-such-id", "R001")
    assert code == EXIT_NOT_FOUND and "unattributed" in err


def test_readings_without_an_outbox(capsys: pytest.CaptureFixture[str], state_dir: Path) -> None:
    code, _, err = run(capsys, state_dir, "readings", "unattributed")
    assert code == EXIT_NOT_FOUND and "outbox" in err
