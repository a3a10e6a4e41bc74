"""Watch protocol: frame codec, stream framer, keyword handling (pure parts)."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.measurement import Decoded, DeviceEvent, Value
from drivers.profiles.watch import decode, decode_stream
from drivers.watch.codec import build_frame, parse_frame, unescape
from drivers.watch.framer import WatchFramer


def frame(content: str, *, vendor: str = "3G", wid: str = "1234567890", index: str | None = None) -> bytes:
    return build_frame(vendor, wid, index, content)


def dec(data: bytes | str) -> Decoded:
    raw = data.encode("latin-1") if isinstance(data, str) else data
    return decode(RawFrame("tcp", "watch", raw, datetime(2026, 1, 1, tzinfo=UTC)))


SOS_NO_FIX = (
    "AL,150324,083000,V,0.000000,N,0.000000,E,0.00,0.0,0.0,0,80,55,1200,0,00010000,1,0,460,0,9360,4082,131"
)


def test_build_frame_counts_content_bytes_in_upper_hex() -> None:
    assert build_frame("SG", "8800000015", None, "LK") == b"[SG*8800000015*0002*LK]"
    assert build_frame("ZJ", "1", "00A1", "x" * 26) == b"[ZJ*1*00A1*001A*" + b"x" * 26 + b"]"


def test_index_is_parsed_and_echoed_in_the_reply() -> None:
    d = dec("[ZJ*014111001350304*0038*0002*LK]")
    assert d.fields["index"] == "0038" and d.fields["device_id"] == "014111001350304"
    assert d.reply == b"[ZJ*014111001350304*0038*0002*LK]"


def test_lk_with_battery_reports_a_battery_event() -> None:
    d = dec(frame("LK,50,100,87"))
    assert d.events == (DeviceEvent("battery", {"percent": 87}),)
    assert d.reply == frame("LK")


def test_sos_without_fix_raises_the_alarm_and_is_answered() -> None:
    d = dec(frame(SOS_NO_FIX))
    assert d.fields["sos"] is True and d.fields["valid"] is False
    assert d.measurements == ()  # no position without a fix
    sos = [e for e in d.events if e.kind == "sos"]
    assert len(sos) == 1
    assert sos[0].detail["valid"] is False and sos[0].detail["latitude"] is None
    assert sos[0].detail["cell_count"] == 1
    assert d.reply == frame("AL")


def test_every_alarm_bit_becomes_an_event() -> None:
    content = SOS_NO_FIX.replace("00010000", "007F0000")
    d = dec(frame(content))
    assert d.fields["alarms"] == [
        "sos",
        "low_battery",
        "out_of_fence",
        "into_fence",
        "watch_taken_off",
        "fall_down",
    ]
    kinds = [e.kind for e in d.events if e.kind != "battery"]
    assert kinds == d.fields["alarms"]


def test_alarm_frame_without_alarm_bits_is_still_an_alarm() -> None:
    d = dec(frame(SOS_NO_FIX.replace("00010000", "00000000")))
    assert [e.kind for e in d.events if e.kind != "battery"] == ["alarm"]
    assert d.reply == frame("AL")


def test_ud_position_only_when_valid_and_no_reply() -> None:
    ud = "UD,220414,134652,A,22.571707,S,113.8613968,W,36.0,90.0,100,7,60,90,1000,50,00000000,0"
    d = dec(frame(ud))
    (m,) = d.measurements
    assert m.values["latitude"] == Value(-22.571707, "deg")
    assert m.values["longitude"] == Value(-113.8613968, "deg")
    assert m.values["speed"] == Value(10.0, "m/s")
    assert m.device_time == datetime(2014, 4, 22, 13, 46, 52, tzinfo=UTC)
    assert d.reply is None
    assert [e.kind for e in d.events] == ["battery"]  # alarm bits are only raised from AL frames


def test_unset_watch_clock_gives_no_time_not_an_error() -> None:
    d = dec(frame("UD,000000,000000,V,0,N,0,E,0,0,0,0,0,50,0,0,0000,0"))
    assert d.fields["time_utc"] is None


def test_health_keywords() -> None:
    bp = dec(frame("bphrt,120,79,73,,,,"))
    assert [m.kind for m in bp.measurements] == ["blood_pressure", "heart_rate"]
    assert bp.measurements[0].values["pulse_rate"] == Value(73, "/min")
    assert dec(frame("PULSE,66")).measurements[0].values == {"heart_rate": Value(66, "/min")}
    assert dec(frame("HEART,0")).measurements == ()  # 0 = no reading
    assert dec(frame("TEMP,36.6")).measurements[0].values == {"temperature": Value(36.6, "Cel")}
    assert dec(frame("btemp2,1,36.9")).fields["temperature_c"] == 36.9
    assert dec(frame("btemp2,0,36.9")).fields["temperature_c"] is None
    assert dec(frame("oxygen,1,97")).measurements[0].values == {"spo2": Value(97, "%")}


def test_init_and_voice_queries_are_answered_as_traccar_does() -> None:
    assert dec(frame("INIT,13800000000,1,0,0,0")).reply == frame("INIT,1")
    assert dec(frame("TKQ")).reply == frame("TKQ")


def test_unknown_keyword_is_kept_not_answered() -> None:
    d = dec(frame("UPLOAD,600"))
    assert d.fields["type"] == "UPLOAD" and d.fields["content"] == "UPLOAD,600"
    assert d.reply is None and d.measurements == () and d.events == ()


def test_binary_content_is_unescaped_for_length() -> None:
    assert unescape(b"a}\x01}\x02}\x03}\x04}\x05}\x09") == b"a}[],*}\x09"
    f = parse_frame(b"[3G*1234567890*0006*TK,}\x02}\x03]")
    assert f.content == b"TK,[]" and f.length_ok is False
    assert parse_frame(b"[3G*1234567890*0007*TK,}\x02}\x03]").length_ok is True


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("", "truncated"),
        ("[3G*1234567890*0002*LK", "truncated"),
        ("3G*1234567890*0002*LK]", "malformed"),
        ("[3G*1234567890*0002*LK][3G*1", "malformed"),
        ("[3G*1234567890]", "malformed"),
        ("[3G*12345 67890*0002*LK]", "malformed"),
        ("[3GX*1234567890*0002*LK]", "malformed"),
        ("[3G*1234567890*00G2*LK]", "malformed"),
        ("[3G*1234567890*0002*UD,1,2]", "malformed"),
        ("[3G*1*0002*" + SOS_NO_FIX.replace("00010000", "0001000Z") + "]", "malformed"),
        ("[3G*1*0002*" + SOS_NO_FIX.replace("0.000000,N", "95.0,N") + "]", "out_of_range"),
        ("[3G*1*0002*" + SOS_NO_FIX.replace("150324", "150324x") + "]", "malformed"),
        ("[3G*1*0002*" + SOS_NO_FIX.replace(",80,55,", ",80,5.5,") + "]", "malformed"),
        ("[3G*1*0002*bphrt,79,120,73]", "out_of_range"),
        ("[3G*1*0002*LK,a,b,c]", "malformed"),
    ],
)
def test_rejections(text: str, category: str) -> None:
    with pytest.raises(DecodeError) as err:
        dec(text)
    assert err.value.category == category


def test_stream_decodes_every_whole_frame_and_keeps_the_remainder() -> None:
    read = frame("LK") + b"junk" + frame(SOS_NO_FIX) + frame("UD,1") + b"[3G*12"
    d = decode_stream(RawFrame("tcp", "w", read, datetime(2026, 1, 1, tzinfo=UTC)))
    assert d.fields["types"] == ["LK", "AL", None]
    assert d.fields["frames"][2]["error"] == "malformed"
    assert d.fields["remainder"] == "[3G*12"
    assert d.reply == frame("LK") + frame("AL")
    assert any(e.kind == "sos" for e in d.events)


def test_framer_drops_junk_interrupted_and_oversize_frames() -> None:
    f = WatchFramer(max_frame_bytes=64)
    out = f.feed(b"GET / HTTP/1.1\r\n[3G*1*0002*L" + frame("LK") + b"[" + b"x" * 100 + b"]" + frame("LK"))
    assert out == [frame("LK"), frame("LK")]
    assert f.dropped_frames == 2
    assert f.pending == b""


def test_framer_bounds_an_unfinished_frame() -> None:
    f = WatchFramer(max_frame_bytes=64)
    assert f.feed(b"[" + b"y" * 100) == []
    assert f.pending == b""
    assert f.feed(b"yy]" + frame("LK")) == [frame("LK")]


frames_st = st.lists(
    st.sampled_from(
        [
            frame("LK"),
            frame(SOS_NO_FIX),
            frame("bphrt,120,79,73"),
            frame("x" * 80),
            frame("UD,1,[ssid]x,2"),  # brackets inside the content (Wi-Fi SSIDs)
            frame("AL,[ssid,2"),  # an unbalanced one, declared length right
            frame("AL,[ssid,2").replace(b"*000A*", b"*0100*"),  # ... and wrong
            frame("AL,ssid],2"),
            b"junk",
            b"]",
            b"[",
            b"[3G",
        ]
    ),
    max_size=8,
)


@given(frames_st, st.data())
def test_any_split_of_a_stream_yields_the_same_frames(parts: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(parts)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    whole = WatchFramer(max_frame_bytes=100)
    split = WatchFramer(max_frame_bytes=100)
    expected = whole.feed(stream)
    got: list[bytes] = []
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        got.extend(split.feed(stream[a:b]))
    assert got == expected
    assert split.pending == whole.pending
    assert (split.dropped_bytes, split.dropped_frames) == (whole.dropped_bytes, whole.dropped_frames)
    assert sum(map(len, expected)) + whole.dropped_bytes + len(whole.pending) == len(stream)


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_decode_error(data: bytes) -> None:
    for decoder in (decode, decode_stream):
        with contextlib.suppress(DecodeError):
            decoder(RawFrame("tcp", "w", data, datetime(2026, 1, 1, tzinfo=UTC)))


@given(
    st.lists(st.text(alphabet="0123456789.,-ANVSEW ", max_size=10), max_size=24),
    st.sampled_from(["LK", "UD", "UD2", "AL", "bphrt", "PULSE", "TEMP", "btemp2", "oxygen", "WT", "ZZ"]),
)
def test_random_fields_raise_only_decode_error(fields: list[str], kw: str) -> None:
    with contextlib.suppress(DecodeError):
        dec(frame(",".join([kw, *fields])))


def test_bare_alarm_frame_is_still_raised_and_answered() -> None:
    d = dec(frame("AL"))
    assert [e.kind for e in d.events] == ["alarm"]
    assert d.reply == frame("AL")
