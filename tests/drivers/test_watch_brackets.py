"""Watch frames whose content holds ``[`` or ``]`` (Wi-Fi SSIDs): issue 17 item 13.

Real frame: Traccar ``WatchFrameDecoderTest`` (a UD report whose fifth SSID is
``[LG_Wall-Mount A/C]e725``, declared length 0x013D for 308 content bytes). Framing follows
Traccar's rule (bracket depth) with the declared length as a hint; checked on ``watch.tcp``,
``watch.stream``, the framer alone (any split of the stream) and the TCP listener.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers import registry
from drivers.frames import RawFrame
from drivers.measurement import Decoded
from drivers.profiles.watch import decode, decode_stream
from drivers.watch.codec import build_frame, parse_frame
from drivers.watch.framer import WatchFramer
from drivers.watch.server import WatchServer
from tests.support.sinks import DecodingSink

#: github traccar/traccar src/test/java/org/traccar/protocol/WatchFrameDecoderTest.java
LG_UD = (
    b"[3G*880900242*013D*UD,120623,140020,A,48.949273,N, 4.3783060,E,18.56,43.8,0.0,12,100,76,226120,0,"
    b"00000000,2,255,204,8,3110,55025,146,3130,49297,124,5,BangingWifi,34:a1:ed:e1:91:4f,-71,"
    b"BAR WiFi,36:a2:e1:ed:a1:de,-72,NetworkWifi,26:de:a1:ed:e1:a0,-73,Fiber,36:a1:ed:e1:91:4f,-75,"
    b"[LG_Wall-Mount A/C]e725,66:a1:ed:e1:e7:25,-82,15.0]"
)
#: The same report as an SOS: keyword AL, status bit 16 (declared length left as the watch sent it).
LG_AL = LG_UD.replace(b"*UD,", b"*AL,").replace(b",00000000,", b",00010000,")
T0 = datetime(2026, 1, 1, tzinfo=UTC)
WID = "880900242"


def tcp(data: bytes) -> Decoded:
    return decode(RawFrame("tcp", WID, data, T0))


def stream(data: bytes) -> Decoded:
    return decode_stream(RawFrame("tcp", WID, data, T0))


def wifi_al(ssids: list[str], *, length: int | None = None, wid: str = WID) -> bytes:
    """An SOS report with the given SSIDs; ``length`` overrides the declared content length."""
    cells = "1,255,460,0,9360,4082,131"
    aps = ",".join(f"{s},66:a1:ed:e1:e7:{i:02x},-80" for i, s in enumerate(ssids))
    content = (
        f"AL,150324,083000,V,0.000000,N,0.000000,E,0.00,0.0,0.0,0,80,55,1200,0,00010000,{cells},"
        f"{len(ssids)},{aps},15.0"
    )
    f = build_frame("3G", wid, None, content)
    if length is not None:
        f = f.replace(f"*{len(content):04X}*".encode(), f"*{length:04X}*".encode(), 1)
    return f


def test_traccar_frame_with_bracketed_ssid_is_one_position_report() -> None:
    assert parse_frame(LG_UD).content.endswith(b"[LG_Wall-Mount A/C]e725,66:a1:ed:e1:e7:25,-82,15.0")
    d = tcp(LG_UD)
    assert d.fields["type"] == "UD" and d.fields["length_ok"] is False
    assert d.fields["declared_length"] == 0x13D
    assert d.fields["wifi_count"] == 5
    assert d.fields["wifi"][4] == {"ssid": "[LG_Wall-Mount A/C]e725", "mac": "66:a1:ed:e1:e7:25", "rssi": -82}
    (m,) = d.measurements
    assert (m.values["latitude"].value, m.values["longitude"].value) == (48.949273, 4.378306)


def test_sos_with_bracketed_ssid_is_an_sos_and_answered() -> None:
    d = tcp(LG_AL)
    assert d.fields["sos"] is True
    assert [e.kind for e in d.events if e.kind != "battery"] == ["sos"]
    assert d.reply == b"[3G*880900242*0002*AL]"


def test_stream_with_bracketed_ssids_frames_every_report() -> None:
    lk = b"[3G*880900242*0002*LK]"
    d = stream(lk + LG_UD + LG_AL + lk + b"[3G*8809")
    assert d.fields["types"] == ["LK", "UD", "AL", "LK"]
    assert d.fields["remainder"] == "[3G*8809" and d.fields["dropped_bytes"] == 0
    assert [e.kind for e in d.events if e.kind == "sos"] == ["sos"]
    assert d.reply == lk + b"[3G*880900242*0002*AL]" + lk


def test_unbalanced_open_bracket_with_a_right_length_ends_at_the_declared_length() -> None:
    al = wifi_al(["[Home", "Guest"])
    d = stream(al + build_frame("3G", WID, None, "LK"))
    assert d.fields["types"] == ["AL", "LK"]
    assert d.fields["frames"][0]["wifi"][0]["ssid"] == "[Home"
    assert d.fields["frames"][0]["length_ok"] is True


def test_unbalanced_open_bracket_with_a_wrong_length_ends_where_the_next_frame_starts() -> None:
    al = wifi_al(["[Home"], length=0x200)
    framer = WatchFramer()
    assert framer.feed(al) == []  # nothing says where it ends yet...
    lk = build_frame("3G", WID, None, "LK")
    assert framer.feed(lk) == [al, lk]  # ...until the next frame's header does
    assert framer.dropped_bytes == 0


def test_unbalanced_close_bracket_cuts_the_ssids_but_keeps_the_sos() -> None:
    al = wifi_al(["Home]", "Guest"], length=0x200)
    d = stream(al)
    assert d.fields["types"] == ["AL"]
    assert d.fields["frames"][0]["sos"] is True and d.fields["frames"][0]["towers_incomplete"] is True
    assert d.reply == b"[3G*880900242*0002*AL]"


def test_a_frame_cut_short_is_still_dropped_for_the_next_header() -> None:
    lk = build_frame("3G", WID, None, "LK")
    framer = WatchFramer(max_frame_bytes=64)
    assert framer.feed(b"[3G*880900242*0009*LK,0,[x" + lk) == [lk]
    assert framer.dropped_frames == 1


ssid = st.text(alphabet="ab []", min_size=1, max_size=8)


def balanced(s: str) -> bool:
    depth = 0
    for c in s:
        depth += {"[": 1, "]": -1}.get(c, 0)
        if depth < 0:
            return False
    return depth == 0


@given(st.lists(st.lists(ssid.filter(balanced), max_size=4), min_size=1, max_size=4), st.data())
def test_balanced_ssids_frame_whole_whatever_the_length_and_split(
    reports: list[list[str]], data: st.DataObject
) -> None:
    frames = [wifi_al(s, length=data.draw(st.one_of(st.none(), st.integers(0, 0xFFFF)))) for s in reports]
    whole = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(whole)), max_size=6)))
    framer = WatchFramer(max_frame_bytes=1024)
    got: list[bytes] = []
    for a, b in zip([0, *cuts], [*cuts, len(whole)], strict=True):
        got.extend(framer.feed(whole[a:b]))
    assert got == frames and framer.pending == b""
    assert all(tcp(f).fields["sos"] is True for f in got)


@given(st.lists(st.lists(ssid.filter(lambda s: "]" not in s), max_size=4), min_size=1, max_size=4))
def test_open_brackets_frame_whole_when_the_length_is_right(reports: list[list[str]]) -> None:
    frames = [wifi_al(s) for s in reports]
    framer = WatchFramer(max_frame_bytes=1024)
    assert framer.feed(b"".join(frames)) == frames


@given(st.lists(st.lists(ssid, max_size=4), min_size=1, max_size=4), st.data())
def test_every_sos_survives_any_ssids(reports: list[list[str]], data: st.DataObject) -> None:
    """Whatever the SSIDs and lengths, each report's SOS comes out once its next frame arrives."""
    frames = [wifi_al(s, length=data.draw(st.one_of(st.none(), st.integers(0, 0xFFFF)))) for s in reports]
    lk = build_frame("3G", WID, None, "LK")
    d = stream(b"".join(f + lk for f in frames))
    assert d.fields["types"].count("AL") == len(frames)
    assert sum(e.kind == "sos" for e in d.events) == len(frames)


