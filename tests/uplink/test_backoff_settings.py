from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uplink.backoff import Backoff
from uplink.errors import UplinkError
from uplink.settings import TlsSettings, UplinkSettings


@given(st.integers(min_value=0, max_value=10_000))
def test_full_jitter_stays_between_zero_and_the_capped_ceiling(seed: int) -> None:
    b = Backoff(initial_s=1.0, cap_s=300.0, rng=random.Random(seed))
    for attempt in range(40):
        ceiling = min(300.0, 2.0**attempt)
        assert 0.0 <= b.next_delay() <= ceiling


def test_ceiling_grows_exponentially_to_the_cap_and_resets_after_a_healthy_connection() -> None:
    b = Backoff(initial_s=1.0, cap_s=300.0, healthy_after_s=60.0, rng=random.Random(1))
    ceilings = []
    for _ in range(11):
        ceilings.append(b.ceiling())
        b.next_delay()
    assert ceilings == [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    b.connection_ended(10.0)  # a short connection does not count as healthy
    assert b.ceiling() == 300
    b.connection_ended(61.0)
    assert b.ceiling() == 1


def test_delays_are_spread_not_synchronised() -> None:
    delays = [Backoff(rng=random.Random(i), attempt=8).next_delay() for i in range(200)]
    assert min(delays) < 30 and max(delays) > 200  # hundreds of huts do not reconnect in step


def test_settings_from_a_config_mapping() -> None:
    data = {
        "broker": "mqtts://county.example:8883",
        "tls": {
            "ca_file": "/etc/hutgw/ca.crt",
            "cert_file": None,
            "key_file": None,
            "insecure_skip_hostname_check": False,
        },
        "payload_format": "hut",  # a config key the uplink does not use
        "ack_mode": "broker",
    }
    s = UplinkSettings.from_mapping(data, state_dir=Path("/var/lib/hutgw"))
    assert s.tls == TlsSettings(ca_file=Path("/etc/hutgw/ca.crt"))
    assert (s.host, s.port, s.use_tls, s.ack_mode) == ("county.example", 8883, True, "broker")
    assert s.topic("hut-1", "readings") == "hut/v1/hut-1/readings"
    assert UplinkSettings(broker="mqtt://h").port == 1883


def test_settings_refuse_a_non_mqtt_url() -> None:
    with pytest.raises(UplinkError, match="not a mqtt:// or mqtts:// URL"):
        UplinkSettings(broker="http://county.example")
    with pytest.raises(UplinkError, match="no broker"):
        UplinkSettings.from_mapping({"broker": None})
