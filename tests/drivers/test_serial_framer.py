"""The serial line framer alone: feed(bytes) -> lines."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from drivers.serial.framer import LineFramer


def feed_all(framer: LineFramer, chunks: list[bytes]) -> list[bytes]:
    out: list[bytes] = []
    for c in chunks:
        out.extend(framer.feed(c))
    return out


def test_lines_keep_their_terminator_and_partial_lines_wait() -> None:
    f = LineFramer(b"\r\n")
    assert f.feed(b"{0,1\r\n{0,") == [b"{0,1\r\n"]
    assert f.pending == b"{0,"
    assert f.feed(b"2\r") == []
    assert f.feed(b"\n") == [b"{0,2\r\n"]
    assert f.pending == b""


def test_start_marker_splits_noise_off_records_and_keeps_it() -> None:
    f = LineFramer(b"\r\n", start=(b"{0",))
    data = b"\x00\xff\xfe{0,16,Wk,1\r\nirrelevant\r\n\x80\x81\r\n{0,16,Wk,2\r\n"
    assert f.feed(data) == [
        b"\x00\xff\xfe",
        b"{0,16,Wk,1\r\n",
        b"irrelevant\r\n",
        b"\x80\x81\r\n",
        b"{0,16,Wk,2\r\n",
    ]
    assert f.dropped_lines == 0 and f.dropped_bytes == 0


def test_oversize_line_is_dropped_whole_then_framing_resumes() -> None:
    f = LineFramer(b"\n", max_length=16)
    assert f.feed(b"x" * 40) == []
    assert f.pending == b""
    assert f.feed(b"yyy\nok\n") == [b"ok\n"]
    assert f.dropped_lines == 1
    assert f.dropped_bytes == 44


def test_line_exactly_at_the_limit_passes() -> None:
    f = LineFramer(b"\n", max_length=8)
    assert f.feed(b"1234567\n12345678\n") == [b"1234567\n"]


lines = st.lists(
    st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"") + b"\r\n"), min_size=1, max_size=8
)


@given(lines, st.data())
def test_any_split_yields_the_same_lines(items: list[bytes], data: st.DataObject) -> None:
    stream = b"".join(items) + b"tail"
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    chunks = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    whole = LineFramer(b"\r\n", max_length=32, start=(b"{0", b"$"))
    split = LineFramer(b"\r\n", max_length=32, start=(b"{0", b"$"))
    assert feed_all(split, chunks) == whole.feed(stream)
    assert split.pending == whole.pending
    assert split.dropped_bytes == whole.dropped_bytes


@given(st.lists(st.binary(max_size=64), max_size=10))
def test_random_bytes_never_raise_and_stay_bounded(chunks: list[bytes]) -> None:
    f = LineFramer(b"\n", max_length=32)
    for line in feed_all(f, chunks):
        assert line.endswith(b"\n") and len(line) <= 32
    assert len(f.pending) <= 32
