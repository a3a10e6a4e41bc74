from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError
from gateway.registry import (
    CsvImportError,
    DeviceEntry,
    DuplicateError,
    InUseError,
    InvalidEntryError,
    Registry,
    ResidentEntry,
    UnknownEntryError,
    looks_like_national_id,
    parse_residents_csv,
    validate_resident,
)

# A made-up number with a correct ISO 7064 check digit (GB 11643 layout), and one without.
NATIONAL_ID = "11010519491231002X"
NATIONAL_ID_BAD_CHECK = "110105194912310021"
HEADER = "resident_id,name,sex,birth_year,height_cm,guardian_phone,card_number\n"


@pytest.fixture
def reg(tmp_path: Path) -> Registry:
    r = Registry(tmp_path / "registry.db")
    yield r
    r.close()


def alice(**kw: object) -> ResidentEntry:
    base = {"id": "R001", "name": "王秀英", "sex": "female", "birth_year": 1950, "height_cm": 155.0}
    base.update(kw)
    return ResidentEntry(**base)  # type: ignore[arg-type]


def test_national_id_detection() -> None:
    assert looks_like_national_id(NATIONAL_ID)
    assert looks_like_national_id(NATIONAL_ID.lower())
    assert looks_like_national_id(NATIONAL_ID_BAD_CHECK)  # a real birth date is enough
    assert not looks_like_national_id("11010520240000000")  # 17 digits: health-record shape
    assert not looks_like_national_id("110105000000000000")  # no date, wrong check digit
    assert not looks_like_national_id("R001")


def test_resident_id_must_not_be_a_national_id(reg: Registry) -> None:
    with pytest.raises(InvalidEntryError) as e:
        reg.add_resident(alice(id=NATIONAL_ID))
    assert "national ID" in e.value.errors["resident_id"]
    assert NATIONAL_ID not in str(e.value)  # never echoed
    assert "健康档案" in (e.value.hint or "")
    assert isinstance(e.value, GatewayError)
    with pytest.raises(InvalidEntryError) as e:
        reg.add_resident(alice(card_number=NATIONAL_ID))
    assert "card_number" in e.value.errors
    assert reg.list_residents() == []


def test_validation_names_every_bad_field() -> None:
    with pytest.raises(InvalidEntryError) as e:
        validate_resident(id="", name="", sex="x", birth_year="19x0", height_cm="500", guardians=["??"])
    assert set(e.value.errors) == {"resident_id", "name", "sex", "birth_year", "height_cm", "guardians"}


def test_normalisation() -> None:
    r = validate_resident(
        id=" 3201150010010001 ",
        name=" 李四 ",
        sex="男",
        birth_year="1948",
        height_cm="",
        guardians="138-0013-8000; R002",
        consent="否",
    )
    assert r == ResidentEntry(
        "3201150010010001", "李四", "male", 1948, None, ("13800138000", "R002"), False, None
    )


def test_add_get_update_remove(reg: Registry) -> None:
    a = reg.add_resident(alice(guardians=("13800138000",), card_number="NFC-01"))
    assert reg.get_resident("R001") == a
    with pytest.raises(DuplicateError):
        reg.add_resident(alice())
    with pytest.raises(DuplicateError):
        reg.add_resident(alice(id="R002", card_number="NFC-01"))
    b = reg.update_resident("R001", height_cm=156.5, consent=False)
    assert (b.height_cm, b.consent, b.name) == (156.5, False, "王秀英")
    with pytest.raises(InvalidEntryError):
        reg.update_resident("R001", height_cm=999)
    with pytest.raises(InvalidEntryError):
        reg.update_resident("R001", id="R009")
    with pytest.raises(UnknownEntryError):
        reg.update_resident("R404", name="x")
    assert [r.id for r in reg.list_residents()] == ["R001"]
    reg.remove_resident("R001")
    assert reg.get_resident("R001") is None
    with pytest.raises(UnknownEntryError):
        reg.remove_resident("R001")


