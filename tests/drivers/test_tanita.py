"""Tanita serial decoder (declared in drivers/serial/formats/tanita.toml)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import registry
from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.measurement import Decoded, Measurement, Value
from drivers.serial.checksums import sum8_hex

PROFILE = registry.get("tanita.serial")
SC240 = (
    '{0,16,~0,1,~1,1,~2,1,MO,"SC-240",SN,"00000002",Bt,0,GE,1,AG,30,Hm,170,Pt,0.0,Wk,82.7,FW,18.6,'
    "fW,15.4,MW,67.3,mW,64.0,sW,19,bW,3.3,wW,48.0,ww,58.0,MI,28.6,Sw,63.6,OV,30.0,IF,6,rb,8255,rB,1973,"
    "rJ,12,rA,28,ZF,369.4,CS,FD\r\n"
)


def line(body: str, *, checksum: bool = True) -> bytes:
    """A Tanita line from its pairs, with a correct CS pair."""
    text = "{0,16,~0,1,~1,1,~2,1," + body + ","
    if checksum:
        text += "CS," + sum8_hex(text.encode())
    else:
        text = text[:-1]
    return (text + "\r\n").encode()


def decode(data: bytes | str) -> Decoded:
    raw = data.encode() if isinstance(data, str) else data
    return PROFILE.decode(RawFrame("serial", "/dev/hutgw-tanita", raw, datetime(2026, 1, 1, tzinfo=UTC)))


def test_profile_is_serial_with_settings_and_framer() -> None:
    assert PROFILE.transport == "serial"
    assert PROFILE.serial is not None and PROFILE.serial.baudrate == 9600
    assert PROFILE.framer is not None
    assert PROFILE.provisional is False
    assert set(PROFILE.exposes) == {"body_composition", "weight"}


def test_sc240_sample_gives_one_body_composition_measurement() -> None:
    d = decode(SC240)
    assert d.measurements == (
        Measurement(
            kind="body_composition",
            values={
                "height": Value(170.0, "cm"),
                "weight": Value(82.7, "kg"),
                "body_fat_pct": Value(18.6, "%"),
                "fat_mass": Value(15.4, "kg"),
                "fat_free_mass": Value(67.3, "kg"),
                "muscle_mass": Value(64.0, "kg"),
                "bone_mass": Value(3.3, "kg"),
                "body_water_mass": Value(48.0, "kg"),
                "body_water_pct": Value(58.0, "%"),
                "bmi": Value(28.6, "kg/m2"),
                "visceral_fat_rating": Value(6.0, "1"),
                "basal_metabolism": Value(8255.0, "kJ"),
                "metabolic_age": Value(28.0, "a"),
                "impedance": Value(369.4, "Ohm"),
            },
            device_time=None,
            device_time_note="device sent no date",
            extras={
                "model": "SC-240",
                "serial": "00000002",
                "body_type": "standard",
                "gender": "male",
                "age_years": 30,
                "preset_tare_kg": 0.0,
                "muscle_score": 19,
                "standard_weight_kg": 63.6,
                "degree_of_obesity_pct": 30.0,
                "bmr_score": 12,
            },
        ),
    )
    assert d.reply is None and d.events == ()


def test_basal_metabolism_from_kcal_when_no_kj() -> None:
    d = decode(line('MO,"BC-420",Wk,61.4,FW,33.2,rB,1270'))
    (m,) = d.measurements
    assert m.values["basal_metabolism"] == Value(pytest.approx(1270 * 4.184), "kJ")


def test_kj_wins_over_kcal_whatever_the_order() -> None:
    d = decode(line('MO,"BC-420",rB,1270,Wk,61.4,FW,33.2,rb,5314'))
    assert d.measurements[0].values["basal_metabolism"] == Value(5314.0, "kJ")


def test_weight_only_without_body_fat() -> None:
    d = decode(line('MO,"HD-351",Wk,70.2,MI,24.3'))
    (m,) = d.measurements
    assert m.kind == "weight"
    assert m.values == {"weight": Value(70.2, "kg"), "bmi": Value(24.3, "kg/m2")}


def test_pounds_and_grams_become_kilograms() -> None:
    lb = decode(line("Wp,181.2"))
    assert lb.fields["fields"]["weight_lb"] == 181.2
    assert lb.fields["fields"]["weight_kg"] == pytest.approx(82.190937, abs=1e-6)
    assert lb.measurements[0].values["weight"] == Value(pytest.approx(82.19093744), "kg")
    g = decode(line('MO,"BD-815",Wg,3972', checksum=False))
    assert g.fields["checksum_ok"] is None
    assert g.measurements[0].values["weight"] == Value(3.972, "kg")


def test_device_time_from_date_and_time_is_naive_local() -> None:
    d = decode(line('MO,"BC-420",Da,"15/03/2024",TI,"08:30",Wk,61.4,FW,33.2'))
    assert d.fields["fields"]["date"] == "2024-03-15"
    assert d.measurements[0].device_time == datetime(2024, 3, 15, 8, 30)
    assert d.measurements[0].device_time_note is None


def test_unknown_headers_are_kept_not_fatal() -> None:
    d = decode(line('MO,"MC-980",Wk,70.0,FW,20.1,FR,21.5,mR,"3.1",XX,abc'))
    assert d.fields["fields"]["extra"] == {"FR": "21.5", "mR": "3.1", "XX": "abc"}
    assert d.measurements[0].kind == "body_composition"


def test_unknown_enum_code_is_kept_raw() -> None:
    assert decode(line("Bt,1,Wk,70.0")).fields["fields"]["body_type"] == "1"


def test_lower_case_checksum_and_lf_only_are_accepted() -> None:
    text = SC240.replace("CS,FD\r\n", "CS,fd\n")
    assert decode(text).fields["checksum_ok"] is True


def test_complete_checksummed_line_without_terminator_is_accepted() -> None:
    assert decode(SC240.rstrip("\r\n")).fields["checksum_ok"] is True


@pytest.mark.parametrize(
    ("text", "category", "field"),
    [
        (SC240.replace("CS,FD", "CS,FE"), "bad_checksum", "CS"),
        (SC240.replace("Wk,82.7", "Wk,82.8"), "bad_checksum", "CS"),
        (SC240.replace("CS,FD", "CS,G1"), "malformed", "CS"),
        ("\x00\x13\xff~noise\r\n", "malformed", None),
        ("irrelevant signal\r\n", "malformed", None),
        ("{", "truncated", None),
        (SC240[:100], "truncated", None),
        (SC240.replace(",CS,FD\r\n", ",CS,F"), "truncated", None),
        ('{0,16,MO,"SC-240\r\n', "malformed", None),
        ('{0,16,MO,"SC-2', "truncated", None),
        (SC240.replace("CS,FD", "CS,FD,XX,1"), "malformed", "CS"),
        ("{0,16,,1\r\n", "malformed", None),
        ("{0,16,Wk,-3.0\r\n", "out_of_range", "weight_kg"),
        ("{0,16,FW,101.0\r\n", "out_of_range", "body_fat_pct"),
        ("{0,16,Wk,8x.2\r\n", "malformed", "weight_kg"),
        ('{0,16,Da,"31/02/2024"\r\n', "out_of_range", "date"),
        ('{0,16,Da,"2024-02-01"\r\n', "malformed", "date"),
        ('{0,16,TI,"25:00"\r\n', "out_of_range", "time"),
        ("{0,16,AG,30.5\r\n", "malformed", "age_years"),
        ("{0,16,Wk,70.0\r\n".encode("latin-1") + b"\xff", "malformed", None),
    ],
)
def test_rejections_name_category_and_field(text: str | bytes, category: str, field: str | None) -> None:
    with pytest.raises(DecodeError) as err:
        decode(text)
    assert err.value.category == category
    assert err.value.field == field


def test_oversize_line_is_rejected() -> None:
    with pytest.raises(DecodeError) as err:
        decode(line("ID," + "0" * 2000))
    assert err.value.category == "bad_length"


@given(st.binary(max_size=300))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode(data)


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["Wk", "FW", "MO", "Da", "TI", "GE", "Bt", "ZZ", "CS", ""]),
            st.text(alphabet='0123456789./:"-AZ, ', max_size=12),
        ),
        max_size=8,
    )
)
def test_random_pairs_raise_only_decode_error(pairs: list[tuple[str, str]]) -> None:
    body = ",".join(f"{k},{v}" for k, v in pairs)
    for data in (line(body), line(body, checksum=False), ("{0,16," + body).encode()):
        with contextlib.suppress(DecodeError):
            decode(data)
