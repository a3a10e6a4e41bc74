"""Pure conversion: a batch of uplink readings (or alerts) -> one FHIR R4 transaction Bundle.

No I/O, no clock: everything comes from the records and the arguments, so converting the same
batch again gives the same identifiers, fullUrls and conditional requests (a resend can never
create a second resource). See ``docs/fhir.md`` for the mapping and the reasons behind it.

* Each reading becomes one Observation per mapped concept: a blood pressure panel is one
  ``PhdCompoundNumericObservation`` (systolic/diastolic/mean components) plus a
  ``PhdNumericObservation`` for its pulse rate; every other value is a ``PhdNumericObservation``.
* The device (PHD) and the gateway (PHG) are Device entries, created conditionally by identifier.
* The Patient is a conditional reference by identifier (``fhir_patient_system`` | resident id);
  the gateway never creates Patients.
* Revision 0 is a conditional create (``ifNoneExist`` on the PHD IG duplicate-prevention
  identifier); a higher revision is a conditional update (``PUT Observation?identifier=`` on the
  gateway's per-reading identifier), which replaces the earlier revision.
* Readings that cannot be represented (no resident, no mapped value, position fixes) are left out
  with a reason; the uplink keeps them aside in the outbox as rejected.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

from pydantic import ValidationError

from uplink.contract import WireAlert, WireReading
from uplink.fhir import codes as c

# Extensions the gateway defines (absolute URIs; receivers key on them, so they are fixed).
EXT_READING: Final = "urn:hutgw:fhir:StructureDefinition:reading"
EXT_ALERT: Final = "urn:hutgw:fhir:StructureDefinition:alert"
_NS: Final = uuid.UUID("6f1c1f8e-2a43-5f55-9b8e-6875742d6777")  # namespace of deterministic fullUrls
_EPOCH_2000: Final = datetime(2000, 1, 1)

UNATTRIBUTED: Final = (
    "unattributed reading (no resident): a FHIR Observation needs a Patient; "
    "it is sent as a revision once a resident is assigned"
)
NOTHING_MAPPED: Final = "none of the reading's values has a verified FHIR code (docs/fhir.md)"
_PRIORITY: Final = {"critical": "stat", "warning": "urgent", "info": "routine"}


@dataclass(frozen=True, slots=True)
class FhirSettings:
    """What the conversion needs from ``[uplink]``: the county's patient identifier system and
    the base of the identifiers the gateway mints (devices, readings, alerts, batches)."""

    patient_system: str = "urn:hutgw:resident"
    identifier_system: str = "urn:hutgw"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> FhirSettings:
        kwargs: dict[str, str] = {}
        if data.get("fhir_patient_system"):
            kwargs["patient_system"] = str(data["fhir_patient_system"])
        if data.get("fhir_identifier_system"):
            kwargs["identifier_system"] = str(data["fhir_identifier_system"])
        return cls(**kwargs)

    def system(self, leaf: str) -> str:
        base = self.identifier_system.rstrip("/:")
        return f"{base}/{leaf}" if "://" in base else f"{base}:{leaf}"


@dataclass(frozen=True, slots=True)
class Converted:
    """One Bundle and what is in it."""

    bundle: dict[str, Any]
    ids: tuple[str, ...]  # record ids carried by the Bundle
    skipped: dict[str, str]  # record id -> why it is not in the Bundle
    owners: tuple[str | None, ...]  # per Bundle entry, the record id it carries (None: a Device)


# -- small helpers ---------------------------------------------------------------------------


def _iso(dt: datetime) -> str:
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.isoformat().replace("+00:00", "Z")


def _num(v: float) -> float | int:
    if math.isfinite(v) and float(v).is_integer() and abs(v) < 2**53:
        return int(v)
    return v


def full_url(key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(_NS, key)}"


def search_value(text: str) -> str:
    """A token search value: FHIR escapes (``\\`` ``,`` ``$`` ``|``) then URL-encoded."""
    for ch in ("\\", ",", "$", "|"):
        text = text.replace(ch, "\\" + ch)
    return quote(text, safe=":/@")


def token(system: str | None, value: str) -> str:
    return search_value(value) if system is None else f"{search_value(system)}|{search_value(value)}"


def patient_reference(settings: FhirSettings, resident_id: str) -> str:
    """A conditional reference, resolved by the server inside the transaction."""
    return f"Patient?identifier={token(settings.patient_system, resident_id)}"


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": _num(value), "unit": unit, "system": c.UCUM, "code": unit}


def _seconds_since_2000(dt: datetime) -> str:
    secs = (dt.replace(tzinfo=None) - _EPOCH_2000).total_seconds()
    return f"{secs:.3f}" if dt.microsecond else str(int(secs))


def reported_timestamp(r: WireReading) -> str:
    """The PHD IG "reported time stamp" part of the Observation identifier.

    The device clock as the device reported it (seconds since 2000-01-01 of its wall clock, plus
    the offset in 15-minute units when it gave one); without device time, the gateway's receive
    time in UTC. Never the corrected ``effective_at`` of a device reading (two gateways may
    correct differently)."""
    if r.time_source == "device" and r.measured_at:
        try:
            dev = datetime.fromisoformat(r.measured_at)
        except ValueError:
            return r.measured_at
        text = _seconds_since_2000(dev)
        off = dev.utcoffset()
        if off is not None:
            text += f"{int(off.total_seconds() // 900):+d}"
        return text
    return _seconds_since_2000(r.received_at.astimezone(UTC))


def _mac(address: str | None) -> str | None:
    if not address:
        return None
    hexes = address.replace(":", "").replace("-", "")
    if len(hexes) != 12 or any(ch not in "0123456789abcdefABCDEF" for ch in hexes):
        return None
    return "-".join(hexes[i : i + 2] for i in range(0, 12, 2)).upper()


# -- devices ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entries:
    entries: list[dict[str, Any]]
    owners: list[str | None]
    devices: dict[str, str]  # device key -> fullUrl

    def add(self, owner: str | None, url: str, resource: dict[str, Any], request: dict[str, str]) -> None:
        self.entries.append({"fullUrl": url, "resource": resource, "request": request})
        self.owners.append(owner)


def _gateway_device(out: _Entries, settings: FhirSettings, gateway_id: str) -> str:
    system = settings.system("gateway")
    url = full_url(f"device:{system}|{gateway_id}")
    if "gateway" in out.devices:
        return out.devices["gateway"]
    resource = {
        "resourceType": "Device",
        "meta": {"profile": [c.PROFILE_PHG_DEVICE]},
        "identifier": [{"system": system, "value": gateway_id}],
        "deviceName": [{"name": f"hut gateway {gateway_id}", "type": "user-friendly-name"}],
        "type": {"coding": [c.DEVICE_TYPE_PHG.coding()], "text": "Personal health gateway"},
    }
    out.add(None, url, resource, _create("Device", system, gateway_id))
    out.devices["gateway"] = url
    return url


def _phd_device(out: _Entries, settings: FhirSettings, gateway_id: str, r: WireReading) -> str:
    system = settings.system("device")
    value = f"{gateway_id}/{r.device.id}"
    key = f"device:{system}|{value}"
    if key in out.devices:
        return out.devices[key]
    url = full_url(key)
    identifiers: list[dict[str, Any]] = [{"system": system, "value": value}]
    mac = _mac(r.device.address)
    if mac is not None:
        identifiers.append(
            {
                "type": {
                    "coding": [
                        {"system": c.CONTINUA_DEVICE_IDS, "code": "BTMAC", "display": "Bluetooth MAC Address"}
                    ]
                },
                "system": c.BLUETOOTH_MAC_SYSTEM,
                "value": mac,
            }
        )
    names = [{"name": r.device.id, "type": "user-friendly-name"}]
    if r.device.profile:
        names.append({"name": r.device.profile, "type": "model-name"})
    resource = {
        "resourceType": "Device",
        "meta": {"profile": [c.PROFILE_PHD_DEVICE]},
        "identifier": identifiers,
        "deviceName": names,
        "type": {"coding": [c.DEVICE_TYPE_PHD.coding()], "text": "Personal health device"},
    }
    out.add(None, url, resource, _create("Device", system, value))
    out.devices[key] = url
    return url


def _create(resource_type: str, system: str | None, value: str) -> dict[str, str]:
    return {"method": "POST", "url": resource_type, "ifNoneExist": f"identifier={token(system, value)}"}


# -- readings --------------------------------------------------------------------------------


def _reading_extension(r: WireReading, value_name: str | None, not_mapped: Sequence[str]) -> dict[str, Any]:
    ext: list[dict[str, Any]] = [
        {"url": "id", "valueString": r.id},
        {"url": "revision", "valueInteger": r.revision},
        {"url": "kind", "valueCode": r.kind},
    ]
    if value_name is not None:
        ext.append({"url": "value", "valueCode": value_name})
    if r.seq is not None:
        ext.append({"url": "seq", "valueInteger": r.seq})
    ext += [
        {"url": "attribution", "valueCode": r.attribution},
        {"url": "timeSource", "valueCode": r.time_source},
        {"url": "gatewayClockSynced", "valueBoolean": r.gateway_clock_synced},
        {"url": "receivedAt", "valueDateTime": _iso(r.received_at)},
    ]
    if r.measured_at:
        ext.append({"url": "measuredAt", "valueString": r.measured_at})
    ext += [{"url": "notMapped", "valueString": name} for name in not_mapped]
    return {"url": EXT_READING, "extension": ext}


def _notes(r: WireReading, implausible: Sequence[str]) -> list[dict[str, str]]:
    notes: list[dict[str, str]] = []
    if r.time_source == "gateway":
        notes.append({"text": "time: when the gateway received it (the device gave no usable time)"})
    if not r.gateway_clock_synced:
        notes.append({"text": "time: the gateway clock was not synchronised"})
    for name in implausible:
        notes.append({"text": f"implausible: {name} is outside the gateway's plausible range"})
    if r.classification is not None:
        cl = r.classification
        label = cl.label or cl.category
        notes.append({"text": f"classification ({cl.guideline} {cl.version}): {label}"})
    return notes


_QUESTIONABLE: Final = {
    "coding": [{"system": c.MEASUREMENT_STATUS, "code": "questionable", "display": "questionable"}],
    "text": "implausible",
}


def _implausible(r: WireReading) -> set[str]:
    return {f.split(":", 1)[1] for f in r.flags if f.startswith("implausible:")}


def _observation(
    r: WireReading,
    settings: FhirSettings,
    concept: c.Concept,
    value_name: str | None,
    profile: str,
    gateway_url: str,
    device_url: str,
    ig_value: str,
    not_mapped: Sequence[str],
    implausible: Sequence[str],
) -> dict[str, Any]:
    assert r.resident_id is not None
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"profile": [profile]},
        "extension": [
            {"url": c.EXT_GATEWAY_DEVICE, "valueReference": {"reference": gateway_url}},
            _reading_extension(r, value_name, not_mapped),
        ],
        "identifier": [
            {"value": ig_value},
            {"system": settings.system("reading"), "value": f"{r.id}:{concept.mdc.code}"},
        ],
        "status": "final",
    }
    if concept.vital_sign:
        obs["category"] = [
            {"coding": [{"system": c.OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}]}
        ]
    obs["code"] = concept.codeable()
    obs["subject"] = {"reference": patient_reference(settings, r.resident_id)}
    obs["effectiveDateTime"] = _iso(r.effective_at)
    obs["device"] = {"reference": device_url}
    notes = _notes(r, implausible)
    if notes:
        obs["note"] = notes
    return obs


def _request(r: WireReading, settings: FhirSettings, mdc: str, ig_value: str) -> dict[str, str]:
    if r.revision == 0:
        return _create("Observation", None, ig_value)
    return {
        "method": "PUT",
        "url": f"Observation?identifier={token(settings.system('reading'), f'{r.id}:{mdc}')}",
    }


def _ig_identifier(r: WireReading, settings: FhirSettings, mdc: str, value: str, unit: str) -> str:
    """PHD IG duplicate-prevention identifier: device-patient-type-value-units-timestamp."""
    device = _mac(r.device.address) or f"{r.device.id}"
    patient = f"{r.resident_id}-{settings.patient_system}"
    return f"{device}-{patient}-{mdc}-{value}-{unit}-{reported_timestamp(r)}"


def _add_reading(out: _Entries, r: WireReading, settings: FhirSettings, gateway_id: str) -> str | None:
    """Append the reading's Observations; a reason when there is nothing to send."""
    if any(k == r.kind and n == "*" for k, n in c.NOT_MAPPED):
        return c.NOT_MAPPED[(r.kind, "*")]
    if r.resident_id is None:
        return UNATTRIBUTED
    implausible = _implausible(r)
    values = r.values
    not_mapped = sorted(n for n in values if (r.kind, n) not in c.NUMERIC and not _in_compound(r.kind, n))
    if len(not_mapped) == len(values):
        return NOTHING_MAPPED
    obs_entries: list[tuple[str, dict[str, Any], dict[str, str]]] = []
    gateway_url = _gateway_device(out, settings, gateway_id)
    device_url = _phd_device(out, settings, gateway_id, r)
    compound = c.COMPOUND.get(r.kind)
    if compound is not None:
        panel, parts = compound
        present = [(n, parts[n]) for n in parts if n in values]
        if present:
            components = []
            for name, part in present:
                v = values[name]
                comp: dict[str, Any] = {"code": part.codeable(), "valueQuantity": _quantity(v.value, v.unit)}
                if name in implausible:
                    comp["interpretation"] = [_QUESTIONABLE]
                components.append(comp)
            joined = ",".join(str(_num(values[n].value)) for n, _ in present)
            ig = _ig_identifier(r, settings, panel.mdc.code, joined, values[present[0][0]].unit)
            obs = _observation(
                r,
                settings,
                panel,
                None,
                c.PROFILE_COMPOUND,
                gateway_url,
                device_url,
                ig,
                not_mapped,
                sorted(n for n, _ in present if n in implausible),
            )
            obs["component"] = components
            if any(n in implausible for n, _ in present):
                obs["interpretation"] = [_QUESTIONABLE]
            obs_entries.append(
                (full_url(f"obs:{r.id}:{panel.mdc.code}"), obs, _request(r, settings, panel.mdc.code, ig))
            )
    for name, v in values.items():
        numeric = c.NUMERIC.get((r.kind, name))
        if numeric is None:
            continue
        concept = numeric
        value_text = str(_num(v.value))
        ig = _ig_identifier(r, settings, concept.mdc.code, value_text, v.unit)
        flagged = [name] if name in implausible else []
        obs = _observation(
            r, settings, concept, name, c.PROFILE_NUMERIC, gateway_url, device_url, ig, not_mapped, flagged
        )
        obs["valueQuantity"] = _quantity(v.value, v.unit)
        if flagged:
            obs["interpretation"] = [_QUESTIONABLE]
        obs_entries.append(
            (full_url(f"obs:{r.id}:{concept.mdc.code}"), obs, _request(r, settings, concept.mdc.code, ig))
        )
    if not obs_entries:
        return NOTHING_MAPPED
    for url, obs, request in obs_entries:
        out.add(r.id, url, obs, request)
    return None


