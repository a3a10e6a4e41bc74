"""The RACP response codec (drivers/gatt/racp.py): a pure decoder with typed errors, agreeing
with the RACP profile's vectors; and the simulator's RACP server answers as PLXS says."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from bleak.exc import BleakError
from hypothesis import given
from hypothesis import strategies as st

from drivers.errors import CATEGORIES, DecodeError
from drivers.gatt import racp
from drivers.gatt.tables import RACP_OPCODES, RACP_RESPONSE_CODES
from drivers.profiles.gatt_record_access_control_point import encode
from tests.drivers.blesim import SimPeripheral
from tests.drivers.blesim.devices import PLX_SPOT_CHECK, pulse_oximeter
from tests.drivers.blesim.racp import RACP, RacpServer
from tests.support.vectors import load_vectors

RACP_VECTORS = [v for v in load_vectors("gatt.json") if v["protocol"] == "gatt.record_access_control_point"]


@given(st.binary(max_size=24))
def test_random_bytes_only_raise_decode_error(data: bytes) -> None:
    try:
        response = racp.parse_response(data)
    except DecodeError as e:
        assert e.category in CATEGORIES
    else:
        assert data[0] in (0x05, 0x06) and data[1] == 0x00 and len(data) >= 4
        assert isinstance(response, racp.ResponseCode | racp.RecordCount)


@given(request=st.integers(0, 255), code=st.integers(0, 255), tail=st.binary(max_size=4))
def test_a_response_code_reads_back(request: int, code: int, tail: bytes) -> None:
    response = racp.parse_response(bytes((0x06, 0x00, request, code)) + tail)
    assert response == racp.ResponseCode(request, code)
    assert isinstance(response, racp.ResponseCode)
    assert response.completed == (code in (0x01, 0x06))
    assert response.request == RACP_OPCODES.get(request, "reserved")
    assert response.outcome == RACP_RESPONSE_CODES.get(code, "reserved")
    assert response.outcome in response.describe()


@given(count=st.integers(0, 0xFFFF))
def test_a_record_count_reads_back(count: int) -> None:
    assert racp.parse_response(b"\x05\x00" + count.to_bytes(2, "little")) == racp.RecordCount(count)


@given(operator=st.integers(1, 255), request=st.integers(0, 255), code=st.integers(0, 255))
def test_a_response_with_an_operator_is_invalid(operator: int, request: int, code: int) -> None:
    with pytest.raises(DecodeError) as e:
        racp.parse_response(bytes((0x06, operator, request, code)))
    assert e.value.category == "invalid_operator"


@pytest.mark.parametrize(
    ("data", "category"),
    [
        (b"", "truncated"),
        (b"\x06", "truncated"),
        (b"\x06\x00\x01", "truncated"),
        (b"\x05\x00\x03", "truncated"),
        (b"\x00\x00\x01\x01", "reserved_value"),
        (b"\x07\x00\x01\x01", "reserved_value"),
        (b"\x01\x01", "malformed"),  # a request, not a response
        (b"\x03\x00", "malformed"),
    ],
)
def test_bad_responses_raise_typed_errors(data: bytes, category: str) -> None:
    with pytest.raises(DecodeError) as e:
        racp.parse_response(data)
    assert e.value.category == category


@pytest.mark.parametrize("vector", RACP_VECTORS, ids=[v["id"] for v in RACP_VECTORS])
def test_the_codec_agrees_with_the_racp_vectors(vector: dict[str, Any]) -> None:
    data = bytes.fromhex(vector["input_hex"])
    expected = vector["expected"]
    if "error" in expected:
        with pytest.raises(DecodeError) as e:
            racp.parse_response(data)
        assert e.value.category == expected["error"]
    elif expected["opcode"] == "response_code":
        response = racp.parse_response(data)
        assert isinstance(response, racp.ResponseCode)
        assert response.request == expected.get("request_opcode", response.request)
        assert response.outcome == expected["response_code"]
    elif expected["opcode"] == "number_of_stored_records_response":
        assert racp.parse_response(data) == racp.RecordCount(expected["number_of_records"])
    else:  # a request the gateway writes: the builder makes the same bytes, the parser refuses it
        assert encode(expected["opcode"], expected["operator"], data[2:]) == data
        with pytest.raises(DecodeError):
            racp.parse_response(data)


def test_request_by_names() -> None:
    assert racp.request("report_stored_records", "all_records") == racp.REPORT_ALL == b"\x01\x01"
    assert racp.request("abort_operation") == racp.ABORT == b"\x03\x00"
    with pytest.raises(ValueError):
        racp.request("report_everything")


# --- the simulator's RACP server (what the transport is tested against) -------------------


class _Central:
    """Stands in for the client: a connected link with indications recorded."""

    def __init__(self, p: SimPeripheral) -> None:
        self.values: list[tuple[str, bytes]] = []
        self.p = p
        p.client = object()  # type: ignore[assignment]

    def subscribe(self, uuid: str) -> None:
        self.p.subscribed[uuid] = lambda data, u=uuid: self.values.append((u, bytes(data)))  # type: ignore[misc]

    async def ask(self, request: bytes) -> list[tuple[str, bytes]]:
        self.values.clear()
        self.p.written(RACP, request)
        for _ in range(100):
            await asyncio.sleep(0.01)
            if self.values and self.values[-1][0] == RACP:
                break
        return list(self.values)


async def test_the_simulated_racp_answers_as_plxs_says() -> None:
    server = RacpServer(PLX_SPOT_CHECK, [b"A", b"B"])
    p = pulse_oximeter("AA:00:00:00:00:01", racp=server)
    c = _Central(p)
    with pytest.raises(BleakError, match="0xFD"):  # indications on the RACP are off
        p.written(RACP, b"\x01\x01")
    c.subscribe(RACP)
    c.subscribe(PLX_SPOT_CHECK)
    assert await c.ask(b"\x04\x01") == [(RACP, b"\x05\x00\x02\x00")]
    assert await c.ask(b"\x01\x01") == [
        (PLX_SPOT_CHECK, b"A"),
        (PLX_SPOT_CHECK, b"B"),
        (RACP, b"\x06\x00\x01\x01"),
    ]
    assert await c.ask(b"\x01\x00") == [(RACP, b"\x06\x00\x01\x03")]  # Null: invalid operator
    assert await c.ask(b"\x01\x05") == [(RACP, b"\x06\x00\x01\x04")]  # first record: not supported
    assert await c.ask(b"\x01\x01\x01") == [(RACP, b"\x06\x00\x01\x05")]  # an operand: invalid
    assert await c.ask(b"\x09\x00") == [(RACP, b"\x06\x00\x09\x02")]  # op code not supported
    assert await c.ask(b"\x03\x00") == [(RACP, b"\x06\x00\x03\x01")]
    assert await c.ask(b"\x02\x01") == [(RACP, b"\x06\x00\x02\x01")]
    assert await c.ask(b"\x01\x01") == [(RACP, b"\x06\x00\x01\x06")]  # deleted: no records found
    server.stored = [b"C"] * 50
    server.record_gap_s = 0.05
    p.written(RACP, b"\x01\x01")
    with pytest.raises(BleakError, match="0xFE"):  # one procedure at a time ...
        p.written(RACP, b"\x04\x01")
    assert (await c.ask(b"\x03\x00"))[-1] == (RACP, b"\x06\x00\x03\x01")  # ... but abort stops it
    p.link_closed()
