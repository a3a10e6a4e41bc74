"""JSON Schemas generated from the contract models, and the AsyncAPI 3 document built around them.

``python -m uplink.schemas docs/`` rewrites ``docs/asyncapi.yaml`` and ``docs/schemas/*.json``;
a test fails when the committed files differ from what this module generates, and another checks
that every example in the AsyncAPI document validates against its schema.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from uplink.commands import canonical_bytes, public_key_b64
from uplink.contract import (
    Ack,
    AlertsEnvelope,
    AlertStatusEnvelope,
    Command,
    CommandResult,
    ReadingsEnvelope,
    Receipt,
    Status,
)
from uplink.topics import (
    ACK,
    ALERT_STATUS,
    ALERTS,
    COMMAND_RESULTS,
    COMMANDS,
    DEFAULT_PREFIX,
    READINGS,
    STATUS,
    topic,
)

MODELS: dict[str, type[BaseModel]] = {
    "ReadingsEnvelope": ReadingsEnvelope,
    "AlertsEnvelope": AlertsEnvelope,
    "AlertStatusEnvelope": AlertStatusEnvelope,
    "Ack": Ack,
    "Status": Status,
    "Command": Command,
    "CommandResult": CommandResult,
}
#: What travels as a file, not on a topic: its JSON Schema goes to docs/schemas/ as well.
FILE_MODELS: dict[str, type[BaseModel]] = {"Receipt": Receipt}

REF_TEMPLATE = "#/components/schemas/{model}"

GW = "hut-0042"
_R1 = "01938f2a-6c00-7a01-8c3e-1f2a3b4c5d6e"
_R2 = "01938f2a-6c10-7b02-9d4f-2a3b4c5d6e7f"
_A1 = "01938f2a-6c20-7c03-ae50-3b4c5d6e7f80"
_B1 = "01938f2a-6d00-7d04-bf61-4c5d6e7f8091"
_B2 = "01938f2a-6d10-7e05-8072-5d6e7f8091a2"
_C1 = "01938f2a-7000-7f06-9183-6e7f8091a2b3"

EXAMPLES: dict[str, list[dict[str, Any]]] = {
    "ReadingsEnvelope": [
        {
            "schema": "hut.readings/1",
            "gateway_id": GW,
            "batch_id": _B1,
            "sent_at": "2026-11-29T08:15:02.120000+00:00",
            "readings": [
                {
                    "seq": 1041,
                    "id": _R1,
                    "revision": 0,
                    "kind": "blood_pressure",
                    "resident_id": "r-0107",
                    "attribution": "personal",
                    "device": {"id": "cuff-2", "profile": "omron.bp.ble", "address": "F4:5E:AB:01:22:90"},
                    "measured_at": "2026-11-29T16:14:40",
                    "received_at": "2026-11-29T08:14:55+00:00",
                    "effective_at": "2026-11-29T08:14:40+00:00",
                    "time_source": "device",
                    "values": {
                        "systolic": {"value": 148, "unit": "mm[Hg]"},
                        "diastolic": {"value": 92, "unit": "mm[Hg]"},
                        "pulse": {"value": 71, "unit": "/min"},
                    },
                    "classification": {
                        "guideline": "china-hypertension",
                        "version": "2018",
                        "category": "grade1",
                        "label": "Grade 1 hypertension",
                    },
                },
                {
                    "seq": 1042,
                    "id": _R2,
                    "revision": 1,
                    "kind": "weight",
                    "resident_id": "r-0033",
                    "attribution": "assigned",
                    "device": {"id": "scale-1", "profile": "tanita.serial"},
                    "received_at": "2026-11-29T08:15:00+00:00",
                    "effective_at": "2026-11-29T08:15:00+00:00",
                    "time_source": "gateway",
                    "values": {"weight": {"value": 61.4, "unit": "kg"}},
                    "flags": ["reattributed"],
                },
            ],
        }
    ],
    "AlertsEnvelope": [
        {
            "schema": "hut.alerts/1",
            "gateway_id": GW,
            "batch_id": _B2,
            "sent_at": "2026-11-29T08:15:02.300000+00:00",
            "alerts": [
                {
                    "seq": 1043,
                    "id": _A1,
                    "kind": "bp_crisis",
                    "severity": "critical",
                    "resident_id": "r-0107",
                    "notify": ["village-doctor"],
                    "raised_at": "2026-11-29T08:14:56+00:00",
                    "message": "Blood pressure 182/121 mmHg: hypertensive crisis",
                    "reading_id": _R1,
                }
            ],
        }
    ],
    "AlertStatusEnvelope": [
        {
            "schema": "hut.alert_status/1",
            "gateway_id": GW,
            "batch_id": _B2,
            "sent_at": "2026-11-29T08:16:10+00:00",
            "alert_status": [
                {
                    "seq": 1044,
                    "id": "019ad1f0-1a2b-7c3d-8e4f-5a6b7c8d9e01",
                    "alert_id": _A1,
                    "kind": "sos",
                    "resident_id": "r-0107",
                    "event": "notified",
                    "state": "notifying",
                    "round": 1,
                    "at": "2026-11-29T08:14:58Z",
                    "to": "+8613800000001",
                    "role": "clinic",
                    "channel": "sms",
                    "purpose": "urgent",
                    "message_round": 1,
                },
                {
                    "seq": 1045,
                    "id": "019ad1f0-1a2b-7c3d-8e4f-5a6b7c8d9e02",
                    "alert_id": _A1,
                    "kind": "sos",
                    "resident_id": "r-0107",
                    "event": "acknowledged",
                    "state": "acknowledged",
                    "round": 1,
                    "at": "2026-11-29T08:16:05Z",
                    "by": "+8613900000002",
                    "by_label": "家属（尾号0002）",
                    "role": "guardian",
                    "channel": "sms",
                    "via": "sms",
                },
            ],
        }
    ],
    "Ack": [  # signed with the example key bytes(range(32)) (uplink.commands.sign_ack)
        {
            "schema": "hut.ack/1",
            "batch_id": _B1,
            "gateway_id": "hut-0042",
            "accepted": [_R1, _R2],
            "rejected": [],
            "signature": "igR6vxUVAxtguhMF4rZry0lgysJAjFgqNK+/N18JJOct"
            "qQWVOd3SyQYUKsjXk+no2eHwbSI1d2rOptOJCbU9CQ==",
        },
        {
            "schema": "hut.ack/1",
            "batch_id": _B1,
            "gateway_id": "hut-0042",
            "accepted": [_R1],
            "rejected": [{"id": _R2, "reason": "schema: kind: Input should be 'blood_pressure', ..."}],
            "signature": "14DZl+sxq0E+bJWE/TDN2KJhQhRv1Ua1WKKz3IOhdX6c"
            "qEcZZo5KMk/pLUVBUPF9MoHBrcRcYq4drUzPByJvDw==",
        },
    ],
    "Status": [
        {
            "schema": "hut.status/1",
            "gateway_id": GW,
            "state": "online",
            "at": "2026-11-29T08:16:00+00:00",
            "counters": {
                "published": 1043,
                "acked": 1041,
                "rejected": 0,
                "resent": 0,
                "reconnects": 2,
                "inflight_batches": 1,
                "last_ack_at": "2026-11-29T08:15:02.410000+00:00",
                "outbox": {
                    "depth": {"alerts": {"pending": 0}, "clinical": {"pending": 12, "inflight": 2}},
                    "oldest_pending_age_s": 4.2,
                    "dropped": {},
                },
                "gateway": {"clock": {"synced": True, "source": "ntp"}},
            },
        },
        {"schema": "hut.status/1", "gateway_id": GW, "state": "offline", "counters": {}},
    ],
    "Command": [
        {
            "schema": "hut.command/1",
            "id": _C1,
            "gateway_id": GW,
            "name": "geofences",
            "args": {
                "resident_id": "r-0107",
                "geofences": [
                    {
                        "type": "Feature",
                        "geometry": {"type": "Point", "coordinates": [104.06, 30.67]},
                        "properties": {"name": "home", "kind": "safe", "radius_m": 800},
                    }
                ],
            },
            "issued_at": "2026-11-29T08:20:00Z",
            "expires_at": "2026-11-29T08:25:00Z",
            "signature": "(filled in below)",
        }
    ],
    "CommandResult": [
        {
            "schema": "hut.command_result/1",
            "command_id": _C1,
            "gateway_id": GW,
            "name": "geofences",
            "status": "done",
            "result": {"zones": 1},
            "at": "2026-11-29T08:20:01+00:00",
        },
        {
            "schema": "hut.command_result/1",
            "command_id": _C1,
            "gateway_id": GW,
            "name": "geofences",
            "status": "refused",
            "reason": "replayed: this command id was already received",
            "at": "2026-11-29T08:21:00+00:00",
        },
    ],
}


# The example command is really signed, by this well-known *example* key (never use it).
EXAMPLE_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
EXAMPLE_PUBLIC_KEY = public_key_b64(EXAMPLE_KEY)
for _cmd in EXAMPLES["Command"]:
    _cmd["signature"] = base64.b64encode(EXAMPLE_KEY.sign(canonical_bytes(_cmd))).decode()


def component_schemas() -> dict[str, Any]:
    """All schemas, keyed by name, with references as ``#/components/schemas/<Name>``."""
    _, top = models_json_schema(
        [(m, "validation") for m in MODELS.values()], ref_template=REF_TEMPLATE, by_alias=True
    )
    defs: dict[str, Any] = top["$defs"]
    return dict(sorted(defs.items()))


