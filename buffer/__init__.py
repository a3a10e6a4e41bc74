"""The durable outbox: opaque records in priority lanes, persisted before acknowledgement.

A leaf package: it knows nothing of readings, MQTT or devices; it stores bytes.
"""

from buffer.errors import (
    BufferError,
    CorruptDatabaseError,
    DiskFullError,
    InvalidRecordError,
    OutboxClosedError,
    OutboxError,
    StorageError,
    UnknownRecordError,
)
from buffer.outbox import Outbox
from buffer.ports import Queue, RecordLog
from buffer.record import Lane, Record, State, Stored
from buffer.results import AckResult, Claim, MaintenanceResult, OutboxStats, RecoveryReport
from buffer.settings import OutboxSettings

__all__ = [
    "AckResult",
    "BufferError",
    "Claim",
    "CorruptDatabaseError",
    "DiskFullError",
    "InvalidRecordError",
    "Lane",
    "MaintenanceResult",
    "Outbox",
    "OutboxClosedError",
    "OutboxError",
    "OutboxSettings",
    "OutboxStats",
    "Queue",
    "Record",
    "RecordLog",
    "RecoveryReport",
    "State",
    "StorageError",
    "Stored",
    "UnknownRecordError",
]
