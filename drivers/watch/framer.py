"""Cut a watch TCP byte stream into ``[...]`` frames, whatever the read boundaries.

Frames are cut as Traccar cuts them, by bracket depth: content may hold raw ``[`` and ``]`` (a
Wi-Fi SSID such as ``[LG_Wall-Mount A/C]e725`` in a ``UD`` or ``AL`` report), so a frame ends at
the ``]`` that closes its opening ``[``. Two more rules keep an unbalanced SSID (``[Home``) from
swallowing the frames after it:

* the declared length is a hint: a ``]`` right where the declared content length ends closes
  the frame whatever the depth (the length is often wrong in the field, so it never cuts a
  frame that the depth rule would have closed sooner, and a wrong one costs nothing);
* a ``[`` that starts a well-formed header (``[VV*ID*LLLL*``) starts a new frame: if the byte
  before it is ``]`` the frame before ends there, otherwise that frame was cut short and is
  dropped.

A frame whose own header is not well formed gets no nesting (the first ``]`` ends it, a ``[``
interrupts it): the codec refuses it anyway. Junk outside frames is dropped; a frame longer than
``max_frame_bytes`` is dropped whole (its bytes are discarded as they arrive, its end is still
found by the same rules, so the bytes after it frame exactly as they would have). Every decision
depends only on the bytes up to the one being decided, so any split of a stream into reads gives
the same frames. Dropped bytes are counted, never emitted. Escaped binary content
(``0x7D 0x01..0x05``) never holds a raw bracket and counts one byte per pair toward the length.
"""

from __future__ import annotations

import re

OPEN = 0x5B  # [
CLOSE = 0x5D  # ]
STAR = 0x2A  # *
ESCAPE = 0x7D  # }
ESCAPED = frozenset(range(1, 6))
MAX_ID_LENGTH = 32
#: A header with an index is at most 2 + 1 + 32 + 1 + 5 + 5 + 1 bytes; frames must fit more.
MIN_FRAME_BYTES = 64

_ALNUM = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_HEX = frozenset(b"0123456789ABCDEFabcdef")

_BRACKET = re.compile(rb"[\[\]]")
_SPECIAL = re.compile(rb"[\[\]}]")

#: Results of a header scan that are not a position.
NO = -1  # these bytes cannot be a header
MORE = -2  # not decided yet: need more bytes


def scan_prefix(buf: bytes | bytearray, i: int) -> int:
    """Where a ``[VV*ID*LLLL*`` header starting at ``buf[i]`` ends, or ``NO`` / ``MORE``."""
    n = len(buf)
    k = i + 1
    for _ in range(2):
        if k >= n:
            return MORE
        if buf[k] not in _ALNUM:
            return NO
        k += 1
    if k >= n:
        return MORE
    if buf[k] != STAR:
        return NO
    k += 1
    length = 0
    while True:
        if k >= n:
            return MORE
        b = buf[k]
        if b == STAR and length:
            break
        if b not in _ALNUM or length == MAX_ID_LENGTH:
            return NO
        length += 1
        k += 1
    k += 1
    for _ in range(4):
        if k >= n:
            return MORE
        if buf[k] not in _HEX:
            return NO
        k += 1
    if k >= n:
        return MORE
    return k + 1 if buf[k] == STAR else NO


def scan_header(buf: bytes | bytearray, i: int) -> tuple[int, int] | int:
    """``(content start, declared length)`` of the frame starting at ``buf[i]``, or ``NO`` / ``MORE``.

    An index (``[VV*ID*IDX*LLLL*``, ZJ watches) is recognised as the codec recognises it: four
    hex digits and ``*`` right after the first length field.
    """
    p = scan_prefix(buf, i)
    if p < 0:
        return p
    first = int(buf[p - 5 : p - 1], 16)
    for k in range(5):
        if p + k >= len(buf):
            return MORE
        b = buf[p + k]
        if (k < 4 and b not in _HEX) or (k == 4 and b != STAR):
            return p, first
    return p + 5, int(buf[p : p + 4], 16)


