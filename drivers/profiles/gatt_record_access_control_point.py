"""``gatt.record_access_control_point`` (0x2A52): stored-record download requests and responses.

Decodes any RACP value (what the gateway writes and what a device indicates), for vectors and
``hutgw decode``; the code tables are in :mod:`drivers.gatt.tables`, and the BLE transport reads
a device's responses with :func:`drivers.gatt.racp.parse_response` (a ``RequestStored`` connect
step).
"""

from __future__ import annotations

from typing import Any

from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.gatt import racp, uuids
from drivers.gatt.tables import (
    RACP_FILTER_TYPES,
    RACP_FILTERED_REQUESTS,
    RACP_NULL_OPERATOR_ONLY,
    RACP_OPCODES,
    RACP_OPERATORS,
    RACP_OPERATORS_WITH_OPERAND,
    RACP_RESPONSE_CODES,
)
from drivers.measurement import Decoded
from drivers.profile import Profile

OPCODES = RACP_OPCODES
OPERATORS = RACP_OPERATORS
RESPONSE_CODES = RACP_RESPONSE_CODES
FILTER_TYPES = RACP_FILTER_TYPES


def _filter_fields(operator: int, operand: bytes) -> dict[str, Any]:
    if not operand:
        raise DecodeError(
            "truncated", f"operator {OPERATORS[operator]} needs a filter operand", field="operand"
        )
    out: dict[str, Any] = {
        "filter_type": FILTER_TYPES.get(operand[0], "service_defined"),
        "filter_type_value": operand[0],
    }
    if operand[0] == 0x01:  # sequence number filter (GLS/CGMS convention): uint16 values
        count = 2 if operator == 0x04 else 1
        body = operand[1:]
        if len(body) < 2 * count:
            raise DecodeError(
                "truncated", f"sequence-number filter needs {count} uint16 value(s)", field="operand"
            )
        out["filter_values"] = [int.from_bytes(body[i : i + 2], "little") for i in range(0, 2 * count, 2)]
    return out


def decode(frame: RawFrame) -> Decoded:
    data = frame.data
    if len(data) < 2:
        raise DecodeError("truncated", f"needs op code and operator, got {len(data)} byte(s)", field="opcode")
    opcode, operator, operand = data[0], data[1], data[2:]
    if opcode not in OPCODES:
        raise DecodeError("reserved_value", f"op code 0x{opcode:02x} is RFU", field="opcode")
    if operator not in OPERATORS:
        raise DecodeError("reserved_value", f"operator 0x{operator:02x} is RFU", field="operator")
    if opcode in RACP_NULL_OPERATOR_ONLY and operator != 0x00:
        raise DecodeError("invalid_operator", f"{OPCODES[opcode]} needs the Null operator", field="operator")
    if opcode in RACP_FILTERED_REQUESTS and operator == 0x00:
        raise DecodeError(
            "invalid_operator", f"{OPCODES[opcode]} needs an operator, got Null", field="operator"
        )
    fields: dict[str, Any] = {
        "opcode": OPCODES[opcode],
        "opcode_value": opcode,
        "operator": OPERATORS[operator],
        "operator_value": operator,
        "operand_hex": operand.hex(),
    }
    if opcode in RACP_FILTERED_REQUESTS and operator in RACP_OPERATORS_WITH_OPERAND:
        fields.update(_filter_fields(operator, operand))
    elif opcode == 0x05:
        if len(operand) < 2:
            raise DecodeError("truncated", "number of records (uint16) missing", field="number_of_records")
        fields["number_of_records"] = int.from_bytes(operand[:2], "little")
    elif opcode == 0x06:
        if len(operand) < 2:
            raise DecodeError("truncated", "request op code and response code needed", field="response_code")
        request, code = operand[0], operand[1]
        fields.update(
            request_opcode=OPCODES.get(request, "reserved"),
            request_opcode_value=request,
            response_code=RESPONSE_CODES.get(code, "reserved"),
            response_code_value=code,
        )
    return Decoded(fields=fields)


def encode(opcode: str, operator: str = "null", operand: bytes = b"") -> bytes:
    """A request the gateway writes, e.g. ``encode("report_stored_records", "all_records")``."""
    return racp.request(opcode, operator, operand)


PROFILE = Profile(
    name="gatt.record_access_control_point",
    title="Record Access Control Point (0x2A52)",
    transport="ble_gatt",
    decode=decode,
    gatt_characteristics=(uuids.RECORD_ACCESS_CONTROL_POINT,),
)
