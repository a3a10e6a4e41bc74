"""Settings of the outbox (plain frozen dataclass; the gateway maps its pydantic config onto it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from buffer.record import Lane

DAY_S = 86_400.0


def _no_ttl() -> Mapping[str, float]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    """How the outbox stores, batches and prunes.

    ``group_commit_ms``: the longest a ``put`` waits for other writers to share its transaction.
    ``fsync_lanes``: lanes whose puts return only once their commit is fsynced (by default alerts
    and clinical readings; a caller that acknowledges a record to someone asks for it whatever the
    lane: ``put(..., durable=True)``).  Other commits (telemetry nobody acknowledged, claims, acks,
    pruning) reach the operating system at once, so a crash of the process cannot undo them, and
    are fsynced within ``unsynced_max_s``: a power cut can undo at most that much of them.
    ``quota_bytes``: soft limit on the live size of the database (used pages; the file is never
    vacuumed, freed pages are reused).  Over quota, ``maintain`` prunes delivered/rejected rows, then
    drops the oldest pending TELEMETRY rows down to ``quota_low_water`` of the quota; ALERTS and
    CLINICAL rows are never dropped (overflow is signalled instead).
    ``hard_limit_bytes``: optional hard cap on the database file, so the outbox can never fill the
    card: past it ``put`` fails with :class:`~buffer.errors.DiskFullError` (the caller then does not
    acknowledge the reading) until maintenance frees pages.  Leave it well above ``quota_bytes``.
    ``retention_s``: how long delivered (and rejected) rows are kept for history.
    ``ttl_s_by_kind``: undelivered rows of these kinds older than this are expired (counted).
    ``history_telemetry_rows``: how far back (in records) ``history`` looks for telemetry rows,
    which are not indexed by key to spare the SD card.
    ``salvage_max_s``: the longest the repair of a damaged file may take on open; rows it has not
    reached by then stay in the file moved aside (the report says so).
    ``keep_room_bytes``: room a put must leave, in the database file and on its file system, for
    claims, acks and maintenance: when the disk fills up, puts fail first
    (:class:`~buffer.errors.DiskFullError`) and the uplink goes on delivering what is stored.  Checked
    only when the file system has less than ``keep_room_bytes`` + 64 MiB free, or with
    ``max_page_count`` set.
    ``max_page_count``: optional ceiling on the database's pages (SQLite ``max_page_count``): a
    commit that needs more fails exactly as on a full disk (``SQLITE_FULL``).  Unlike
    ``hard_limit_bytes`` it stops claims and acks too; it caps the file where a partition cannot be
    sized, and lets tests fill the "disk" for real.
    """

    group_commit_ms: float = 4.0
    group_max_rows: int = 2000
    fsync_lanes: frozenset[Lane] = frozenset({Lane.ALERTS, Lane.CLINICAL})
    unsynced_max_s: float = 1.0
    quota_bytes: int = 512 * 1024 * 1024
    quota_low_water: float = 0.9
    hard_limit_bytes: int | None = None
    retention_s: float = 30 * DAY_S
    ttl_s_by_kind: Mapping[str, float] = field(default_factory=_no_ttl)
    maintain_interval_s: float | None = 300.0
    check_on_open: bool = True
    page_size: int = 1024
    wal_autocheckpoint_pages: int = 4000
    journal_size_limit_bytes: int = 8 * 1024 * 1024
    busy_timeout_s: float = 10.0
    read_chunk_rows: int = 500
    history_telemetry_rows: int = 200_000
    salvage_max_s: float = 600.0
    keep_room_bytes: int = 8 * 1024 * 1024
    max_page_count: int | None = None

    def __post_init__(self) -> None:
        if self.group_commit_ms < 0:
            raise ValueError("group_commit_ms must be >= 0")
        if not 0 < self.unsynced_max_s <= 60:
            raise ValueError("unsynced_max_s must be in (0, 60]")
        object.__setattr__(self, "fsync_lanes", frozenset(Lane(x) for x in self.fsync_lanes))
        if self.group_max_rows < 1:
            raise ValueError("group_max_rows must be >= 1")
        if self.quota_bytes <= 0:
            raise ValueError("quota_bytes must be > 0")
        if self.hard_limit_bytes is not None and self.hard_limit_bytes < 64 * self.page_size:
            raise ValueError("hard_limit_bytes must allow at least 64 pages")
        if not 0 < self.quota_low_water <= 1:
            raise ValueError("quota_low_water must be in (0, 1]")
        if self.retention_s < 0:
            raise ValueError("retention_s must be >= 0")
        if any(v < 0 for v in self.ttl_s_by_kind.values()):
            raise ValueError("ttl_s_by_kind values must be >= 0")
        if self.page_size not in (512, 1024, 2048, 4096, 8192, 16384, 32768, 65536):
            raise ValueError("page_size must be a power of two between 512 and 65536")
        if self.keep_room_bytes < 0:
            raise ValueError("keep_room_bytes must be >= 0")
        if self.max_page_count is not None and self.keep_room_bytes >= self.max_page_count * self.page_size:
            raise ValueError("keep_room_bytes must be smaller than max_page_count pages")
        if self.salvage_max_s <= 0:
            raise ValueError("salvage_max_s must be > 0")
        if self.max_page_count is not None and self.max_page_count < 16:
            raise ValueError("max_page_count must allow at least 16 pages")
        object.__setattr__(self, "ttl_s_by_kind", MappingProxyType(dict(self.ttl_s_by_kind)))
