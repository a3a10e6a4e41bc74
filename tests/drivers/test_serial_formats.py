"""Serial line formats declared as data: format files, the engine, the Omron provisional file."""

from __future__ import annotations

import contextlib
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import registry
from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.measurement import Decoded, Value
from drivers.profile import Profile
from drivers.serial.checksums import xor8_hex
from drivers.serial.formatfile import FormatFileError, parse_format
from drivers.serial.formats import BUILTIN_DIR, load_format_dir, load_format_file, to_profile

ACME = """
[profile]
name = "acme.scale"
title = "ACME platform scale"

[serial]
baudrate = 4800
bytesize = 7
parity = "E"

[framing]
terminator = "\\r"
start = "ST,"

[layout]
type = "key_value"
separator = ";"
key_separator = ","

[fields.ST]
name = "status"
[fields.W]
name = "weight_kg"
type = "float"
unit = "kg"
min = 0
max = 300
value = "weight"
[fields.D]
name = "date"
type = "date"
format = "yyyy-mm-dd"
[fields.T]
name = "time"
type = "time"
format = "hh:mm:ss"

[[measurement]]
kind = "weight"
when_any = ["weight"]

[device_time]
date = "date"
time = "time"
"""

GPSLIKE = """
[profile]
name = "acme.gps"
title = "A receiver with an NMEA-style checksum"
[framing]
terminator = "\\r\\n"
start = ["$"]
[layout]
type = "positional"
quote = ""
[checksum]
rule = "nmea_xor"
required = true
[[columns]]
name = "tag"
[[columns]]
name = "temperature_c"
type = "float"
unit = "Cel"
value = "temperature"
[[columns]]
skip = true
[[measurement]]
kind = "temperature"
"""


def write(tmp_path: Path, text: str, name: str = "acme.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def decode(profile: Profile, data: bytes) -> Decoded:
    return profile.decode(RawFrame("serial", "x", data, datetime(2026, 1, 1, tzinfo=UTC)))


def test_a_new_device_needs_only_a_toml_file(tmp_path: Path) -> None:
    profile = load_format_file(write(tmp_path, ACME))
    assert profile.name == "acme.scale" and profile.transport == "serial"
    assert profile.serial is not None
    assert (profile.serial.baudrate, profile.serial.bytesize, profile.serial.parity) == (4800, 7, "E")
    assert profile.framer is not None
    framer = profile.framer()
    lines = framer.feed(b"\x00\x7fST,1;W,71.25;D,2024-03-15;T,08:30:05\rgarbage\rST,2;W,\r")
    assert lines == [b"\x00\x7f", b"ST,1;W,71.25;D,2024-03-15;T,08:30:05\r", b"garbage\r", b"ST,2;W,\r"]
    with pytest.raises(DecodeError, match="does not start with"):
        decode(profile, lines[0])
    lines = lines[1::2]
    d = decode(profile, lines[0])
    assert d.fields == {
        "format": "acme.scale",
        "checksum_ok": None,
        "fields": {"status": "1", "weight_kg": 71.25, "date": "2024-03-15", "time": "08:30:05"},
    }
    (m,) = d.measurements
    assert m.kind == "weight" and m.values == {"weight": Value(71.25, "kg")}
    assert m.device_time == datetime(2024, 3, 15, 8, 30, 5)
    assert decode(profile, lines[1]).measurements == ()  # empty weight: no measurement


def test_positional_layout_with_xor_checksum(tmp_path: Path) -> None:
    profile = load_format_file(write(tmp_path, GPSLIKE))
    body = "TMP,36.8,x"
    good = f"${body}*{xor8_hex(body.encode())}\r\n".encode()
    d = decode(profile, good)
    assert d.fields["checksum_ok"] is True
    assert d.fields["fields"] == {"tag": "$TMP", "temperature_c": 36.8}
    assert d.measurements[0].values == {"temperature": Value(36.8, "Cel")}
    for data, category in [
        (good.replace(b"36.8", b"36.9"), "bad_checksum"),
        (b"$TMP,36.8,x\r\n", "missing_checksum"),
        (b"$TMP,36.8", "truncated"),
        (f"$TMP,36.8*{xor8_hex(b'TMP,36.8')}\r\n".encode(), "malformed"),
        (b"TMP,36.8,x*00\r\n", "malformed"),
    ]:
        with pytest.raises(DecodeError) as err:
            decode(profile, data)
        assert err.value.category == category, data


def test_load_format_dir_reads_every_file_sorted(tmp_path: Path) -> None:
    assert load_format_dir(tmp_path / "missing") == []
    write(tmp_path, ACME, "b.toml")
    write(tmp_path, GPSLIKE, "a.toml")
    (tmp_path / "notes.txt").write_text("not a format")
    assert [p.name for p in load_format_dir(tmp_path)] == ["acme.gps", "acme.scale"]


def test_load_format_dir_skips_bad_and_clashing_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(tmp_path, ACME, "a.toml")
    write(tmp_path, ACME, "b-copy.toml")
    write(tmp_path, ACME.replace("acme.scale", "tanita.serial"), "c.toml")
    write(tmp_path, ACME.replace('type = "float"', 'type = "flaot"'), "d.toml")
    errors: list[FormatFileError] = []
    assert [p.name for p in load_format_dir(tmp_path, errors=errors)] == ["acme.scale"]
    assert [Path(e.path).name for e in errors] == ["b-copy.toml", "c.toml", "d.toml"]
    assert "already taken" in errors[0].errors[0] and "fields.W.type" in errors[2].errors[0]
    assert len([r for r in caplog.records if r.levelname == "ERROR"]) == 3


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('type = "float"', 'type = "flaot"'), "fields.W.type"),
        (lambda t: t.replace('name = "acme.scale"', 'name = "ACME scale"'), "profile.name"),
        (lambda t: t.replace("min = 0\nmax = 300", "min = 300\nmax = 0"), "fields.W: min 300.0 is above max"),
        (lambda t: t.replace('when_any = ["weight"]', 'when_any = ["wieght"]'), "measurement.0.when_any"),
        (lambda t: t.replace('date = "date"\ntime', 'date = "day"\ntime'), "device_time.date"),
        (lambda t: t.replace('type = "key_value"', 'type = "positional"'), "columns:"),
        (lambda t: t + '\n[fields.G]\nname = "g"\ntype = "enum"\n', "fields.G: type enum needs a choices"),
        (lambda t: t.replace("[layout]", '[layout]\nsepparator = ","'), "layout.sepparator"),
        (lambda t: t.replace('separator = ";"', 'separator = ";;"'), "layout.separator"),
        (
            lambda t: t.replace("[checksum]", "").replace(
                "[layout]", '[checksum]\nrule = "nmea_xor"\n[layout]'
            ),
            "checksum.rule: nmea_xor needs a positional layout",
        ),
        (lambda t: t + "\n[oops", "not valid TOML"),
    ],
)
def test_format_file_errors_name_the_field(tmp_path: Path, edit: object, message: str) -> None:
    path = write(tmp_path, edit(ACME))  # type: ignore[operator]
    with pytest.raises(FormatFileError) as err:
        load_format_file(path)
    assert any(message in e for e in err.value.errors), err.value.errors
    assert str(path) in str(err.value)


