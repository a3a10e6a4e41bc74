"""A Record Access Control Point server as the Pulse Oximeter Service specifies it (PLXS 1.0.1,
section 3.4; op codes and codes: brief section 8), for simulated peripherals.

Supported: "report stored records", "delete stored records" and "report number of stored
records" with the "all records" operator (the only one PLXS requires; any other is "operator
not supported", Null is "invalid operator", an operand where none belongs "invalid operand"),
and "abort operation". Stored records are indicated on the records characteristic, then the
response code. A write while the RACP's indications are off fails with ATT error 0xFD
(Client Characteristic Configuration Descriptor Improperly Configured), a request during a
running procedure with 0xFE (Procedure Already In Progress), as the GATT Specification
Supplement's common profile error codes say.

Knobs for failure tests: ``answers=False`` (the device takes the request and says nothing),
``supported`` (op codes), ``drop_after`` (the device hangs up after that many records),
``record_gap_s``.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bleak.exc import BleakError

from drivers.gatt import uuids
from tests.drivers.blesim.peripherals import SimPeripheral

RACP = uuids.RECORD_ACCESS_CONTROL_POINT

REPORT, DELETE, ABORT, COUNT = 0x01, 0x02, 0x03, 0x04
NULL, ALL_RECORDS = 0x00, 0x01
SUCCESS, OP_CODE_NOT_SUPPORTED, INVALID_OPERATOR, OPERATOR_NOT_SUPPORTED, INVALID_OPERAND = 1, 2, 3, 4, 5
NO_RECORDS_FOUND = 0x06


@dataclass
class RacpServer:
    records_uuid: str
    stored: list[bytes] = field(default_factory=list)
    answers: bool = True
    drop_after: int | None = None
    record_gap_s: float = 0.005
    supported: frozenset[int] = frozenset({REPORT, DELETE, ABORT, COUNT})
    requests: list[bytes] = field(default_factory=list)
    running: asyncio.Task[None] | None = None

    def on_write(self, p: SimPeripheral, uuid: str, value: bytes) -> None:
        if uuid != RACP:
            return
        if RACP not in p.subscribed:
            raise BleakError(
                "ATT error 0xFD: Client Characteristic Configuration Descriptor Improperly Configured"
            )
        busy = self.running is not None and not self.running.done()
        if busy and value[:1] != bytes((ABORT,)):
            raise BleakError("ATT error 0xFE: Procedure Already In Progress")
        self.requests.append(value)
        if not self.answers:
            return
        if busy and self.running is not None:
            self.running.cancel()
            self._respond(p, ABORT, SUCCESS)
            return
        task = asyncio.get_running_loop().create_task(self._procedure(p, value))
        self.running = task
        p.tasks.add(task)
        task.add_done_callback(p.tasks.discard)

    def _respond(self, p: SimPeripheral, request: int, code: int) -> None:
        p.notify(RACP, bytes((0x06, NULL, request, code)))

    async def _procedure(self, p: SimPeripheral, value: bytes) -> None:
        await asyncio.sleep(0.01)  # the write response goes first
        if len(value) < 2:
            self._respond(p, value[0] if value else 0, INVALID_OPERAND)
            return
        op, operator, operand = value[0], value[1], value[2:]
        if op not in self.supported:
            self._respond(p, op, OP_CODE_NOT_SUPPORTED)
            return
        if op == ABORT:
            code = SUCCESS if operator == NULL and not operand else INVALID_OPERATOR
            self._respond(p, op, code)
            return
        if op not in (REPORT, DELETE, COUNT):
            self._respond(p, op, OP_CODE_NOT_SUPPORTED)
            return
        if operator == NULL or operator > 0x06:
            self._respond(p, op, INVALID_OPERATOR)
            return
        if operator != ALL_RECORDS:
            self._respond(p, op, OPERATOR_NOT_SUPPORTED)
            return
        if operand:
            self._respond(p, op, INVALID_OPERAND)
            return
        if op == COUNT:
            p.notify(RACP, bytes((0x05, NULL)) + len(self.stored).to_bytes(2, "little"))
            return
        if not self.stored:
            self._respond(p, op, NO_RECORDS_FOUND)
            return
        if op == DELETE:
            self.stored.clear()
            self._respond(p, op, SUCCESS)
            return
        for i, record in enumerate(list(self.stored)):
            if self.drop_after is not None and i >= self.drop_after:
                p.drop_link()
                return
            p.notify(self.records_uuid, record)
            await asyncio.sleep(self.record_gap_s)
        self._respond(p, op, SUCCESS)
