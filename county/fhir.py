"""The county receiver's side of ``payload_format = "fhir"``: a Bundle on the readings topic.

:func:`parse` checks the Bundle (FHIR R4 models when ``fhir.resources`` is installed, the
structure the gateway writes in any case) and groups its Observations by the gateway reading
they carry (the ``urn:hutgw:fhir:StructureDefinition:reading`` extension). The receiver turns
them into the same items as a ``hut.readings/1`` envelope (:func:`county.receiver.prepare`), so
every store keeps them once by reading id and revision, and acks them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import orjson

from uplink.fhir.bundle import EXT_READING


@dataclass(slots=True)
class FhirReading:
    """One gateway reading carried by a Bundle (its Observations of the highest revision)."""

    revision: int
    kind: str
    resident_id: str | None
    effective_at: datetime | None
    observations: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Parsed:
    batch_id: str
    readings: dict[str, FhirReading]
    rejected: dict[str, str]  # reading id -> reason


def is_bundle(raw: bytes) -> bool:
    head = raw[:512]
    return b'"resourceType"' in head and b'"Bundle"' in head


def _validate_models(doc: dict[str, Any]) -> str | None:
    try:
        from fhir.resources.R4B.bundle import Bundle
    except ImportError:  # optional dependency: the structural checks below still apply
        return None
    from pydantic import ValidationError

    try:
        Bundle.model_validate(doc)
    except ValidationError as e:
        first = e.errors()[0]
        return f"FHIR R4: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return None


def _resident(subject: Any) -> str | None:
    ref = subject.get("reference") if isinstance(subject, dict) else None
    if not isinstance(ref, str) or "|" not in ref:
        return None
    value = unquote(ref.split("|", 1)[1])
    out, escaped = [], False
    for ch in value:  # undo FHIR search escaping
        if escaped or ch != "\\":
            out.append(ch)
            escaped = False
        else:
            escaped = True
    return "".join(out)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _reading_ext(obs: dict[str, Any]) -> dict[str, Any] | None:
    for ext in _list(obs.get("extension")):
        if isinstance(ext, dict) and ext.get("url") == EXT_READING:
            out: dict[str, Any] = {}
            for sub in _list(ext.get("extension")):
                if isinstance(sub, dict):
                    values = [v for k, v in sub.items() if k.startswith("value")]
                    if values:
                        out.setdefault(str(sub.get("url")), values[0])
            return out
    return None


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def payload(reading: FhirReading) -> bytes:
    """What the store keeps of a reading that came as FHIR: its Observations."""
    return orjson.dumps({"format": "fhir", "observations": reading.observations})


def parse(raw: bytes) -> Parsed | str:
    """The readings of a Bundle, or why it cannot be taken at all (then it is not acked)."""
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        return f"not JSON: {e}"
    if not isinstance(doc, dict) or doc.get("resourceType") != "Bundle":
        return "not a FHIR Bundle"
    ident = doc.get("identifier")
    batch_id = ident.get("value") if isinstance(ident, dict) else None
    if not isinstance(batch_id, str) or not batch_id:
        return "Bundle without identifier.value (the batch id)"
    problem = (
        None if doc.get("type") == "transaction" else f"Bundle type {doc.get('type')!r} is not transaction"
    )
    problem = problem or _validate_models(doc)
    readings: dict[str, FhirReading] = {}
    rejected: dict[str, str] = {}
    for entry in _list(doc.get("entry")):
        res = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(res, dict) or res.get("resourceType") != "Observation":
            continue
        ext = _reading_ext(res)
        rid = ext.get("id") if ext else None
        if not isinstance(rid, str):
            continue
        assert ext is not None
        if problem is not None:
            rejected[rid] = problem
            continue
        revision = ext.get("revision")
        kind = ext.get("kind")
        if not isinstance(revision, int) or not isinstance(kind, str):
            rejected[rid] = "reading extension without revision/kind"
            continue
        resident = _resident(res.get("subject"))
        if resident is None:
            rejected[rid] = "Observation.subject is not a Patient identifier reference"
            continue
        cur = readings.get(rid)
        if cur is None or revision > cur.revision:
            effective = res.get("effectiveDateTime")
            cur = readings[rid] = FhirReading(revision, kind, resident, _when(effective))
        if revision == cur.revision:
            cur.observations.append(res)
    for rid in rejected:
        readings.pop(rid, None)
    return Parsed(batch_id, readings, rejected)