class WatchFramer:
    def __init__(self, max_frame_bytes: int = 16_384) -> None:
        if max_frame_bytes < MIN_FRAME_BYTES:
            raise ValueError(f"max_frame_bytes must be at least {MIN_FRAME_BYTES}")
        self._max = max_frame_bytes
        self._buf = bytearray()
        self.dropped_bytes = 0
        self.dropped_frames = 0
        self._start_frame(False)

    @property
    def pending(self) -> bytes:
        return bytes(self._buf)

    def _start_frame(self, in_frame: bool) -> None:
        self._in_frame = in_frame  # self._buf[0] is the '[' of the current frame
        self._head: tuple[int, int] | None = None  # content start, declared length (valid header)
        self._legacy = False  # the frame's header is not well formed: no nesting
        self._pos = 1  # next byte of self._buf to examine
        self._off = 0  # bytes of the current frame already discarded (too long)
        self._depth = 1
        self._unescaped = 0  # content bytes so far, an escape pair counting one
        self._prev = OPEN

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        buf = self._buf
        buf += data
        while buf:
            if not self._in_frame:
                start = buf.find(OPEN)
                if start < 0:
                    self.dropped_bytes += len(buf)
                    buf.clear()
                    break
                self.dropped_bytes += start
                del buf[:start]
                self._start_frame(True)
            end = self._scan()
            if end is None:
                if self._off + self._pos > self._max:  # too long: discard as it arrives
                    self.dropped_bytes += self._pos
                    self._off += self._pos
                    del buf[: self._pos]
                    self._pos = 0
                break
            if end < 0:  # cut short by a new frame's header
                self._drop(-end)
            elif self._off + end > self._max:
                self._drop(end)
            else:
                out.append(bytes(buf[:end]))
                del buf[:end]
            self._start_frame(False)
        return out

    def _drop(self, n: int) -> None:
        self.dropped_bytes += n
        self.dropped_frames += 1
        del self._buf[:n]

    def _scan(self) -> int | None:
        """Advance over the current frame: its length when it ends, ``-n`` when its first ``n``
        bytes are an interrupted frame, ``None`` when more bytes are needed."""
        buf = self._buf
        if self._head is None and not self._legacy:
            head = scan_header(buf, 0)
            if head == MORE:
                return None
            if isinstance(head, tuple):
                self._head = head
                self._pos = head[0]
                self._prev = STAR
            else:
                self._legacy = True
        if self._legacy:  # no nesting: the first ']' ends it, a '[' interrupts it
            m = _BRACKET.search(buf, self._pos)
            if m is None:
                self._pos = len(buf)
                return None
            return m.start() + 1 if buf[m.start()] == CLOSE else -m.start()
        while True:
            m = _SPECIAL.search(buf, self._pos)
            end = len(buf) if m is None else m.start()
            if end > self._pos:  # ordinary content bytes
                self._unescaped += end - self._pos
                self._prev = buf[end - 1]
                self._pos = end
            if m is None:
                return None
            pos, b = end, buf[end]
            if b == ESCAPE:
                if pos + 1 >= len(buf):
                    return None  # an escape pair or a plain '}': the next byte says
                step = 2 if buf[pos + 1] in ESCAPED else 1
                self._unescaped += 1
                self._prev = buf[pos + step - 1]
                self._pos = pos + step
                continue
            if b == OPEN:
                new = scan_prefix(buf, pos)
                if new == MORE:
                    return None
                if new != NO:
                    return pos if self._prev == CLOSE else -pos
                self._depth += 1
            else:
                assert self._head is not None
                start, declared = self._head
                self._depth -= 1
                raw = self._off + pos - start
                if self._depth == 0 or declared in (raw, self._unescaped):
                    return pos + 1
            self._unescaped += 1
            self._prev = b
            self._pos = pos + 1