def test_devices(reg: Registry) -> None:
    reg.add_resident(alice())
    reg.add_resident(alice(id="R002", name="张三", sex="male"))
    cuff = reg.add_device(
        DeviceEntry("cuff1", "gatt.blood_pressure", "aa-bb-cc-dd-ee-ff", None, {1: "R001", 2: "R002"})
    )
    assert cuff.address == "AA:BB:CC:DD:EE:FF" and cuff.added_at is not None
    band = reg.add_device(DeviceEntry("band1", "watch.tcp", "8800000015", resident_id="R001"))
    assert not band.shared and cuff.shared
    with pytest.raises(DuplicateError):
        reg.add_device(DeviceEntry("cuff2", "gatt.blood_pressure", "AA:BB:CC:DD:EE:FF"))
    with pytest.raises(InvalidEntryError) as e:
        reg.add_device(DeviceEntry("x", "p", resident_id="R404", user_map={300: "R001", 1: "R405"}))
    assert set(e.value.errors) == {"user_map.300"}
    with pytest.raises(InvalidEntryError) as e:
        reg.add_device(DeviceEntry("x", "p", resident_id="R404", user_map={1: "R405"}))
    assert set(e.value.errors) == {"resident_id", "user_map.1"}
    with pytest.raises(InUseError):
        reg.remove_resident("R002")  # still in cuff1's user map
    updated = reg.update_device("cuff1", user_map={1: "R001"})
    assert dict(updated.user_map) == {1: "R001"} and updated.added_at == cuff.added_at
    reg.remove_resident("R002")
    reg.remove_device("band1")
    assert [d.id for d in reg.list_devices()] == ["cuff1"]


