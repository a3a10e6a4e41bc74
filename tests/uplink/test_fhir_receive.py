"""The reference receiver's FHIR side: parsing Bundles, rejecting bad ones, never crashing."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from county.fhir import Parsed, is_bundle, parse
from county.receiver import prepare
from county.sqlite import SqliteStore as ReceiverStore
from uplink.fhir.bundle import FhirSettings, readings_bundle

from .fhir_samples import make

S = FhirSettings(patient_system="urn:oid:1.2.156.1")


def bundle(readings: list[dict[str, Any]]) -> dict[str, Any]:
    conv = readings_bundle(
        readings, gateway_id="hut-7", batch_id="b-1", sent_at=datetime(2026, 11, 29, tzinfo=UTC), settings=S
    )
    return conv.bundle


def test_parse_groups_observations_by_reading() -> None:
    readings = [make("blood_pressure"), make("weight", offset_s=1)]
    got = parse(orjson.dumps(bundle(readings)))
    assert isinstance(got, Parsed)
    assert got.batch_id == "b-1" and got.rejected == {}
    bp, weight = (got.readings[r["id"]] for r in readings)
    assert (bp.kind, bp.revision, bp.resident_id, len(bp.observations)) == ("blood_pressure", 0, "r-001", 2)
    assert len(weight.observations) == 3


def test_a_bundle_failing_the_r4_models_is_rejected_item_by_item() -> None:
    r = make("temperature")
    b = bundle([r])
    bad = copy.deepcopy(b)
    obs = next(e["resource"] for e in bad["entry"] if e["resource"]["resourceType"] == "Observation")
    obs["status"] = 42  # not a code
    obs["unexpected"] = True
    got = parse(orjson.dumps(bad))
    assert isinstance(got, Parsed) and got.readings == {}
    assert got.rejected[r["id"]].startswith("FHIR R4: ")


async def test_a_rejected_bundle_is_acked_with_reasons(tmp_path: Path) -> None:
    r = make("temperature")
    b = bundle([r])
    b["type"] = "batch"
    async with ReceiverStore(tmp_path / "county.db") as store:
        stored = await store.commit(prepare("hut-7", "readings", orjson.dumps(b)))
        assert stored is not None and stored.ack.accepted == []
        assert stored.ack.rejected[0].id == r["id"] and "not transaction" in stored.ack.rejected[0].reason
        assert await store.count("rejections") == 1


def test_hut_envelopes_are_not_taken_for_bundles() -> None:
    env = b'{"schema":"hut.readings/1","gateway_id":"hut-7","batch_id":"b","sent_at":"x","readings":[]}'
    assert not is_bundle(env)
    assert prepare("hut-7", "readings", env).batch_id == "b"  # taken as a hut envelope


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=6),
            lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
            max_leaves=12,
        ).map(lambda v: orjson.dumps({"resourceType": "Bundle", "identifier": {"value": "b"}, "entry": v})),
    )
)
def test_anything_parses_to_readings_or_a_reason(raw: bytes) -> None:
    got = parse(raw)
    assert isinstance(got, Parsed | str)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(max_size=6),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids, max_size=3),
    max_leaves=8,
)
FIELDS = ["extension", "subject", "effectiveDateTime", "identifier", "code", "valueQuantity", "status"]


@settings(max_examples=150, deadline=None)
@given(field=st.sampled_from(FIELDS), value=JSON, sub=st.integers(0, 12), sub_value=JSON)
def test_a_damaged_observation_is_rejected_or_kept_never_a_crash(
    field: str, value: Any, sub: int, sub_value: Any
) -> None:
    b = bundle([make("temperature")])
    obs = next(e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == "Observation")
    obs[field] = value
    extensions = obs.get("extension")
    reading_ext = (
        next(
            (e for e in extensions if isinstance(e, dict) and "extension" in e),
            None,
        )
        if isinstance(extensions, list)
        else None
    )
    if (
        reading_ext is not None
        and isinstance(reading_ext["extension"], list)
        and sub < len(reading_ext["extension"])
    ):
        reading_ext["extension"][sub] = sub_value
    got = parse(orjson.dumps(b))
    assert isinstance(got, Parsed)
    for r in got.readings.values():
        assert isinstance(r.revision, int) and isinstance(r.kind, str)
        assert r.effective_at is None or isinstance(r.effective_at, datetime)
        assert r.resident_id is None or isinstance(r.resident_id, str)