def _in_compound(kind: str, name: str) -> bool:
    compound = c.COMPOUND.get(kind)
    return compound is not None and name in compound[1]


def _bundle(settings: FhirSettings, batch_id: str, sent_at: datetime, out: _Entries) -> dict[str, Any]:
    # Device entries first: the Observations reference them by fullUrl.
    order = sorted(range(len(out.entries)), key=lambda i: out.owners[i] is not None)
    entries = [out.entries[i] for i in order]
    out.owners[:] = [out.owners[i] for i in order]
    return {
        "resourceType": "Bundle",
        "identifier": {"system": settings.system("batch"), "value": batch_id},
        "type": "transaction",
        "timestamp": _iso(sent_at),
        "entry": entries,
    }


def _schema_reason(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(item)"
    return f"schema: {where}: {first['msg']}"


def readings_bundle(
    readings: Iterable[Mapping[str, Any]],
    *,
    gateway_id: str,
    batch_id: str,
    sent_at: datetime,
    settings: FhirSettings,
) -> Converted:
    """A transaction Bundle of the readings (``WireReading`` JSON objects, ``seq`` optional)."""
    out = _Entries([], [], {})
    ids: list[str] = []
    skipped: dict[str, str] = {}
    for item in readings:
        rid = str(item.get("id"))
        try:
            r = WireReading.model_validate(item)
        except ValidationError as e:
            skipped[rid] = _schema_reason(e)
            continue
        reason = _add_reading(out, r, settings, gateway_id)
        if reason is None:
            ids.append(r.id)
        else:
            skipped[r.id] = reason
    if not ids:
        return Converted({}, (), skipped, ())
    bundle = _bundle(settings, batch_id, sent_at, out)
    return Converted(bundle, tuple(ids), skipped, tuple(out.owners))


# -- alerts ----------------------------------------------------------------------------------


def alerts_bundle(
    alerts: Iterable[Mapping[str, Any]],
    *,
    gateway_id: str,
    batch_id: str,
    sent_at: datetime,
    settings: FhirSettings,
) -> Converted:
    """Alerts as Communication resources (the PHD IG has no alert profile; docs/fhir.md)."""
    out = _Entries([], [], {})
    ids: list[str] = []
    skipped: dict[str, str] = {}
    system = settings.system("alert")
    for item in alerts:
        aid = str(item.get("id"))
        try:
            a = WireAlert.model_validate(item)
        except ValidationError as e:
            skipped[aid] = _schema_reason(e)
            continue
        gateway_url = _gateway_device(out, settings, gateway_id)
        ext: list[dict[str, Any]] = [
            {"url": "kind", "valueCode": a.kind},
            {"url": "severity", "valueCode": a.severity},
        ]
        if a.reading_id:
            ext.append({"url": "readingId", "valueString": a.reading_id})
        if a.suppressed_repeats:
            ext.append({"url": "suppressedRepeats", "valueInteger": a.suppressed_repeats})
        ext += [{"url": "notify", "valueString": n} for n in a.notify]
        comm: dict[str, Any] = {
            "resourceType": "Communication",
            "extension": [{"url": EXT_ALERT, "extension": ext}],
            "identifier": [{"system": system, "value": a.id}],
            "status": "completed",
            "category": [{"text": a.kind}],
            "priority": _PRIORITY[a.severity],
        }
        if a.resident_id is not None:
            comm["subject"] = {"reference": patient_reference(settings, a.resident_id)}
        comm["sent"] = _iso(a.raised_at)
        comm["sender"] = {"reference": gateway_url}
        comm["payload"] = [{"contentString": a.message}]
        out.add(a.id, full_url(f"alert:{a.id}"), comm, _create("Communication", system, a.id))
        ids.append(a.id)
    if not ids:
        return Converted({}, (), skipped, ())
    return Converted(_bundle(settings, batch_id, sent_at, out), tuple(ids), skipped, tuple(out.owners))


def convert(
    stream: str,
    records: Iterable[Mapping[str, Any]],
    *,
    gateway_id: str,
    batch_id: str,
    sent_at: datetime,
    settings: FhirSettings,
) -> Converted:
    fn = readings_bundle if stream == "readings" else alerts_bundle
    if stream not in ("readings", "alerts"):
        raise ValueError(f"no FHIR mapping for stream {stream!r}")
    return fn(records, gateway_id=gateway_id, batch_id=batch_id, sent_at=sent_at, settings=settings)
