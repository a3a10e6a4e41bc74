"""The outbox's two jobs as two narrow interfaces.

``buffer.outbox.Outbox`` is one component over one SQLite connection and one database thread,
and it does two jobs. Callers take the one they need:

* :class:`Queue` -- records waiting to go to the county: put, claim under a lease, ack, release,
  lease expiry, in-flight batches, the offline export and its receipt, statistics. The uplinks'
  drainer and the gateway's intake use this.
* :class:`RecordLog` -- the stored records as a log to read and revise: one record, a key's
  history, records without a key, listings by state/stream/kind, revising a record in place
  (same id, sent again). The kiosk history, re-attribution and re-timing use this.

``Outbox.queue`` and ``Outbox.records`` are the same outbox seen through each interface (no
second connection: the daemon still opens one file). Lifecycle, maintenance and recovery stay
on ``Outbox`` itself, for its owner (the daemon) and the CLI.
"""

from __future__ import annotations

import builtins
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from types import EllipsisType
from typing import Protocol

from buffer.record import Record, State, Stored
from buffer.results import AckResult, Claim, OutboxStats


class Queue(Protocol):
    """The outbox as a durable priority queue (see docs/buffer.md, *States*)."""

    async def put(self, record: Record, *, durable: bool | None = None) -> int: ...

    async def put_many(
        self, records: Sequence[Record], *, durable: bool | None = None
    ) -> builtins.list[int]: ...

    async def claim(
        self,
        *,
        stream: str | None = None,
        max_count: int = 500,
        max_bytes: int = 256_000,
        lease_s: float = 30.0,
    ) -> Claim | None: ...

    async def ack(
        self, batch_id: str, accepted: Iterable[str], rejected: Mapping[str, str] | None = None
    ) -> AckResult: ...

    async def release(self, batch_id: str) -> int: ...

    async def expire_leases(self) -> int: ...

    async def inflight_batches(self) -> builtins.list[tuple[str, str, int, State, float | None]]: ...

    def export_pending(self, *, since: float | None = None) -> AsyncIterator[Stored]: ...

    async def mark_delivered(self, ids: Iterable[str], *, exported_at: float | None = None) -> int: ...

    async def stats(self) -> OutboxStats: ...


class RecordLog(Protocol):
    """The outbox as the log of stored records, read and revised (see docs/buffer.md, *Revisions*)."""

    async def get(self, id: str) -> Stored | None: ...

    async def history(
        self, key: str, *, since: float | None = None, limit: int = 100, kinds: Sequence[str] | None = None
    ) -> builtins.list[Stored]: ...

    async def unattributed(
        self, *, stream: str | None = None, since: float | None = None, limit: int = 100
    ) -> builtins.list[Stored]: ...

    async def list(
        self,
        *,
        state: State | None = None,
        stream: str | None = None,
        kind: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Stored]: ...

    async def revise(self, id: str, payload: bytes, *, key: str | EllipsisType | None = ...) -> None: ...
