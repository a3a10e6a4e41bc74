"""The uplink's MQTT topics, named once: ``<prefix>/<gateway_id>/<leaf>`` (docs/uplink.md).

The gateway's uplink (:mod:`uplink.client`), the county receiver (:mod:`county.receiver`), the
AsyncAPI generator (:mod:`uplink.schemas`) and the command line take the leaf names, the topic
pattern and the subscription filters from here. The county broker's ACL
(``county/mosquitto/acl``) is data and spells them itself; a test runs it on a real broker.
"""

from __future__ import annotations

from typing import Final

DEFAULT_PREFIX: Final = "hut/v1"

READINGS: Final = "readings"  # gateway -> county, QoS 1, ReadingsEnvelope
ALERTS: Final = "alerts"  # gateway -> county, QoS 1, AlertsEnvelope
ALERT_STATUS: Final = "alert_status"  # gateway -> county, QoS 1, AlertStatusEnvelope
ACK: Final = "ack"  # county -> gateway, QoS 1, Ack
STATUS: Final = "status"  # gateway -> county, retained where supported, Status
COMMANDS: Final = "commands"  # county -> gateway, QoS 1, Command (Ed25519-signed)
COMMAND_RESULTS: Final = "command_results"  # gateway -> county, QoS 1, CommandResult

#: The gateway's outbox streams that travel to the county, each on the topic of its name.
UPLINK_STREAMS: Final = (READINGS, ALERTS, ALERT_STATUS)
#: What else the gateway publishes (not from the outbox, never acked by the county).
SIDE_LEAVES: Final = (STATUS, COMMAND_RESULTS)
#: Every leaf, in the order of the AsyncAPI document's channels.
LEAVES: Final = (*UPLINK_STREAMS, ACK, STATUS, COMMANDS, COMMAND_RESULTS)
#: What the county receiver takes: the streams, then the side topics.
COUNTY_LEAVES: Final = (*UPLINK_STREAMS, *SIDE_LEAVES)


def topic(prefix: str, gateway_id: str, leaf: str) -> str:
    """``<prefix>/<gateway_id>/<leaf>``."""
    return f"{prefix}/{gateway_id}/{leaf}"


def gateway_topics(prefix: str, gateway_id: str) -> dict[str, str]:
    """One gateway's topics, by leaf (every leaf, in :data:`LEAVES` order)."""
    return {leaf: topic(prefix, gateway_id, leaf) for leaf in LEAVES}


def county_subscriptions(prefix: str, group: str | None = None) -> list[str]:
    """The filters one county receiver instance subscribes to, for every gateway under ``prefix``:
    ``<prefix>/+/<leaf>`` for :data:`COUNTY_LEAVES`, as the MQTT shared subscription
    ``$share/<group>/<prefix>/+/<leaf>`` when ``group`` is set."""
    share = f"$share/{group}/" if group else ""
    return [share + topic(prefix, "+", leaf) for leaf in COUNTY_LEAVES]


def split(prefix: str, name: str) -> tuple[str, str] | None:
    """``(gateway_id, leaf)`` of a topic under ``prefix``, or ``None`` when it is not one of
    ours (another prefix, another depth, or a leaf the county does not take)."""
    parts = name.rsplit("/", 2)
    if len(parts) != 3 or parts[0] != prefix or parts[2] not in COUNTY_LEAVES:
        return None
    return parts[1], parts[2]
