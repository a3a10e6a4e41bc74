"""NMEA 0183 decoder: RMC/GGA fields, position measurements, rejections."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.measurement import Decoded, Value
from drivers.profiles import nmea
from drivers.serial.checksums import xor8_hex


def sentence(body: str, *, crlf: bool = True) -> str:
    """``$body*hh`` with a correct checksum."""
    return f"${body}*{xor8_hex(body.encode())}" + ("\r\n" if crlf else "")


def decode(text: str | bytes) -> Decoded:
    data = text.encode("latin-1") if isinstance(text, str) else text
    return nmea.decode(RawFrame("serial", "/dev/hutgw-gps", data, datetime(2026, 1, 1, tzinfo=UTC)))


RMC = "GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W"
GGA = "GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,"


def test_rmc_gives_a_position_with_utc_time_and_speed_in_m_per_s() -> None:
    d = decode(sentence(RMC))
    assert d.fields["speed_kmh"] == pytest.approx(22.4 * 1.852)
    assert d.fields["magnetic_variation_deg"] == -3.1
    (m,) = d.measurements
    assert m.kind == "position"
    assert m.device_time == datetime(1994, 3, 23, 12, 35, 19, tzinfo=UTC)
    assert m.values == {
        "latitude": Value(pytest.approx(48.1173), "deg"),
        "longitude": Value(pytest.approx(11.5166667), "deg"),
        "speed": Value(pytest.approx(22.4 * 1852 / 3600, abs=1e-6), "m/s"),
        "heading": Value(84.4, "deg"),
    }


def test_gga_gives_position_with_accuracy_from_hdop_and_no_date() -> None:
    (m,) = decode(sentence(GGA)).measurements
    assert m.values["accuracy_m"] == Value(4.5, "m")
    assert m.values["elevation"] == Value(545.4, "m")
    assert m.device_time is None and m.device_time_note
    assert m.extras["time_utc"] == "12:35:19"


def test_void_fix_decodes_but_gives_no_position() -> None:
    d = decode(sentence("GPRMC,123519,V,,,,,,,230394,,,N"))
    assert d.fields["valid"] is False and d.fields["latitude"] is None
    assert d.measurements == ()
    g = decode(sentence("GPGGA,123519,,,,,0,00,99.9,,,,,,"))
    assert g.fields["valid"] is False and g.fields["fix_quality"] == 0
    assert g.measurements == ()


#: github Knio/pynmea2 test/test_types.py (test_RMC_valid) and test/test_file.py: real sentences.
RMC_MODE_N = "$GPRMC,123519.00,A,4807.038,N,01131.000,E,,,230394,,,N*51"
RMC_MODE_N_NAV_A = "$GPRMC,123519.00,A,4807.038,N,01131.000,E,,,230394,,,N,A*3C"
RMC_MODE_S = "$GPRMC,123519.00,A,4807.038,N,01131.000,E,,,230394,,,S*4C"
RMC_MODE_S_NAV_V = "$GPRMC,123519.00,A,4807.038,N,01131.000,E,,,230394,,,S,V*36"
GGA_NO_FIX_WITH_POSITION = "$GPGGA,181035.576,3949.797,N,07809.854,W,0,00,,,M,,M,,*5A"


@pytest.mark.parametrize("text", [RMC_MODE_N, RMC_MODE_N_NAV_A])
def test_rmc_status_a_with_mode_n_is_no_fix(text: str) -> None:
    d = decode(text + "\r\n")
    assert (d.fields["status"], d.fields["mode"], d.fields["valid"]) == ("A", "N", False)
    assert d.fields["latitude"] == pytest.approx(48.1173)  # the fields are still decoded...
    assert d.measurements == ()  # ...but no position comes out of them


def test_rmc_mode_other_than_a_fix_letter_is_no_fix() -> None:
    assert decode(sentence(RMC + ",X")).fields["valid"] is False
    for mode in "ADFPR":
        (m,) = decode(sentence(RMC + "," + mode)).measurements
        assert m.flags == ()


def test_gga_quality_0_is_no_fix_even_with_a_position() -> None:
    d = decode(GGA_NO_FIX_WITH_POSITION + "\r\n")
    assert d.fields["fix_quality"] == 0 and d.fields["valid"] is False
    assert d.fields["latitude"] == pytest.approx(39.82995)
    assert d.measurements == ()


@pytest.mark.parametrize(
    ("text", "flag"),
    [
        (RMC_MODE_S, "position_simulated"),
        (RMC_MODE_S_NAV_V, "position_simulated"),  # nav status V does not void a fix (vector nmea-005)
        (sentence(RMC + ",E"), "position_estimated"),
        (sentence(RMC + ",M"), "position_manual"),
        (sentence(GGA.replace(",E,1,08,", ",E,6,08,")), "position_estimated"),
        (sentence(GGA.replace(",E,1,08,", ",E,7,08,")), "position_manual"),
        (sentence(GGA.replace(",E,1,08,", ",E,8,08,")), "position_simulated"),
    ],
)
def test_fixes_that_are_not_measured_are_flagged(text: str, flag: str) -> None:
    d = decode(text if text.endswith("\n") else text + "\r\n")
    assert d.fields["valid"] is True
    (m,) = d.measurements
    assert m.flags == (flag,)


def test_null_island_gives_no_position() -> None:
    d = decode(sentence("GPRMC,123519,A,0000.000,N,00000.000,E,0,0,230394,,"))
    assert d.fields["valid"] is True
    assert d.measurements == ()


def test_two_digit_year_pivot() -> None:
    assert decode(sentence("GPRMC,000000,V,,,,,,,010180,,")).fields["date"] == "1980-01-01"
    assert decode(sentence("GPRMC,000000,V,,,,,,,311279,,")).fields["date"] == "2079-12-31"


def test_other_sentences_decode_to_their_raw_fields() -> None:
    d = decode(sentence("GPGSV,3,1,11,03,03,111,00,04,15,270,00"))
    assert d.fields["sentence"] == "GSV" and d.fields["fields"][0] == "3"
    assert d.measurements == ()
    assert decode(sentence("PGRMZ,246,f,3")).fields["talker"] == "P"


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("!AIVDM,1,1,,A,13aEOK?P00PD2wVMdLDRhgvL289?,0*26", "unsupported"),
        ("GPRMC,123519,A*00", "malformed"),
        ("$" + RMC + "\r\n", "missing_checksum"),
        ("$" + RMC, "missing_checksum"),  # every RMC field there: not cut short
        ("$" + GGA, "missing_checksum"),
        ("$" + GGA[:-2], "truncated"),
        ("$" + RMC + "*\r\n", "missing_checksum"),
        ("$" + RMC + "*", "truncated"),
        ("$" + RMC + "*6", "truncated"),
        ("$" + RMC + "*ZZ", "malformed"),
        ("$" + RMC + "*6B", "bad_checksum"),
        ("", "truncated"),
        ("\r\n", "malformed"),
        (sentence("GPRMC,123519,A,4807.038,X,01131.000,E,022.4,084.4,230394,003.1,W"), "malformed"),
        (sentence("GPRMC,123519,A,9107.038,N,01131.000,E,022.4,084.4,230394,003.1,W"), "out_of_range"),
        (sentence("GPRMC,123519,A,4807.038,N,18131.000,E,022.4,084.4,230394,003.1,W"), "out_of_range"),
        (sentence("GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,320394,003.1,W"), "out_of_range"),
        (sentence("GPRMC,246019,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W"), "out_of_range"),
        (sentence("GPRMC,123519,A,48O7.038,N,01131.000,E,022.4,084.4,230394,003.1,W"), "malformed"),
        (sentence("GPRMC,123519,A,4807.038,N"), "malformed"),
        (sentence("GPGGA,123519,4807.038,N,01131.000,E,9,08,0.9,545.4,M,46.9,M,,"), "out_of_range"),
        (sentence("GP,1,2"), "malformed"),
        ("$GPGGA,1\xe9*00\r\n", "malformed"),
    ],
)
def test_rejections(text: str, category: str) -> None:
    with pytest.raises(DecodeError) as err:
        decode(text)
    assert err.value.category == category


def test_framer_splits_noise_off_sentences_and_keeps_everything() -> None:
    f = nmea.framer()
    lines = f.feed(b"\xff\xfe" + sentence(RMC).encode() + b"garbage\r\n!AIVDM,x*00\r\n")
    assert lines == [b"\xff\xfe", sentence(RMC).encode(), b"garbage\r\n", b"!AIVDM,x*00\r\n"]


@given(st.binary(max_size=120))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decode(data)


@given(
    st.lists(st.text(alphabet="0123456789.,-NSEWAV", max_size=12), min_size=0, max_size=15),
    st.sampled_from(["GPRMC", "GNGGA", "GPGSA", "GPXYZ"]),
)
def test_random_fields_with_valid_checksum_raise_only_decode_error(fields: list[str], addr: str) -> None:
    with contextlib.suppress(DecodeError):
        decode(sentence(",".join([addr, *fields])))
