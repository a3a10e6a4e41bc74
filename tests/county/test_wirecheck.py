"""The receiver's fast path (county.wirecheck) against the contract (uplink.contract.WireReading):
whatever the fast check accepts, pydantic accepts with the same values; the item bytes it cuts out
of an envelope are the items; and ``prepare`` decides every envelope as the pydantic-only receiver
did (same accepted ids and values, same rejections with the same reasons, same invalid messages)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, TypeAdapter, ValidationError

from county import wirecheck
from county.receiver import ENVELOPES, STREAMS, Prepared, _reason, _sent_at, prepare
from tests.uplink.helpers import reading
from uplink import envelope
from uplink.contract import WireClassification, WireDevice, WireReading, WireValue

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
CHECKS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def kiosk(i: int = 0) -> dict[str, Any]:
    """A reading as the kiosk API stores it (classification in English and Chinese, extras)."""
    return reading(
        i,
        revision=i % 3,
        attribution="session",
        device={"id": "cuff-1", "profile": "omron.bp.ble", "address": "F4:5E:AB:12:34:56"},
        measured_at="2026-11-29T16:00:00",
        received_at="2026-11-29T08:00:01.231000+00:00",
        time_source="device",
        gateway_clock_synced=True,
        flags=["irregular_pulse"],
        classification={
            "guideline": "china-htn-2018",
            "version": "2018",
            "category": "grade1",
            "label": "Grade 1 hypertension",
            "advice": None,
            "label_zh": "1级高血压",
            "advice_zh": "请在一周内复测，并请村医查看。",
        },
        extras={"session": "s-1", "cuff_fit": True, "trail": [{"a": 1}, {"b": "},{"}]},
    )


# -- values: valid ones and every kind of wrong one --------------------------------------------

DATES = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.one_of(st.none(), st.timezones()),
    ).map(lambda d: d.isoformat()),
    st.datetimes(timezones=st.just(UTC)).map(lambda d: d.isoformat().replace("+00:00", "Z")),
    st.datetimes().map(lambda d: d.isoformat(sep=" ")),
    st.builds(
        lambda d, frac, off: d.strftime("%Y-%m-%dT%H:%M:%S") + frac + off,
        st.datetimes(),
        st.sampled_from(["", ".1", ".12", ".1234567", ".123456789", "."]),
        st.sampled_from(["", "Z", "z", "+00:00", "-23:59", "+24:00", "+0530", "+05", "+05:30:15", "+5:30"]),
    ),
    st.sampled_from(
        [
            "2026-02-30T08:00:00+00:00",
            "2026-11-29T24:00:00+00:00",
            "2026-11-29T23:59:60+00:00",
            "2026-11-29",
            "2026-W48-7T08:00:00",
            "20261129T080000Z",
            "2026-11-29T08:00",
            "2026-11-29T08",
            "0000-01-01T00:00:00",
            "١٢٣٤-11-29T08:00:00",
            "1764403200",
            "now",
            "",
        ]
    ),
    st.integers(-(2**40), 2**40),
    st.floats(allow_nan=False, allow_infinity=False),
)
JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=6),
    st.sampled_from(["0", "1", "true", "blood_pressure", "personal", "device", "kg", "1.5"]),
    DATES,
    st.lists(st.one_of(st.text(max_size=3), st.integers(), st.none()), max_size=3),
    st.dictionaries(st.text(max_size=4), st.one_of(st.integers(), st.text(max_size=3)), max_size=3),
)


@st.composite
def mutated(draw: st.DrawFn, base: dict[str, Any], fields: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """``base`` with some fields dropped, replaced (junk, or a nested model mutated in turn) or added."""
    out = dict(base)
    for key in draw(st.lists(st.sampled_from(sorted(set(fields) | set(base))), max_size=4, unique=True)):
        how = draw(st.sampled_from(["drop", "junk", "junk", "nested"]))
        if how == "drop":
            out.pop(key, None)
        elif how == "nested" and depth == 0 and isinstance(base.get(key), dict):
            inner = base[key]
            if key == "values":
                name = draw(st.sampled_from([*sorted(inner), "extra"]))
                value = inner.get(name, {"value": 1, "unit": "kg"})
                out[key] = {**inner, name: draw(mutated(value, WireValue.model_fields, 1) | JUNK)}
            elif key in ("device", "classification"):
                model = WireDevice if key == "device" else WireClassification
                out[key] = draw(mutated(inner, model.model_fields, 1))
            else:
                out[key] = draw(JUNK)
        else:
            out[key] = draw(JUNK)
    if draw(st.integers(0, 9)) == 0:
        out[draw(st.sampled_from(["unknown", "Kind", "note"]))] = draw(JUNK)
    return out


@st.composite
def nested(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """``base`` with one of its device, classification or values mutated."""
    key = draw(st.sampled_from(["device", "classification", "values"]))
    inner = base.get(key) or {"guideline": "g", "version": "1", "category": "c"}
    if key == "values":
        name = draw(st.sampled_from(sorted(inner)))
        return {**base, key: {**inner, name: draw(mutated(inner[name], WireValue.model_fields, 1))}}
    model = WireDevice if key == "device" else WireClassification
    return {**base, key: draw(mutated(inner, model.model_fields, 1))}


def items() -> st.SearchStrategy[dict[str, Any]]:
    bases = st.one_of(st.integers(0, 50).map(kiosk), st.integers(0, 50).map(lambda i: reading(i)))
    return st.one_of(
        bases,
        bases.flatmap(lambda b: mutated(b, WireReading.model_fields)),
        bases.flatmap(nested),
    )


# -- the fast check against the model ------------------------------------------------------------


def test_the_fast_check_knows_every_field_of_the_contract() -> None:
    """A field added to (or dropped from) WireReading and its parts turns the fast path off until
    check_reading knows it: this test says so first."""
    models: dict[str, type[BaseModel]] = {
        "WireReading": WireReading,
        "WireDevice": WireDevice,
        "WireClassification": WireClassification,
        "WireValue": WireValue,
    }
    for name, model in models.items():
        assert wirecheck.CHECKED[name] == set(model.model_fields), name
        assert model.model_config.get("extra") == "forbid", name
    assert wirecheck.IN_SYNC


def test_what_the_gateway_sends_takes_the_fast_path() -> None:
    for obj in (kiosk(3), reading(1), reading(2, resident=None, revision=4)):
        row = wirecheck.check_reading(orjson.loads(orjson.dumps({"seq": 7, **obj})))
        assert row is not None, obj


def same(row: wirecheck.ReadingRow, model: WireReading) -> None:
    assert (row.revision, row.kind, row.resident_id) == (model.revision, model.kind, model.resident_id)
    assert row.effective_at == model.effective_at
    assert row.effective_at.utcoffset() == model.effective_at.utcoffset()
    assert row.effective_at.isoformat() == model.effective_at.isoformat()


@CHECKS
@given(items())
def test_what_the_fast_check_accepts_the_contract_accepts_with_the_same_values(obj: dict[str, Any]) -> None:
    try:
        raw = orjson.dumps(obj)
    except TypeError:  # not JSON (an integer beyond 64 bits): never reaches the receiver
        return
    item = orjson.loads(raw)
    row = wirecheck.check_reading(item)
    if row is None:
        return
    same(row, WireReading.model_validate(item))
    same(row, WireReading.model_validate_json(raw))


WRONG: list[Any] = [
    None, True, False, 0, 1, -1, 2**31, 2**63, 1.5, -0.0, "", "x", "0", "1", "true", "no",
    "2026-11-29T08:00:00+00:00", "2026-11-29 08:00:00", [], ["x"], [1], {}, {"x": 1},
    {"value": 1, "unit": "kg"}, {"value": "1", "unit": "kg"}, {"value": 1}, {"id": "d"},
]  # fmt: skip


FIELD_PATHS = (
    [(k,) for k in WireReading.model_fields]
    + [("device", k) for k in WireDevice.model_fields]
    + [("classification", k) for k in WireClassification.model_fields]
    + [("values", "systolic", k) for k in WireValue.model_fields]
    + [("values", "systolic"), ("flags", 0)]
)


def put(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(obj, list):
        return [put(obj[0] if obj else None, rest, value), *obj[1:]]
    return {**obj, head: put(obj.get(head, {}), rest, value)}


@pytest.mark.parametrize("path", FIELD_PATHS, ids=lambda p: ".".join(map(str, p)))
def test_every_field_with_every_kind_of_wrong_value(path: tuple[Any, ...]) -> None:
    """Each field of the contract, each in turn given each of a list of values of the wrong type
    or form (and dropped): what the fast check accepts, the model accepts with the same values."""
    base = kiosk(2)
    refused = 0
    for value in [*WRONG, ...]:
        if value is ...:
            obj = (
                put(base, path[:-1], {k: v for k, v in get(base, path[:-1]).items() if k != path[-1]})
                if isinstance(get(base, path[:-1]), dict)
                else base
            )
        else:
            obj = put(base, path, value)
        item = orjson.loads(orjson.dumps(obj))
        row = wirecheck.check_reading(item)
        if row is None:
            refused += 1
            continue
        same(row, WireReading.model_validate(item))
    assert refused, path  # the fast check looks at this field at all


def get(obj: Any, path: tuple[Any, ...]) -> Any:
    for key in path:
        obj = obj[key] if isinstance(obj, list) else obj.get(key, {})
    return obj


@CHECKS
@given(DATES)
def test_a_date_time_the_fast_check_reads_pydantic_reads_the_same(value: Any) -> None:
    parsed = wirecheck._datetime(value)
    if parsed is None:
        return
    model = TypeAdapter(datetime).validate_python(value)
    assert parsed == model and parsed.utcoffset() == model.utcoffset()
    assert parsed.isoformat() == model.isoformat()


def test_dates_the_fast_check_leaves_to_pydantic() -> None:
    for value in ("2026-11-29 08:00:00", "2026-11-29T08:00:00.1234567", "2026-11-29T08:00:00+0530",
                  "2026-W48-7T08:00:00", "20261129T080000Z", "2026-02-30T08:00:00", "1764403200", 1764403200,
                  "2026-11-29T08:00:00+05:30:15", "2026-11-29t08:00:00"):  # fmt: skip
        assert wirecheck._datetime(value) is None, value
    assert wirecheck._datetime("2026-11-29T08:00:00Z") == datetime(2026, 11, 29, 8, tzinfo=UTC)
    tz = timezone(timedelta(hours=-3, minutes=-30))
    assert wirecheck._datetime("2026-11-29T08:00:00.500000-03:30") == datetime(
        2026, 11, 29, 8, 0, 0, 500000, tz
    )
    assert wirecheck._datetime("2026-11-29T08:00:00.5-03:30") is None  # pydantic reads it


# -- cutting an envelope into its items ------------------------------------------------------------


def encoded(objs: list[dict[str, Any]], batch_id: str = "b-1", gw: str = "hut-7") -> bytes:
    its = [envelope.Item(str(o.get("id", n)), n, orjson.dumps(o)) for n, o in enumerate(objs)]
    return envelope.encode("readings", gw, batch_id, NOW, its).payload


TRICKY = st.text(alphabet=st.sampled_from(list('},{[]":\\ ab')), max_size=12)


ODD_ITEMS = st.one_of(
    items(),
    items().map(lambda o: {**o, "extras": {"x": [{"t": "},{"}, {}]}}),
    TRICKY.map(lambda t: reading(0, measured_at=t)),
)


@CHECKS
@given(st.lists(ODD_ITEMS, max_size=6))
def test_the_items_cut_out_of_an_envelope_are_its_items(objs: list[dict[str, Any]]) -> None:
    try:
        raw = encoded(objs)
    except TypeError:
        return
    split = wirecheck.split_items(raw, "readings")
    assert split is not None
    head, got = split
    whole = orjson.loads(raw)
    assert head == {k: v for k, v in whole.items() if k != "readings"}
    assert [item for item, _ in got] == whole["readings"]
    assert [orjson.loads(body) for _, body in got] == whole["readings"]
    assert b",".join(body for _, body in got) == raw[raw.index(b'"readings":[') + 12 : -2]


@CHECKS
@given(st.lists(items(), min_size=1, max_size=4), st.data())
def test_a_damaged_envelope_is_never_cut_into_other_items(
    objs: list[dict[str, Any]], data: st.DataObject
) -> None:
    try:
        raw = bytearray(encoded(objs))
    except TypeError:
        return
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at : at + data.draw(st.integers(0, 3))] = data.draw(
            st.sampled_from([b"", b"}", b",", b"{", b'"', b"]"])
        )
    split = wirecheck.split_items(bytes(raw), "readings")
    if split is None:
        return
    whole = orjson.loads(bytes(raw))  # what it cut is the JSON of the whole envelope
    assert [item for item, _ in split[1]] == whole["readings"]


def test_an_item_full_of_separators_costs_a_bounded_effort() -> None:
    raw = encoded([reading(0, measured_at="},{" * 10_000), reading(1)])
    assert wirecheck.split_items(raw, "readings") is None  # too many pieces: parse it whole
    p = prepare("hut-7", "readings", raw)
    assert len(p.good) == 2 and not p.rejected


def test_other_layouts_take_the_general_path() -> None:
    body = {"schema": "hut.readings/1", "gateway_id": "hut-7", "batch_id": "b", "sent_at": NOW.isoformat()}
    objs = [reading(0), reading(1)]
    for raw in (
        orjson.dumps({"readings": objs, **body}),  # the list first
        orjson.dumps({**body, "readings": objs}, option=orjson.OPT_INDENT_2),
        orjson.dumps({**body, "readings": objs}) + b"\n",
    ):
        assert wirecheck.split_items(raw, "readings") is None
        assert sorted(prepare("hut-7", "readings", raw).good) == sorted(o["id"] for o in objs)


# -- prepare decides as the pydantic-only receiver did ------------------------------------------------


def reference(gateway_id: str, stream: str, raw: bytes) -> Prepared:
    """The receiver's prepare before the fast path (pydantic only), for readings envelopes."""
    out = Prepared(gateway_id, stream, None)
    try:
        env = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        out.invalid.append((None, f"not JSON: {e}", raw))
        return out
    if not isinstance(env, dict) or not isinstance(env.get("batch_id"), str):
        out.invalid.append((None, "envelope without batch_id", raw))
        return out
    batch_id: str = env["batch_id"]
    schema, model = STREAMS[stream]
    items = env.get(stream)
    if not isinstance(items, list):
        out.invalid.append((batch_id, f"envelope has no {stream!r} list", raw))
        return out
    out.batch_id = batch_id
    out.sent_at = _sent_at(env.get("sent_at"))
    problem = None
    if env.get("schema") != schema:
        problem = f"envelope schema {env.get('schema')!r} is not {schema!r}"
    elif env.get("gateway_id") != gateway_id:
        problem = f"envelope gateway_id {env.get('gateway_id')!r} does not match the topic ({gateway_id!r})"
    extra = set(env) - {"schema", "gateway_id", "batch_id", "sent_at", stream}
    if problem is None and extra:
        problem = f"envelope has unknown fields {sorted(extra)}"
    good = out.good
    if problem is None:
        try:
            fast: list[BaseModel] = getattr(ENVELOPES[stream].model_validate_json(raw), stream)
        except ValidationError:
            pass
        else:
            for parsed, item in zip(fast, items, strict=True):
                prev = good.get(item["id"])
                if prev is None or getattr(parsed, "revision", 0) > getattr(prev[0], "revision", 0):
                    good[item["id"]] = (parsed, orjson.dumps(item))
            return out
    for item in items:
        item_id = item.get("id") if isinstance(item, dict) else None
        if not isinstance(item_id, str):
            out.invalid.append((batch_id, "item without an id", orjson.dumps(item)))
            continue
        if problem is not None:
            out.rejected[item_id] = problem
            out.rejected_payloads[item_id] = orjson.dumps(item)
            continue
        try:
            parsed = model.model_validate(item)
        except ValidationError as e:
            out.rejected[item_id] = _reason(e)
            out.rejected_payloads[item_id] = orjson.dumps(item)
            continue
        prev = good.get(item_id)
        if prev is None or getattr(parsed, "revision", 0) > getattr(prev[0], "revision", 0):
            good[item_id] = (parsed, orjson.dumps(item))
    return out


