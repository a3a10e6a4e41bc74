"""The reference receiver's side of ``payload_format = "fhir"``: a Bundle on the readings topic.

:func:`parse` checks the Bundle (FHIR R4 models when ``fhir.resources`` is installed, the
structure the gateway writes in any case) and groups its Observations by the gateway reading
they carry (the ``urn:hutgw:fhir:StructureDefinition:reading`` extension). :func:`store` keeps
each reading once in the receiver's ``readings`` table, idempotent by reading id exactly like a
``hut.readings/1`` envelope (a higher revision replaces, an equal or lower one is a duplicate),
and returns the ``hut.ack/1`` to publish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import orjson

from uplink.contract import Ack, Rejection
from uplink.fhir.bundle import EXT_READING

if TYPE_CHECKING:
    from uplink.receiver import ReceiverStore, Stored


@dataclass(slots=True)
class _Reading:
    revision: int
    kind: str
    resident_id: str | None
    effective_at: str | None
    observations: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Parsed:
    batch_id: str
    readings: dict[str, _Reading]
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
    readings: dict[str, _Reading] = {}
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
            cur = readings[rid] = _Reading(
                revision, kind, resident, effective if isinstance(effective, str) else None
            )
        if revision == cur.revision:
            cur.observations.append(res)
    for rid in rejected:
        readings.pop(rid, None)
    return Parsed(batch_id, readings, rejected)


async def store(receiver: ReceiverStore, gateway_id: str, raw: bytes) -> Stored | None:
    """Store a Bundle's readings once each; ``None`` when it is too broken to ack."""
    from uplink.receiver import FOREIGN_READING, Stored

    parsed = parse(raw)
    if isinstance(parsed, str):
        await receiver._invalid(gateway_id, None, parsed, raw)
        return None
    now = receiver._clock()
    db = receiver.db
    await db.execute("BEGIN IMMEDIATE")
    try:
        existing = await receiver._existing("readings", list(parsed.readings))
        inserts: list[tuple[Any, ...]] = []
        updates: list[tuple[Any, ...]] = []
        dups = 0
        foreign: list[str] = []  # ids another gateway's readings have: never stored over them
        for rid, r in parsed.readings.items():
            payload = orjson.dumps({"format": "fhir", "observations": r.observations})
            row = (
                gateway_id,
                r.revision,
                r.kind,
                r.resident_id,
                r.effective_at,
                parsed.batch_id,
                payload,
                now,
                rid,
            )
            old = existing.get(rid)
            if old is None:
                inserts.append(row)
            elif old[1] != gateway_id:
                foreign.append(rid)
            elif r.revision > old[0]:
                updates.append(row)
            else:
                dups += 1
        if inserts:
            await db.executemany(
                "INSERT INTO readings (gateway_id, revision, kind, resident_id, effective_at, batch_id,"
                " payload, received_at, id) VALUES (?,?,?,?,?,?,?,?,?)",
                inserts,
            )
        if updates:
            await db.executemany(
                "UPDATE readings SET gateway_id=?, revision=?, kind=?, resident_id=?, effective_at=?,"
                " batch_id=?, payload=?, received_at=? WHERE id=?",
                updates,
            )
        rejected = {**parsed.rejected, **dict.fromkeys(foreign, FOREIGN_READING)}
        await receiver._finish(gateway_id, parsed.batch_id, rejected, {}, dups, len(updates), now)
    except BaseException:
        await db.execute("ROLLBACK")
        raise
    ack = Ack(
        batch_id=parsed.batch_id,
        gateway_id=gateway_id,
        accepted=[i for i in parsed.readings if i not in rejected],
        rejected=[Rejection(id=i, reason=r) for i, r in rejected.items()],
    )
    return Stored(ack, len(inserts), len(updates), dups)
