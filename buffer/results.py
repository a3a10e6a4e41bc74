"""What the outbox hands back: claims, ack results, statistics, maintenance and recovery reports."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from buffer.record import Stored


def _empty() -> Mapping[str, int]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Claim:
    """A batch leased for delivery: every item shares ``stream``; ``batch_id`` is stable across re-sends."""

    batch_id: str
    stream: str
    items: list[Stored]
    lease_until: float = 0.0
    resent: bool = False  # True when this is an expired/released batch sent again under its old id

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.items]


@dataclass(frozen=True, slots=True)
class AckResult:
    delivered: int = 0
    rejected: int = 0
    requeued: int = 0  # rows of the batch neither accepted nor rejected, or revised while in flight
    unknown_ids: int = 0  # ids in the ack that are not in this batch
    stale: bool = False  # the batch id matched no in-flight (or expired) row: ignored


@dataclass(frozen=True, slots=True)
class RecoveryReport:
    """What happened when a damaged (or missing, or emptied) database was found on open."""

    moved_to: Path | None  # None: nothing to move aside (the file was missing or empty)
    recovered_rows: int
    unreadable_ranges: int
    detail: str
    at: float

    def alert_text(self) -> str:
        if self.moved_to is None:
            return f"outbox database was lost: {self.detail}"
        return (
            f"outbox database was damaged: moved aside to {self.moved_to.name}; "
            f"{self.recovered_rows} rows recovered ({self.detail})"
        )


@dataclass(frozen=True, slots=True)
class MaintenanceResult:
    pruned: int = 0  # delivered/rejected rows removed after their retention period
    ttl_expired: Mapping[str, int] = field(default_factory=_empty)  # per kind
    quota_pruned: int = 0  # delivered/rejected rows removed early for quota
    dropped: Mapping[str, int] = field(default_factory=_empty)  # undelivered telemetry per kind, for quota
    lease_expired: int = 0
    used_bytes: int = 0
    overflow: bool = False


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """A snapshot for `/api/v1/health` and `hutgw status`.

    ``depth`` maps lane name (``alerts``, ``clinical``, ``telemetry``) -> state value -> rows.
    Counters marked *persistent* survive restarts (they live in the database); the others count
    since this process opened the outbox.
    """

    depth: Mapping[str, Mapping[str, int]]
    oldest_pending_age_s: float | None
    bytes_on_disk: int  # database + WAL files
    used_bytes: int  # live pages (what the quota is checked against)
    quota_bytes: int
    bytes_written: int | None  # write_bytes of this process since open (/proc/self/io); None if unavailable
    seq_high: int  # the last sequence number handed out
    pruned: int  # persistent: retention + quota prunes of delivered/rejected rows
    dropped: Mapping[str, int]  # persistent: undelivered rows dropped for quota, per kind
    ttl_expired: Mapping[str, int]  # persistent: undelivered rows expired by TTL, per kind
    lease_expired: int
    duplicates: int  # put() of an id already stored
    stale_acks: int
    recovered_rows: int | None  # rows salvaged from a damaged file on this open, None if none was found
    overflow: bool  # over quota with only alerts/clinical rows left to drop
    puts: int
    commits: int  # group-commit transactions since open
    fsyncs: int = 0  # fsyncs of the write-ahead log since open (each covers every commit before it)
    unsynced_commits: int = 0  # commits a power cut could still undo (telemetry, claims, acks)

    @property
    def pending(self) -> int:
        return sum(by_state.get("pending", 0) for by_state in self.depth.values())

    @property
    def inflight(self) -> int:
        return sum(by_state.get("inflight", 0) for by_state in self.depth.values())

    @property
    def ttl_expired_total(self) -> int:
        return sum(self.ttl_expired.values())

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    def as_dict(self) -> dict[str, object]:
        """JSON-ready form."""
        return {
            "depth": {lane: dict(s) for lane, s in self.depth.items()},
            "pending": self.pending,
            "inflight": self.inflight,
            "oldest_pending_age_s": self.oldest_pending_age_s,
            "bytes_on_disk": self.bytes_on_disk,
            "used_bytes": self.used_bytes,
            "quota_bytes": self.quota_bytes,
            "bytes_written": self.bytes_written,
            "seq_high": self.seq_high,
            "pruned": self.pruned,
            "dropped": dict(self.dropped),
            "ttl_expired": dict(self.ttl_expired),
            "lease_expired": self.lease_expired,
            "duplicates": self.duplicates,
            "stale_acks": self.stale_acks,
            "recovered_rows": self.recovered_rows,
            "overflow": self.overflow,
            "puts": self.puts,
            "commits": self.commits,
            "fsyncs": self.fsyncs,
            "unsynced_commits": self.unsynced_commits,
        }
