"""Reading table rows straight from the pages of a damaged SQLite file (and its WAL).

The last resort of the salvage, for when SQLite itself cannot walk the ``records`` table: the header
page (written at every checkpoint, so the page a power cut most likely tears) or an interior page
is damaged.  Every page that looks like a table b-tree leaf is decoded cell by cell following the
file format (https://www.sqlite.org/fileformat2.html): varints, record headers, serial types,
overflow chains.  The newest committed copy of a page in the WAL wins over the one in the file.
Nothing here trusts the file: every length and page number is bounds-checked, and a cell that does
not decode is skipped.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

_MAGIC = b"SQLite format 3\x00"
_WAL_MAGIC = (0x377F0682, 0x377F0683)
_TABLE_LEAF = 0x0D
_PAGE_SIZES = (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536)

Value = int | float | str | bytes | None


class _Bad(Exception):
    """A cell or page that does not decode."""


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    """(value, bytes used) of the SQLite varint at ``pos``."""
    value = 0
    for i in range(8):
        if pos + i >= len(buf):
            raise _Bad("varint past the end")
        b = buf[pos + i]
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            return value, i + 1
    if pos + 8 >= len(buf):
        raise _Bad("varint past the end")
    return (value << 8) | buf[pos + 8], 9


def _decode_record(payload: bytes) -> list[Value]:
    header_len, pos = _varint(payload, 0)
    if header_len < pos or header_len > len(payload):
        raise _Bad("record header length")
    types: list[int] = []
    while pos < header_len:
        t, n = _varint(payload, pos)
        types.append(t)
        pos += n
    body = header_len
    values: list[Value] = []
    for t in types:
        if t == 0:
            values.append(None)
        elif 1 <= t <= 6:
            size = (1, 2, 3, 4, 6, 8)[t - 1]
            chunk = payload[body : body + size]
            if len(chunk) != size:
                raise _Bad("integer past the end")
            values.append(int.from_bytes(chunk, "big", signed=True))
            body += size
        elif t == 7:
            chunk = payload[body : body + 8]
            if len(chunk) != 8:
                raise _Bad("float past the end")
            values.append(struct.unpack(">d", chunk)[0])
            body += 8
        elif t in (8, 9):
            values.append(t - 8)
        elif t >= 12:
            size = (t - 12) // 2
            chunk = payload[body : body + size]
            if len(chunk) != size:
                raise _Bad("blob or text past the end")
            if t % 2:
                try:
                    values.append(chunk.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    raise _Bad("text is not UTF-8") from exc
            else:
                values.append(bytes(chunk))
            body += size
        else:
            raise _Bad(f"reserved serial type {t}")
    if body != len(payload):
        raise _Bad("record length mismatch")
    return values


class _Pages:
    """Page access over the database file, preferring the newest committed copy in the WAL."""

    def __init__(self, db: BinaryIO, wal: BinaryIO | None, page_size_hint: int) -> None:
        self.db = db
        self.wal = wal
        header = db.read(100)
        db.seek(0, 2)
        self.db_size = db.tell()
        size = 0
        reserved = 0
        if len(header) == 100 and header[:16] == _MAGIC:
            raw = int.from_bytes(header[16:18], "big")
            size = 65536 if raw == 1 else raw
            reserved = header[20]
        self.frames: dict[int, int] = {}
        self.salts = b""
        wal_size = self._read_wal_header()
        if size not in _PAGE_SIZES:
            size = wal_size if wal_size in _PAGE_SIZES else page_size_hint
            reserved = 0
        if wal_size and wal_size != size:
            self.frames = {}
        else:
            self._index_wal(size)
        self.page_size = size
        self.usable = size - reserved
        self.page_count = max(self.db_size // size, max(self.frames, default=0))

    def _read_wal_header(self) -> int:
        if self.wal is None:
            return 0
        self.wal.seek(0)
        head = self.wal.read(32)
        if len(head) < 32 or int.from_bytes(head[0:4], "big") not in _WAL_MAGIC:
            return 0
        self.salts = head[16:24]
        return int.from_bytes(head[8:12], "big")

    def _index_wal(self, size: int) -> None:
        if self.wal is None or not self.salts or size not in _PAGE_SIZES:
            return
        pending: dict[int, int] = {}
        offset = 32
        while True:
            self.wal.seek(offset)
            head = self.wal.read(24)
            if len(head) < 24 or head[8:16] != self.salts:
                break
            pgno = int.from_bytes(head[0:4], "big")
            if pgno == 0:
                break
            pending[pgno] = offset + 24
            if int.from_bytes(head[4:8], "big"):  # a commit frame: everything so far is committed
                self.frames.update(pending)
                pending = {}
            offset += 24 + size

    def page(self, pgno: int) -> bytes:
        if not 1 <= pgno <= self.page_count:
            raise _Bad("page number out of range")
        where = self.frames.get(pgno)
        if where is not None and self.wal is not None:
            self.wal.seek(where)
            data = self.wal.read(self.page_size)
        else:
            self.db.seek((pgno - 1) * self.page_size)
            data = self.db.read(self.page_size)
        if len(data) != self.page_size:
            raise _Bad("short page")
        return data


def _cell_payload(pages: _Pages, page: bytes, start: int) -> tuple[int, bytes]:
    usable = pages.usable
    size, n1 = _varint(page, start)
    rowid, n2 = _varint(page, start + n1)
    if rowid >= 1 << 63:
        rowid -= 1 << 64
    pos = start + n1 + n2
    max_local = usable - 35
    if size <= max_local:
        local = size
    else:
        min_local = ((usable - 12) * 32 // 255) - 23
        k = min_local + (size - min_local) % (usable - 4)
        local = k if k <= max_local else min_local
    if pos + local > usable:
        raise _Bad("cell past the page")
    payload = bytearray(page[pos : pos + local])
    if local < size:
        if pos + local + 4 > usable:
            raise _Bad("overflow pointer past the page")
        next_page = int.from_bytes(page[pos + local : pos + local + 4], "big")
        hops = 0
        while len(payload) < size:
            hops += 1
            if next_page == 0 or hops > size // (usable - 4) + 2:
                raise _Bad("broken overflow chain")
            overflow = pages.page(next_page)
            take = min(usable - 4, size - len(payload))
            payload += overflow[4 : 4 + take]
            next_page = int.from_bytes(overflow[0:4], "big")
    return rowid, bytes(payload)


def table_rows(
    db_path: Path, *, columns: int, page_size_hint: int, keep_going: Callable[[], bool] | None = None
) -> Iterator[tuple[int, list[Value]]]:
    """(rowid, values) of every decodable table-leaf cell with ``columns`` values, in page order.

    Freed pages may still hold older copies of rows: the caller decides which copy to keep.
    ``keep_going`` is asked before every page: when it answers false the walk ends there (a time
    limit or a stop request; a large file may have long stretches without a matching row).
    """
    wal_path = Path(str(db_path) + "-wal")
    with open(db_path, "rb") as db:
        wal = open(wal_path, "rb") if wal_path.exists() else None  # noqa: SIM115 - closed below
        try:
            pages = _Pages(db, wal, page_size_hint)
            for pgno in range(1, pages.page_count + 1):
                if keep_going is not None and not keep_going():
                    return
                try:
                    page = pages.page(pgno)
                except _Bad:
                    continue
                base = 100 if pgno == 1 else 0
                if page[base] != _TABLE_LEAF:
                    continue
                cells = int.from_bytes(page[base + 3 : base + 5], "big")
                if base + 8 + 2 * cells > pages.usable:
                    continue
                for i in range(cells):
                    ptr = int.from_bytes(page[base + 8 + 2 * i : base + 10 + 2 * i], "big")
                    if not base + 8 + 2 * cells <= ptr < pages.usable:
                        continue
                    try:
                        rowid, payload = _cell_payload(pages, page, ptr)
                        values = _decode_record(payload)
                    except _Bad:
                        continue
                    if len(values) == columns:
                        yield rowid, values
        finally:
            if wal is not None:
                wal.close()