def test_missing_format_file(tmp_path: Path) -> None:
    with pytest.raises(FormatFileError, match="does not exist"):
        load_format_file(tmp_path / "nope.toml")


def test_builtin_format_files_are_all_valid() -> None:
    names = {load_format_file(p).name for p in BUILTIN_DIR.glob("*.toml")}
    assert names == {"tanita.serial", "omron.hbp9030"}


OMRON = registry.get("omron.hbp9030")


def omron(sys_: int = 128, dia: int = 82, pulse: int = 71, err: int = 0, day: str = "15") -> bytes:
    return f"2024,03,{day},08,30,PATIENT-000000000042,{err},{sys_:03d},{dia:03d},{pulse:03d},0\r\n".encode()


def test_omron_format5_is_provisional_and_decodes_a_reading() -> None:
    assert OMRON.provisional is True
    assert len(omron().rstrip()) == 53
    d = decode(OMRON, omron())
    (m,) = d.measurements
    assert m.kind == "blood_pressure"
    assert m.values == {
        "systolic": Value(128.0, "mm[Hg]"),
        "diastolic": Value(82.0, "mm[Hg]"),
        "pulse_rate": Value(71.0, "/min"),
    }
    assert m.device_time == datetime(2024, 3, 15, 8, 30)
    assert m.extras["id"] == "PATIENT-000000000042"


def test_omron_error_code_gives_no_measurement() -> None:
    d = decode(OMRON, omron(sys_=0, dia=0, pulse=0, err=3))
    assert d.fields["fields"]["error_code"] == 3
    assert d.measurements == ()


def test_omron_impossible_date_keeps_the_reading_without_device_time() -> None:
    (m,) = decode(OMRON, omron(day="31").replace(b",03,", b",02,", 1)).measurements
    assert m.device_time is None and m.device_time_note == "device time invalid"


@pytest.mark.parametrize(
    ("data", "category"),
    [
        (omron()[:30], "truncated"),
        (omron().replace(b"PATIENT-000000000042", b"P42"), "bad_length"),
        (omron().replace(b",128,", b",1x8,"), "malformed"),
        (omron().replace(b"2024,03", b"2024,13"), "out_of_range"),
        (b"MMBP203N,anything\r\n", "bad_length"),
    ],
)
def test_omron_rejections(data: bytes, category: str) -> None:
    with pytest.raises(DecodeError) as err:
        decode(OMRON, data)
    assert err.value.category == category


FORMATS = (
    OMRON,
    registry.get("tanita.serial"),
    to_profile(parse_format(tomllib.loads(ACME))),
    to_profile(parse_format(tomllib.loads(GPSLIKE))),
)


@given(st.binary(max_size=120))
def test_random_bytes_raise_only_decode_error_for_every_format(data: bytes) -> None:
    for profile in FORMATS:
        with contextlib.suppress(DecodeError):
            decode(profile, data)


def test_the_documented_example_file_is_valid(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "devices.md").read_text(encoding="utf-8")
    example = doc.split("### File layout", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    profile = load_format_file(write(tmp_path, example))
    d = decode(profile, b"ST,1;W,71.25;D,2024-03-15;T,08:30:05;GE,2\r")
    assert d.fields["fields"]["weight_lb"] == pytest.approx(157.079362, abs=1e-6)
    assert d.fields["fields"]["gender"] == "female"
    assert d.measurements[0].device_time == datetime(2024, 3, 15, 8, 30, 5)


def test_quoted_values_may_hold_separators() -> None:
    from drivers.serial.engine import _split

    tokens, open_quote = _split('MO,"A,B",ID,"x"y,"p,q', ",", '"')
    assert [(t.text, t.offset, t.quoted) for t in tokens] == [
        ("MO", 0, False),
        ("A,B", 3, True),
        ("ID", 9, False),
        ('"x"y', 12, False),
        ('"p,q', 17, False),
    ]
    assert open_quote is True
    assert _split("a,b", ",", None) == ([("a", 0, False), ("b", 2, False)], False)
