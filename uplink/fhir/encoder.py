"""The MQTT hook for ``payload_format = "fhir"``: readings batches become FHIR Bundles.

``Uplink(..., encode_batch=mqtt_encoder(FhirSettings.from_mapping(cfg.uplink.model_dump())))``
publishes each readings batch as a transaction Bundle (``Bundle.identifier`` = batch id) on the
``readings`` topic; alerts keep the ``hut.alerts/1`` envelope; acks stay ``hut.ack/1``.
Readings the Bundle cannot carry are reported in ``Encoded.bad`` so the uplink keeps them aside
as rejected (never re-sent blindly, never lost).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson

from uplink import envelope
from uplink.fhir.bundle import FhirSettings, readings_bundle


def records(items: Iterable[Any]) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Stored outbox items -> JSON objects with their ``seq``; unreadable ones with a reason."""
    out: list[dict[str, Any]] = []
    bad: dict[str, str] = {}
    for it in items:
        try:
            obj = orjson.loads(it.payload)
        except orjson.JSONDecodeError:
            obj = None
        if not isinstance(obj, dict):
            bad[it.id] = envelope.NOT_AN_OBJECT
            continue
        obj["seq"] = it.seq
        out.append(obj)
    return out, bad


def mqtt_encoder(settings: FhirSettings) -> envelope.EncodeBatch:
    def encode(
        stream: str, gateway_id: str, batch_id: str, sent_at: datetime, items: Sequence[Any]
    ) -> envelope.Encoded:
        if stream != "readings":
            return envelope.encode(stream, gateway_id, batch_id, sent_at, items)
        objs, bad = records(items)
        conv = readings_bundle(
            objs, gateway_id=gateway_id, batch_id=batch_id, sent_at=sent_at, settings=settings
        )
        bad.update(conv.skipped)
        payload = orjson.dumps(conv.bundle) if conv.ids else b""
        return envelope.Encoded(payload, conv.ids, bad)

    return encode
