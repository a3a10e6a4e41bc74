from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given
from hypothesis import strategies as st

from uplink import envelope
from uplink.contract import AlertsEnvelope, ReadingsEnvelope, WireReading
from uplink.envelope import Item, with_seq

from .helpers import alert, reading

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)


def test_readings_envelope_round_trips_through_the_contract() -> None:
    objs = [reading(i) for i in range(3)]
    items = [Item(o["id"], 10 + n, orjson.dumps(o)) for n, o in enumerate(objs)]
    enc = envelope.encode("readings", "hut-7", "batch-1", NOW, items)
    env = ReadingsEnvelope.model_validate_json(enc.payload)
    expected = ReadingsEnvelope.model_validate(
        {
            "schema": "hut.readings/1",
            "gateway_id": "hut-7",
            "batch_id": "batch-1",
            "sent_at": NOW,
            "readings": [{**o, "seq": 10 + n} for n, o in enumerate(objs)],
        }
    )
    assert env == expected
    assert enc.ids == tuple(o["id"] for o in objs)
    assert enc.bad == {}


def test_alerts_envelope_round_trips() -> None:
    a = alert()
    enc = envelope.encode("alerts", "hut-7", "b", NOW, [Item(a["id"], 1, orjson.dumps(a))])
    env = AlertsEnvelope.model_validate_json(enc.payload)
    assert env.alerts[0].id == a["id"] and env.alerts[0].seq == 1


def test_unreadable_payloads_are_left_out_and_reported() -> None:
    good = reading()
    items = [Item("x", 1, b"not json"), Item(good["id"], 2, orjson.dumps(good)), Item("y", 3, b"[1]")]
    enc = envelope.encode("readings", "g", "b", NOW, items)
    assert enc.ids == (good["id"],)
    assert set(enc.bad) == {"x", "y"}
    assert ReadingsEnvelope.model_validate_json(enc.payload).readings == [
        WireReading.model_validate({**good, "seq": 2})
    ]


def test_with_seq_handles_empty_object_and_whitespace() -> None:
    assert with_seq(b"{}", 5) == b'{"seq":5}'
    assert orjson.loads(with_seq(b'  { "a": 1 } ', 7) or b"") == {"seq": 7, "a": 1}


@given(st.binary(max_size=64), st.integers(min_value=0, max_value=2**62))
def test_with_seq_never_raises(data: bytes, seq: int) -> None:
    out = with_seq(data, seq)
    assert out is None or out.startswith(b'{"seq":')