def standalone_schema(name: str) -> dict[str, Any]:
    """One model's JSON Schema with its dependencies under ``$defs`` (for docs/schemas/)."""
    schema = {**MODELS, **FILE_MODELS}[name].model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://hut-gateway.example/schemas/{name}.schema.json"
    return schema


CHANNELS: list[tuple[str, str, str, str, str]] = [
    # channel, message, action (from the gateway's point of view), qos/retain note, description
    (
        READINGS,
        "ReadingsEnvelope",
        "send",
        "1",
        "Readings, in batches. Answered by an ack (county ack mode).",
    ),
    (ALERTS, "AlertsEnvelope", "send", "1", "Alerts, in batches; drained before readings."),
    (
        ALERT_STATUS,
        "AlertStatusEnvelope",
        "send",
        "1",
        "Each step of an urgent alert's notification: round started, notified, failed, acknowledged, "
        "unanswered, reminded (docs/alerts.md). Answered by an ack like the others.",
    ),
    (
        ACK,
        "Ack",
        "receive",
        "1",
        "The county's receipt for one envelope (by batch_id), signed by the county key.",
    ),
    (
        STATUS,
        "Status",
        "send",
        "1",
        "Birth (online), heartbeat (online + counters), last will (offline); retained.",
    ),
    (COMMANDS, "Command", "receive", "1", "Ed25519-signed down-link commands."),
    (COMMAND_RESULTS, "CommandResult", "send", "1", "One result per command: done, refused or failed."),
]