def test_snapshot_and_change_detection_across_processes(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    daemon = Registry(path)
    snap = daemon.snapshot()
    assert snap.residents == {} and not daemon.changed()
    cli = Registry(path)  # another connection, as `hutgw residents add` would open
    cli.add_resident(alice(card_number="NFC-01"))
    cli.add_device(DeviceEntry("cuff1", "gatt.blood_pressure", "aa:bb:cc:dd:ee:ff"))
    assert daemon.changed()
    snap = daemon.snapshot()
    assert not daemon.changed()
    assert snap.resident("R001") is not None and snap.resident_by_card("NFC-01").id == "R001"  # type: ignore[union-attr]
    assert snap.device_at("AA-BB-CC-DD-EE-FF").id == "cuff1"  # type: ignore[union-attr]
    assert snap.device("cuff1") is snap.device_at("aa:bb:cc:dd:ee:ff")
    with pytest.raises(TypeError):
        snap.residents["x"] = alice()  # type: ignore[index]
    daemon.update_resident("R001", name="王秀英2")  # own writes count too
    assert daemon.changed()
    cli.close()
    daemon.close()


def test_other_tables_in_the_same_file_are_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE zones (id TEXT)")
    con.execute("INSERT INTO zones VALUES ('z1')")
    con.commit()
    con.close()
    Registry(path).close()
    Registry(path).close()  # idempotent schema
    con = sqlite3.connect(path)
    assert con.execute("SELECT id FROM zones").fetchall() == [("z1",)]
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_not_a_database(tmp_path: Path) -> None:
    path = tmp_path / "registry.db"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(GatewayError) as e:
        Registry(path)
    assert "registry" in str(e.value) and e.value.hint


# ---------------------------------------------------------------------------- CSV


def write(tmp_path: Path, text: str, *, bom: bool = False, encoding: str = "utf-8") -> Path:
    p = tmp_path / "residents.csv"
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return p


def test_csv_import_with_bom(reg: Registry, tmp_path: Path) -> None:
    csv_text = HEADER + "R001,王秀英,女,1950,155,13800138000,NFC-01\r\nR002,张三,男,1947,,,\r\n"
    report = reg.import_residents_csv(write(tmp_path, csv_text, bom=True))
    assert (report.rows, report.imported, report.skipped) == (2, 2, 0)
    a = reg.get_resident("R001")
    assert a == ResidentEntry("R001", "王秀英", "female", 1950, 155.0, ("13800138000",), True, "NFC-01")
    assert reg.get_resident("R002").height_cm is None  # type: ignore[union-attr]


def test_csv_without_optional_columns(reg: Registry, tmp_path: Path) -> None:
    text = "resident_id,name,sex,birth_year,height_cm,village\nR001,A,male,1950,170,东村\n"
    report = reg.import_residents_csv(write(tmp_path, text))
    assert report.imported == 1 and report.ignored_columns == ("village",)


def test_csv_bad_rows_are_all_reported_and_nothing_is_imported(reg: Registry, tmp_path: Path) -> None:
    text = (
        HEADER
        + "R001,王秀英,女,1950,155,,\n"  # line 2 ok
        + f"{NATIONAL_ID},李四,男,1949,170,,\n"  # line 3 national id
        + "R003,,男,1949,170,,\n"  # line 4 no name
        + '"R004","multi\nline",male,1930,160,,\n'  # lines 5-6: a name with a line break
        + "R001,dup,male,1950,170,,\n"  # line 7 duplicate
        + "R005,x,male,1850,170,,\n"  # line 8 year
        + "R006,x,male,1950\n"  # line 9 cells
        + "\n"  # line 10 blank: ignored
        + "R007,x,male,,170,,\n"  # line 11 birth year empty
    )
    with pytest.raises(CsvImportError) as e:
        reg.import_residents_csv(write(tmp_path, text))
    report = e.value.report
    assert report is not None
    assert [b.line for b in report.bad] == [3, 4, 5, 7, 8, 9, 11]
    assert report.bad[0].resident_id == "(national ID withheld)"
    assert "national ID" in report.bad[0].errors["resident_id"]
    assert "line 2" in report.bad[3].errors["resident_id"]
    assert all(NATIONAL_ID not in b.describe() for b in report.bad)
    assert reg.list_residents() == []
    assert e.value.exit_code == 3

    report2 = reg.import_residents_csv(write(tmp_path, text), skip_bad=True)
    assert (report2.imported, report2.skipped) == (1, 7)
    assert [r.id for r in reg.list_residents()] == ["R001"]


def test_csv_existing_ids_and_update(reg: Registry, tmp_path: Path) -> None:
    reg.add_resident(alice())
    text = HEADER + "R001,王秀英,女,1950,158,,\n"
    with pytest.raises(CsvImportError) as e:
        reg.import_residents_csv(write(tmp_path, text))
    assert "already registered" in e.value.report.bad[0].errors["resident_id"]  # type: ignore[union-attr]
    report = reg.import_residents_csv(write(tmp_path, text), update=True)
    assert (report.imported, report.updated) == (0, 1)
    assert reg.get_resident("R001").height_cm == 158  # type: ignore[union-attr]


def test_csv_file_level_errors(reg: Registry, tmp_path: Path) -> None:
    with pytest.raises(CsvImportError, match="missing column"):
        reg.import_residents_csv(write(tmp_path, "id,name\n1,a\n"))
    with pytest.raises(CsvImportError, match="not UTF-8") as e:
        reg.import_residents_csv(write(tmp_path, HEADER + "R001,王秀英,女,1950,155,,\n", encoding="gbk"))
    assert "UTF-8" in (e.value.hint or "")
    with pytest.raises(CsvImportError, match="empty"):
        reg.import_residents_csv(write(tmp_path, ""))
    with pytest.raises(CsvImportError, match="cannot read"):
        reg.import_residents_csv(tmp_path / "nope.csv")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list('R0123456789,"\n\r ab男女-.;X')), max_size=300))
def test_csv_parser_never_crashes(body: str) -> None:
    try:
        good, bad, _ = parse_residents_csv(HEADER + body)
    except CsvImportError:
        return
    assert all(isinstance(line, int) and line >= 2 for line, _ in good)
    assert all(b.line >= 2 for b in bad)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_validation_raises_only_invalid_entry(text: str) -> None:
    fields = ("id", "name", "sex", "birth_year", "height_cm", "guardians", "card_number")
    with contextlib.suppress(InvalidEntryError):
        validate_resident(**dict.fromkeys(fields, text))