def decided_alike(new: Prepared, old: Prepared) -> None:
    assert (new.batch_id, new.sent_at, new.rejected) == (old.batch_id, old.sent_at, old.rejected)
    assert [(b, r) for b, r, _ in new.invalid] == [(b, r) for b, r, _ in old.invalid]
    assert list(new.good) == list(old.good)
    for rid, (parsed, payload) in new.good.items():
        model, old_payload = old.good[rid]
        assert (parsed.revision, parsed.kind, parsed.resident_id) == (
            model.revision,
            model.kind,
            model.resident_id,
        )
        assert parsed.effective_at == model.effective_at
        assert orjson.loads(payload) == orjson.loads(old_payload)
    for rid, payload in new.rejected_payloads.items():
        assert orjson.loads(payload) == orjson.loads(old.rejected_payloads[rid])


IDS = st.sampled_from(["r-1", "r-2", "r-3"])


@CHECKS
@given(st.lists(st.one_of(items(), st.tuples(items(), IDS).map(lambda t: {**t[0], "id": t[1]})), max_size=6))
def test_prepare_decides_every_envelope_as_the_pydantic_receiver_did(objs: list[dict[str, Any]]) -> None:
    try:
        raw = encoded(objs)
    except TypeError:
        return
    decided_alike(prepare("hut-7", "readings", raw), reference("hut-7", "readings", raw))


@pytest.mark.parametrize(
    "raw",
    [
        encoded([kiosk(1), reading(2)], gw="hut-8"),  # another gateway's envelope on this topic
        encoded([kiosk(1), {"kind": "weight"}])[:-2] + b",[1,2]]}",  # items without an id
        encoded([kiosk(1), {**reading(2), "revision": -1}]),
        encoded([kiosk(1)]).replace(b'"batch_id":"b-1"', b'"batch_id":7'),
        encoded([kiosk(1)]).replace(b'"schema":"hut.readings/1"', b'"schema":"hut.readings/2"'),
        encoded([kiosk(1)]).replace(b'"sent_at"', b'"extra":1,"sent_at"'),
        encoded([kiosk(1)]).replace(b'"sent_at":"', b'"sent_at":"yesterday'),
        encoded([kiosk(1)])[:-3],
        encoded([]),
    ],
)
def test_prepare_decides_broken_envelopes_as_the_pydantic_receiver_did(raw: bytes) -> None:
    decided_alike(prepare("hut-7", "readings", raw), reference("hut-7", "readings", raw))