def asyncapi() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for leaf, msg, action, qos, description in CHANNELS:
        channels[leaf] = {
            "address": topic(DEFAULT_PREFIX, "{gateway_id}", leaf),
            "description": description,
            "parameters": {"gateway_id": {"description": "the gateway's id (config gateway_id)"}},
            "messages": {msg: {"$ref": f"#/components/messages/{msg}"}},
        }
        op_name = ("send" if action == "send" else "receive") + "".join(p.title() for p in leaf.split("_"))
        operations[op_name] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{leaf}"},
            "summary": description,
            "bindings": {"mqtt": {"qos": int(qos), "retain": leaf == STATUS}},
            "messages": [{"$ref": f"#/channels/{leaf}/messages/{msg}"}],
        }
        messages[msg] = {
            "name": msg,
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{msg}"},
            "examples": [
                {"name": f"{msg}-{i + 1}", "payload": example} for i, example in enumerate(EXAMPLES[msg])
            ],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "hut-gateway uplink",
            "version": "1.0.0",
            "description": (
                "Village health-hut gateways to the county platform over MQTT. Described from the "
                "gateway's point of view (send = gateway publishes). Generated by `python -m "
                "uplink.schemas docs/` from uplink/contract.py; see docs/uplink.md. The example "
                f"command is signed by the published example key {EXAMPLE_PUBLIC_KEY} (never deploy it)."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "county": {
                "host": "county.example:8883",
                "protocol": "mqtts",
                "description": "County broker: mutual TLS (county CA pinned, per-gateway client cert).",
            },
            "county-password": {
                "host": "county.example:8883",
                "protocol": "mqtts",
                "description": "County broker with username/password over TLS.",
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": component_schemas()},
    }


def render_asyncapi() -> str:
    import yaml  # type: ignore[import-untyped,unused-ignore]

    return str(yaml.safe_dump(asyncapi(), sort_keys=False, allow_unicode=True, width=100))


def render_schema(name: str) -> str:
    return json.dumps(standalone_schema(name), indent=2, ensure_ascii=False) + "\n"


def write(docs: Path) -> list[Path]:
    written = [docs / "asyncapi.yaml"]
    written[0].write_text(render_asyncapi(), encoding="utf-8")
    (docs / "schemas").mkdir(exist_ok=True)
    for name in (*MODELS, *FILE_MODELS):
        path = docs / "schemas" / f"{name}.schema.json"
        path.write_text(render_schema(name), encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover
    for p in write(Path(sys.argv[1] if len(sys.argv) > 1 else "docs")):
        print(p)
