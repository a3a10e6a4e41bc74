"""The uplink's topics are named once (uplink/topics.py): the gateway, the county receiver and the
AsyncAPI document take them from there."""

from __future__ import annotations

import pytest

from county.receiver import subscriptions
from uplink import schemas, topics
from uplink.contract import UPLINK_STREAMS
from uplink.settings import UplinkSettings


def test_the_pattern_and_the_leaves() -> None:
    assert topics.topic("hut/v1", "hut-1", topics.READINGS) == "hut/v1/hut-1/readings"
    assert topics.LEAVES == (
        "readings",
        "alerts",
        "alert_status",
        "ack",
        "status",
        "commands",
        "command_results",
    )
    assert UPLINK_STREAMS == topics.UPLINK_STREAMS == ("readings", "alerts", "alert_status")
    assert topics.gateway_topics("p", "g") == {leaf: f"p/g/{leaf}" for leaf in topics.LEAVES}
    assert UplinkSettings(broker="mqtt://127.0.0.1:1883").topic("g", "ack") == "hut/v1/g/ack"


def test_the_county_subscribes_to_the_streams_and_the_side_topics() -> None:
    leaves = ("readings", "alerts", "alert_status", "status", "command_results")
    plain = [f"hut/v1/+/{leaf}" for leaf in leaves]
    assert topics.county_subscriptions("hut/v1") == plain == subscriptions("hut/v1", None)
    assert subscriptions("hut/v1", "county") == [f"$share/county/{f}" for f in plain]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("hut/v1/hut-1/readings", ("hut-1", "readings")),
        ("hut/v1/hut-1/command_results", ("hut-1", "command_results")),
        ("hut/v1/hut-1/ack", None),  # the county's own acks are not taken back
        ("hut/v1/hut-1/commands", None),
        ("hut/v2/hut-1/readings", None),
        ("hut/v1/readings", None),
        ("readings", None),
    ],
)
def test_split(name: str, expected: tuple[str, str] | None) -> None:
    assert topics.split("hut/v1", name) == expected


def test_the_asyncapi_document_has_a_channel_per_topic() -> None:
    assert tuple(leaf for leaf, *_ in schemas.CHANNELS) == topics.LEAVES
    doc = schemas.asyncapi()
    assert {leaf: ch["address"] for leaf, ch in doc["channels"].items()} == {
        leaf: f"hut/v1/{{gateway_id}}/{leaf}" for leaf in topics.LEAVES
    }
