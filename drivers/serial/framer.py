"""Cut a serial byte stream into lines: ``feed(bytes) -> lines`` (terminator included).

Bounded: a line longer than ``max_length`` bytes is dropped whole (and everything up to the
next terminator with it); dropped bytes and lines are counted. With ``start`` markers, noise
glued in front of a record (wrong-baud bytes, a WB-3000's trailing signal running into the next
record) is split off as a frame of its own, so that the record survives; noise is still
emitted, never silently lost: the decoder rejects it and the gateway counts and keeps it.
"""

from __future__ import annotations


class LineFramer:
    def __init__(
        self, terminator: bytes = b"\n", *, max_length: int = 1024, start: tuple[bytes, ...] = ()
    ) -> None:
        if not terminator:
            raise ValueError("terminator must not be empty")
        self._end = terminator[-1:]
        self._max = max_length
        self._start = start
        self._buf = bytearray()
        self._skipping = False
        self.dropped_bytes = 0
        self.dropped_lines = 0

    @property
    def pending(self) -> bytes:
        return bytes(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        self._buf += data
        while True:
            i = self._buf.find(self._end)
            if i < 0:
                break
            line = bytes(self._buf[: i + 1])
            del self._buf[: i + 1]
            if self._skipping:
                self._skipping = False
                self.dropped_bytes += len(line)
                continue
            out.extend(self._accept(line))
        if len(self._buf) > self._max or (self._skipping and self._buf):
            if not self._skipping:
                self.dropped_lines += 1
            self._skipping = True
            self.dropped_bytes += len(self._buf)
            self._buf.clear()
        return out

    def _accept(self, line: bytes) -> list[bytes]:
        if len(line) > self._max:
            self._drop(line)
            return []
        if self._start:
            at = max(line.rfind(m) for m in self._start)
            if at > 0:
                return [line[:at], line[at:]]
        return [line]

    def _drop(self, data: bytes) -> None:
        self.dropped_bytes += len(data)
        self.dropped_lines += 1