# ------------------------------------------------------------------------------ the TCP listener


async def test_sos_with_bracketed_ssid_through_the_listener() -> None:
    sink = DecodingSink(registry.get("watch.tcp"))
    srv = WatchServer("127.0.0.1", 0, sink, lambda wid: wid == WID, idle_timeout_s=30.0, max_connections=4)
    async with srv:
        r, w = await asyncio.open_connection("127.0.0.1", srv.port)
        cut = LG_AL.index(b"[LG") + 5  # a read boundary inside the SSID's brackets
        for chunk in (b"[3G*880900242*0002*LK]", LG_AL[:cut], LG_AL[cut:]):
            w.write(chunk)
            await w.drain()
            await asyncio.sleep(0.01)
        async with asyncio.timeout(10):
            assert await r.readexactly(44) == b"[3G*880900242*0002*LK][3G*880900242*0002*AL]"
        await sink.until(lambda: len(sink.decoded) == 2)
        assert sink.errors == []
        al = sink.decoded[1]
        assert al.fields["type"] == "AL" and al.fields["wifi"][4]["ssid"] == "[LG_Wall-Mount A/C]e725"
        assert [e.kind for e in al.events if e.kind == "sos"] == ["sos"]
        w.close()


# every watch profile of the registry (walked: the ones on the watch TCP listener)
@pytest.mark.parametrize("profile", sorted(n for n, p in registry.profiles().items() if p.transport == "tcp"))
def test_profiles_use_the_same_framing(profile: str) -> None:
    p = registry.get(profile)
    assert p.framer is not None
    assert p.framer().feed(LG_UD) == [LG_UD]


def test_escaped_binary_counts_one_byte_per_pair_toward_the_declared_length() -> None:
    # github traccar/traccar WatchFrameDecoderTest: 0x000e counts the unescaped content
    voice = b"[CS*1234567890*000e*TK,#!AMR}\x01}\x02}\x03}\x04}\x05\xff]"
    assert WatchFramer().feed(voice) == [voice]
    assert parse_frame(voice).content == b"TK,#!AMR}[],*\xff" and parse_frame(voice).length_ok
    # with an unbalanced '[' only the declared length can end it: unescaped (4) or raw (6) bytes
    for declared in (b"0004", b"0006"):
        f = b"[CS*1234567890*" + declared + b"*[}\x03}\x01x]"
        assert WatchFramer().feed(f + b"[CS") == [f]
    assert WatchFramer().feed(b"[CS*1234567890*0005*[}\x03}\x01x][CS") == []


def test_a_large_frame_over_many_small_reads() -> None:
    body = ("UD," + "a," * 8000)[:16_000]
    f = build_frame("3G", WID, None, body)
    framer = WatchFramer(max_frame_bytes=16_384)
    for i in range(0, len(f), 7):  # resumes where it stopped: ~2,300 reads stay well under a second
        out = framer.feed(f[i : i + 7])
    assert out == [f]
