"""Cut a watch TCP byte stream into ``[...]`` frames, whatever the read boundaries.

Content bytes ``[ ] , * }`` are escaped by the watch (``0x7D 0x01..0x05``), so a raw ``[``
always starts a frame and a raw ``]`` always ends one: framing never trusts the declared
length (often wrong). Junk outside frames is dropped; a frame longer than ``max_frame_bytes``
is dropped whole; an unfinished frame interrupted by a new ``[`` is dropped. Dropped bytes are
counted, never emitted.
"""

from __future__ import annotations

OPEN = 0x5B  # [
CLOSE = 0x5D  # ]


class WatchFramer:
    def __init__(self, max_frame_bytes: int = 16_384) -> None:
        self._max = max_frame_bytes
        self._buf = bytearray()
        self.dropped_bytes = 0
        self.dropped_frames = 0

    @property
    def pending(self) -> bytes:
        return bytes(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        out: list[bytes] = []
        buf = self._buf
        buf += data
        while buf:
            start = buf.find(OPEN)
            if start < 0:
                self.dropped_bytes += len(buf)
                buf.clear()
                break
            if start:
                self.dropped_bytes += start
                del buf[:start]
            end = buf.find(CLOSE, 1)
            restart = buf.find(OPEN, 1)
            if restart > 0 and (end < 0 or restart < end):
                self._drop(restart)
                continue
            if end < 0:
                if len(buf) > self._max:
                    self._drop(len(buf))
                break
            if end + 1 > self._max:
                self._drop(end + 1)
                continue
            out.append(bytes(buf[: end + 1]))
            del buf[: end + 1]
        return out

    def _drop(self, n: int) -> None:
        self.dropped_bytes += n
        self.dropped_frames += 1
        del self._buf[:n]
