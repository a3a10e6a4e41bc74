"""Record Access Control Point (0x2A52): the requests the gateway writes and the responses it
waits for (brief section 8; code tables in :mod:`drivers.gatt.tables`).

Pure: :func:`request` builds a request, :func:`parse_response` reads what the device indicates
on the RACP while a procedure runs (a response code ``06 00 <request op code> <code>`` ends it;
``05 00 <count uint16>`` answers "report number of stored records") and raises
:class:`drivers.errors.DecodeError` on anything else.
"""

from __future__ import annotations

from dataclasses import dataclass

from drivers.errors import DecodeError
from drivers.gatt.tables import RACP_OPCODES, RACP_OPERATORS, RACP_RESPONSE_CODES

REPORT_STORED_RECORDS = 0x01
ABORT_OPERATION = 0x03
NUMBER_OF_STORED_RECORDS_RESPONSE = 0x05
RESPONSE_CODE = 0x06
NULL = 0x00
ALL_RECORDS = 0x01
SUCCESS = 0x01
NO_RECORDS_FOUND = 0x06

#: "Report stored records: all records", what a download writes.
REPORT_ALL = bytes((REPORT_STORED_RECORDS, ALL_RECORDS))
#: "Abort operation", written when a procedure's response does not come.
ABORT = bytes((ABORT_OPERATION, NULL))

_OPCODE_VALUES = {name: code for code, name in RACP_OPCODES.items()}
_OPERATOR_VALUES = {name: code for code, name in RACP_OPERATORS.items()}


@dataclass(frozen=True, slots=True)
class ResponseCode:
    """``06 00 <request op code> <response code>``: the end of a procedure."""

    request_opcode: int
    code: int

    @property
    def request(self) -> str:
        return RACP_OPCODES.get(self.request_opcode, "reserved")

    @property
    def outcome(self) -> str:
        return RACP_RESPONSE_CODES.get(self.code, "reserved")

    @property
    def completed(self) -> bool:
        """Success, or "no records found" (not an error: the device had nothing stored)."""
        return self.code in (SUCCESS, NO_RECORDS_FOUND)

    def describe(self) -> str:
        return f"{self.outcome} (0x{self.code:02x}) to {self.request} (0x{self.request_opcode:02x})"


@dataclass(frozen=True, slots=True)
class RecordCount:
    """``05 00 <count uint16>``: the answer to "report number of stored records"."""

    count: int


Response = ResponseCode | RecordCount


def request(opcode: str, operator: str = "null", operand: bytes = b"") -> bytes:
    """A request by names, e.g. ``request("report_stored_records", "all_records")``."""
    try:
        return bytes((_OPCODE_VALUES[opcode], _OPERATOR_VALUES[operator])) + operand
    except KeyError as e:
        raise ValueError(f"unknown RACP op code or operator {e.args[0]!r}") from None


def parse_response(data: bytes) -> Response:
    """What a device indicates on its RACP; trailing octets are ignored (brief section 0)."""
    if len(data) < 2:
        raise DecodeError("truncated", f"needs op code and operator, got {len(data)} byte(s)", field="opcode")
    opcode, operator = data[0], data[1]
    if opcode not in RACP_OPCODES:
        raise DecodeError("reserved_value", f"op code 0x{opcode:02x} is RFU", field="opcode")
    if opcode not in (RESPONSE_CODE, NUMBER_OF_STORED_RECORDS_RESPONSE):
        raise DecodeError("malformed", f"{RACP_OPCODES[opcode]} is a request, not a response", field="opcode")
    if operator != NULL:
        raise DecodeError(
            "invalid_operator", f"a response's operator must be Null, got 0x{operator:02x}", field="operator"
        )
    if opcode == NUMBER_OF_STORED_RECORDS_RESPONSE:
        if len(data) < 4:
            raise DecodeError("truncated", "number of records (uint16) missing", field="number_of_records")
        return RecordCount(int.from_bytes(data[2:4], "little"))
    if len(data) < 4:
        raise DecodeError("truncated", "request op code and response code needed", field="response_code")
    return ResponseCode(data[2], data[3])
