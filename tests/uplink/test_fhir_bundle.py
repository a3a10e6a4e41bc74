"""Readings -> FHIR R4 transaction Bundles: models, codes, identifiers, revisions, exclusions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B.bundle import Bundle
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.kinds import KINDS
from uplink.codec import Classification
from uplink.contract import WireReading
from uplink.fhir import codes
from uplink.fhir.bundle import (
    EXT_READING,
    UNATTRIBUTED,
    FhirSettings,
    alerts_bundle,
    patient_reference,
    readings_bundle,
    reported_timestamp,
)

from .fhir_samples import SAMPLE_VALUES, catalogue_sample, make
from .helpers import alert

S = FhirSettings(patient_system="https://county.example/fhir/sid/resident", identifier_system="urn:hutgw")
SENT = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
MAPPED_KINDS = [k for k in KINDS if codes.kind_mapped(k)]


def convert(readings: list[dict[str, Any]], batch: str = "batch-1") -> Any:
    return readings_bundle(readings, gateway_id="hut-7", batch_id=batch, sent_at=SENT, settings=S)


def observations(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"]


def codings(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept["coding"]}


def test_every_kind_validates_against_the_fhir_r4_models() -> None:
    readings = [make(k) for k in KINDS]
    conv = convert(readings)
    parsed = Bundle.model_validate(conv.bundle)
    assert parsed.type == "transaction"
    assert parsed.identifier.value == "batch-1"
    assert set(conv.ids) == {r["id"] for r in readings if r["kind"] != "position"}
    assert set(conv.skipped) == {r["id"] for r in readings if r["kind"] == "position"}
    # Every non-device entry belongs to a reading of the batch; devices come first.
    owners = list(conv.owners)
    assert owners == sorted(owners, key=lambda o: o is not None)
    assert len(owners) == len(conv.bundle["entry"])


def test_coverage_every_mapped_value_or_documented_not_mapped() -> None:
    for kind, spec in KINDS.items():
        for name in spec.values:
            mapped = (kind, name) in codes.NUMERIC or (
                kind in codes.COMPOUND and name in codes.COMPOUND[kind][1]
            )
            assert mapped or (kind, name) in codes.NOT_MAPPED or (kind, "*") in codes.NOT_MAPPED, (kind, name)


def test_blood_pressure_is_a_compound_panel_plus_a_pulse_rate() -> None:
    r = make("blood_pressure", device_time=True)
    obs = observations(convert([r]).bundle)
    assert len(obs) == 2
    panel, pulse = obs
    assert panel["meta"]["profile"] == [codes.PROFILE_COMPOUND]
    assert codings(panel["code"]) == {(codes.MDC, "150020"), (codes.LOINC, "85354-9")}
    assert "valueQuantity" not in panel
    comps = {tuple(sorted(codings(c["code"]))): c["valueQuantity"] for c in panel["component"]}
    assert comps == {
        ((codes.LOINC, "8480-6"), (codes.MDC, "150021")): q(128, "mm[Hg]"),
        ((codes.LOINC, "8462-4"), (codes.MDC, "150022")): q(82, "mm[Hg]"),
        ((codes.LOINC, "8478-0"), (codes.MDC, "150023")): q(97, "mm[Hg]"),
    }
    assert pulse["meta"]["profile"] == [codes.PROFILE_NUMERIC]
    assert codings(pulse["code"]) == {(codes.MDC, "149546"), (codes.LOINC, "8867-4")}
    assert pulse["valueQuantity"] == q(71, "/min")
    for o in obs:
        assert o["subject"] == {
            "reference": "Patient?identifier=https://county.example/fhir/sid/resident|r-001"
        }
        assert o["effectiveDateTime"] == "2026-11-29T07:59:30Z"  # device time chosen by the gateway
        assert o["category"][0]["coding"][0]["code"] == "vital-signs"
        assert o["extension"][0]["url"] == codes.EXT_GATEWAY_DEVICE


def q(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": codes.UCUM, "code": unit}


@pytest.mark.parametrize(
    ("kind", "name", "mdc", "loinc", "unit"),
    [
        ("weight", "weight", "188736", "29463-7", "kg"),
        ("weight", "bmi", "188752", "39156-5", "kg/m2"),
        ("weight", "height", "188740", "8302-2", "cm"),
        ("body_composition", "body_fat_pct", "188748", "41982-0", "%"),
        ("body_composition", "fat_free_mass", "188756", None, "kg"),
        ("body_composition", "soft_lean_mass", "188760", None, "kg"),
        ("body_composition", "body_water_mass", "188764", None, "kg"),
        ("heart_rate", "heart_rate", "149514", "8867-4", "/min"),
        ("spo2", "spo2", "150456", "59408-5", "%"),
        ("spo2", "pulse_rate", "149530", "8867-4", "/min"),
        ("temperature", "temperature", "150364", "8310-5", "Cel"),
    ],
)
def test_round_trip_of_each_value(kind: str, name: str, mdc: str, loinc: str | None, unit: str) -> None:
    r = make(kind)
    obs = [o for o in observations(convert([r]).bundle) if any(c["code"] == mdc for c in o["code"]["coding"])]
    assert len(obs) == 1
    o = obs[0]
    assert o["code"]["coding"][0] == {
        "system": codes.MDC,
        "code": mdc,
        "display": o["code"]["coding"][0]["display"],
    }
    if loinc is not None:
        assert (codes.LOINC, loinc) in codings(o["code"])
    assert o["valueQuantity"] == q(SAMPLE_VALUES[kind][name], unit)
    ext = {e["url"]: next(v for k, v in e.items() if k.startswith("value")) for e in reading_ext(o)}
    assert ext["id"] == r["id"] and ext["kind"] == kind and ext["value"] == name and ext["revision"] == 0
    assert ext["timeSource"] == "gateway"


def reading_ext(o: dict[str, Any]) -> list[dict[str, Any]]:
    return next(e["extension"] for e in o["extension"] if e["url"] == EXT_READING)


def test_unmapped_body_values_are_left_out_and_named() -> None:
    r = make("body_composition")
    obs = observations(convert([r]).bundle)
    assert len(obs) == 7
    not_mapped = {e["valueString"] for e in reading_ext(obs[0]) if e["url"] == "notMapped"}
    assert not_mapped == {"impedance", "muscle_mass"}


def test_resend_yields_the_same_identifiers_fullurls_and_requests() -> None:
    readings = [make(k) for k in MAPPED_KINDS]
    a = convert(readings).bundle
    b = readings_bundle(
        readings, gateway_id="hut-7", batch_id="batch-1", sent_at=datetime(2027, 1, 1, tzinfo=UTC), settings=S
    )
    b = b.bundle

    def key(bundle: dict[str, Any]) -> list[Any]:
        return [(e["fullUrl"], e["request"], e["resource"].get("identifier")) for e in bundle["entry"]]

    assert key(a) == key(b)
    assert a["identifier"] == b["identifier"]
    for e in a["entry"]:
        assert e["request"]["method"] == "POST" and e["request"]["ifNoneExist"].startswith("identifier=")
    idents = [
        e["resource"]["identifier"][0]["value"]
        for e in a["entry"]
        if e["resource"]["resourceType"] == "Observation"
    ]
    assert len(set(idents)) == len(idents)


def test_phd_identifier_follows_the_guide_and_uses_the_device_clock() -> None:
    r = make("temperature", device_time=True)
    o = observations(convert([r]).bundle)[0]
    ig = o["identifier"][0]["value"]
    # device-patient-type-value-units-timestamp (device clock 2026-11-29T07:59:30, no zone)
    secs = int((datetime(2026, 11, 29, 7, 59, 30) - datetime(2000, 1, 1)).total_seconds())
    assert ig == f"F4-5E-AB-A8-08-05-r-001-{S.patient_system}-150364-36.6-Cel-{secs}"
    assert o["identifier"][1] == {"system": "urn:hutgw:reading", "value": f"{r['id']}:150364"}
    assert reported_timestamp(WireReading.model_validate(r)) == str(secs)


def test_a_revision_is_a_conditional_update_of_the_same_observation() -> None:
    r0 = make("weight")
    r1 = make("weight", rid=r0["id"], revision=1, resident="r-002")
    e0 = [e for e in convert([r0]).bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    e1 = [e for e in convert([r1]).bundle["entry"] if e["resource"]["resourceType"] == "Observation"]
    assert [e["fullUrl"] for e in e0] == [e["fullUrl"] for e in e1]
    for a, b in zip(e0, e1, strict=True):
        assert b["request"]["method"] == "PUT"
        ident = a["resource"]["identifier"][1]
        assert b["request"]["url"] == f"Observation?identifier={ident['system']}|{ident['value']}"
        assert b["resource"]["identifier"][1] == ident
        assert b["resource"]["subject"]["reference"].endswith("|r-002")


def test_unattributed_readings_wait_for_a_resident() -> None:
    r = make("blood_pressure", resident=None)
    conv = convert([r])
    assert conv.ids == () and conv.skipped == {r["id"]: UNATTRIBUTED} and conv.bundle == {}


def test_implausible_values_carry_an_interpretation_and_a_note() -> None:
    r = make("blood_pressure", flags=("implausible:systolic",), values={"systolic": 320, "diastolic": 82})
    panel = observations(convert([r]).bundle)[0]
    sys_comp = next(c for c in panel["component"] if c["code"]["coding"][0]["code"] == "150021")
    dia_comp = next(c for c in panel["component"] if c["code"]["coding"][0]["code"] == "150022")
    assert sys_comp["interpretation"][0]["coding"][0] == {
        "system": codes.MEASUREMENT_STATUS,
        "code": "questionable",
        "display": "questionable",
    }
    assert "interpretation" not in dia_comp
    assert panel["interpretation"][0]["coding"][0]["code"] == "questionable"
    assert any("implausible: systolic" in n["text"] for n in panel["note"])
    Bundle.model_validate(convert([r]).bundle)


def test_classification_and_time_source_are_noted() -> None:
    cl = Classification("CN-HTN", "2018", "grade_1", label="Grade 1 hypertension")
    o = observations(convert([make("blood_pressure", classification=cl)]).bundle)[0]
    texts = [n["text"] for n in o["note"]]
    assert "classification (CN-HTN 2018): Grade 1 hypertension" in texts
    assert any(t.startswith("time: when the gateway received it") for t in texts)


def test_devices_are_created_once_per_batch_by_identifier() -> None:
    conv = convert([make("weight", offset_s=i) for i in range(3)])
    devices = [e for e in conv.bundle["entry"] if e["resource"]["resourceType"] == "Device"]
    assert [d["resource"]["meta"]["profile"][0] for d in devices] == [
        codes.PROFILE_PHG_DEVICE,
        codes.PROFILE_PHD_DEVICE,
    ]
    assert devices[0]["request"]["ifNoneExist"] == "identifier=urn:hutgw:gateway|hut-7"
    assert devices[1]["request"]["ifNoneExist"] == "identifier=urn:hutgw:device|hut-7/weight-dev"
    bt = devices[1]["resource"]["identifier"][1]
    assert bt["system"] == codes.BLUETOOTH_MAC_SYSTEM and bt["value"] == "F4-5E-AB-A8-08-06"
    for o in observations(conv.bundle):
        assert o["device"]["reference"] == devices[1]["fullUrl"]
        assert o["extension"][0]["valueReference"]["reference"] == devices[0]["fullUrl"]


def test_patient_reference_escapes_search_syntax() -> None:
    s = FhirSettings(patient_system="urn:oid:1.2.3")
    assert patient_reference(s, "a|b,c d") == "Patient?identifier=urn:oid:1.2.3|a%5C%7Cb%5C%2Cc%20d"


def test_https_identifier_base() -> None:
    assert FhirSettings(identifier_system="https://county.example/ids/").system("reading") == (
        "https://county.example/ids/reading"
    )


def test_alerts_become_communications() -> None:
    a = alert()
    conv = alerts_bundle([a], gateway_id="hut-7", batch_id="b-a", sent_at=SENT, settings=S)
    Bundle.model_validate(conv.bundle)
    comm = conv.bundle["entry"][1]["resource"]
    assert comm["resourceType"] == "Communication" and comm["priority"] == "stat"
    assert comm["identifier"] == [{"system": "urn:hutgw:alert", "value": a["id"]}]
    assert conv.bundle["entry"][1]["request"] == {
        "method": "POST",
        "url": "Communication",
        "ifNoneExist": f"identifier=urn:hutgw:alert|{a['id']}",
    }


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.dictionaries(
            st.sampled_from(["id", "kind", "resident_id", "values", "revision", "device", "effective_at"]),
            st.one_of(
                st.none(),
                st.text(max_size=8),
                st.integers(-5, 5),
                st.dictionaries(st.text(max_size=4), st.integers()),
            ),
        ),
        max_size=5,
    )
)
def test_garbage_is_left_out_with_a_reason_never_raised(items: list[dict[str, Any]]) -> None:
    conv = convert(items)
    assert conv.ids == ()
    assert all(reason.startswith("schema: ") for reason in conv.skipped.values())


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(MAPPED_KINDS),
    scale=st.floats(0.5, 2.0, allow_nan=False),
    revision=st.integers(0, 3),
    device_time=st.booleans(),
)
def test_any_mapped_reading_validates(kind: str, scale: float, revision: int, device_time: bool) -> None:
    values = {n: v * scale for n, v in (SAMPLE_VALUES.get(kind) or catalogue_sample(kind)).items()}
    conv = convert([make(kind, values=values, revision=revision, device_time=device_time)])
    Bundle.model_validate(conv.bundle)
    assert len(conv.ids) == 1
