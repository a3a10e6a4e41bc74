"""The Prometheus registry: exact text, checked again with the reference parser (prometheus-client)."""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import CONTENT_TYPE, MetricError, MetricsRegistry, ProcessMetrics, format_value


def parse(text: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """name -> {sorted label pairs -> value}, as Prometheus itself reads the text."""
    out: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return out


def daemon_registry() -> MetricsRegistry:
    """The metrics the daemon registers (issue 11), with some values."""
    reg = MetricsRegistry()
    depth = reg.gauge("hutgw_outbox_pending", "Records waiting for the uplink.", ("lane",))
    depth.labels("readings").set(12)
    depth.labels(lane="events").set(0)
    reg.gauge("hutgw_outbox_oldest_pending_age_seconds", "Age of the oldest undelivered record.").set(93.5)
    up = reg.gauge("hutgw_uplink_connected", "1 while the MQTT uplink is connected.")
    up.set(1)
    rc = reg.counter("hutgw_uplink_reconnects_total", "Uplink reconnections since start.")
    rc.inc()
    rc.inc(2)
    errs = reg.counter("hutgw_decode_errors_total", "Frames refused by a decoder.", ("profile", "category"))
    errs.labels("omron.bp", "checksum").inc()
    errs.labels("tanita.serial", "malformed").inc(4)
    seen = reg.gauge("hutgw_device_last_seen_timestamp_seconds", "Last frame from a device.", ("device",))
    seen.labels("cuff-1").set_to_current_time(lambda: 1_764_400_000.25)
    return reg


def test_render_exact_text() -> None:
    assert daemon_registry().render() == (
        "# HELP hutgw_outbox_pending Records waiting for the uplink.\n"
        "# TYPE hutgw_outbox_pending gauge\n"
        'hutgw_outbox_pending{lane="events"} 0\n'
        'hutgw_outbox_pending{lane="readings"} 12\n'
        "# HELP hutgw_outbox_oldest_pending_age_seconds Age of the oldest undelivered record.\n"
        "# TYPE hutgw_outbox_oldest_pending_age_seconds gauge\n"
        "hutgw_outbox_oldest_pending_age_seconds 93.5\n"
        "# HELP hutgw_uplink_connected 1 while the MQTT uplink is connected.\n"
        "# TYPE hutgw_uplink_connected gauge\n"
        "hutgw_uplink_connected 1\n"
        "# HELP hutgw_uplink_reconnects_total Uplink reconnections since start.\n"
        "# TYPE hutgw_uplink_reconnects_total counter\n"
        "hutgw_uplink_reconnects_total 3\n"
        "# HELP hutgw_decode_errors_total Frames refused by a decoder.\n"
        "# TYPE hutgw_decode_errors_total counter\n"
        'hutgw_decode_errors_total{profile="omron.bp",category="checksum"} 1\n'
        'hutgw_decode_errors_total{profile="tanita.serial",category="malformed"} 4\n'
        "# HELP hutgw_device_last_seen_timestamp_seconds Last frame from a device.\n"
        "# TYPE hutgw_device_last_seen_timestamp_seconds gauge\n"
        'hutgw_device_last_seen_timestamp_seconds{device="cuff-1"} 1764400000.25\n'
    )


def test_reference_parser_reads_what_we_render() -> None:
    parsed = parse(daemon_registry().render())
    assert parsed["hutgw_outbox_pending"] == {(("lane", "events"),): 0.0, (("lane", "readings"),): 12.0}
    assert parsed["hutgw_uplink_reconnects_total"] == {(): 3.0}
    assert parsed["hutgw_decode_errors_total"][(("category", "malformed"), ("profile", "tanita.serial"))] == 4
    assert parsed["hutgw_device_last_seen_timestamp_seconds"] == {(("device", "cuff-1"),): 1764400000.25}


def test_content_type_is_the_text_format() -> None:
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")


def test_label_values_and_help_are_escaped() -> None:
    reg = MetricsRegistry()
    g = reg.gauge("x_info", 'help with \\ and\nnewline "quoted"', ("device",))
    g.labels('a"b\\c\nd').set(1)
    text = reg.render()
    assert '# HELP x_info help with \\\\ and\\nnewline "quoted"\n' in text
    assert 'x_info{device="a\\"b\\\\c\\nd"} 1\n' in text
    assert parse(text)["x_info"] == {(("device", 'a"b\\c\nd'),): 1.0}


@given(st.text(max_size=30))
def test_any_label_value_round_trips(value: str) -> None:
    reg = MetricsRegistry()
    reg.gauge("g", "h", ("l",)).labels(value).set(2)
    assert parse(reg.render())["g"] == {(("l", value),): 2.0}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (3.0, "3"),
        (-2, "-2"),
        (0.5, "0.5"),
        (1e-7, "1e-07"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
    ],
)
def test_format_value(value: float, text: str) -> None:
    assert format_value(value) == text


def test_nan_is_written_as_prometheus_nan() -> None:
    reg = MetricsRegistry()
    reg.gauge("g", "h").set(math.nan)
    assert "g NaN\n" in reg.render()
    assert math.isnan(parse(reg.render())["g"][()])


def test_counters_only_go_up() -> None:
    reg = MetricsRegistry()
    c = reg.counter("c_total", "h")
    with pytest.raises(MetricError):
        c.inc(-1)
    with pytest.raises(MetricError):
        c.set(5)
    with pytest.raises(MetricError):
        c.dec()
    c.set_total(7)
    with pytest.raises(MetricError):
        c.set_total(6)
    assert c.value == 7


def test_gauges_go_both_ways() -> None:
    g = MetricsRegistry().gauge("g", "h")
    g.inc(5)
    g.dec(2)
    assert g.value == 3
    g.set(-1.5)
    assert g.value == -1.5


@pytest.mark.parametrize(
    ("kind", "name", "labels"),
    [
        ("counter", "reconnects", ()),  # counters end in _total
        ("gauge", "2bad", ()),
        ("gauge", "bad-name", ()),
        ("gauge", "g", ("__reserved",)),
        ("gauge", "g", ("bad-label",)),
        ("gauge", "g", ("a", "a")),
    ],
)
def test_invalid_names_are_refused(kind: str, name: str, labels: tuple[str, ...]) -> None:
    reg = MetricsRegistry()
    with pytest.raises(MetricError):
        getattr(reg, kind)(name, "h", labels)


def test_labels_must_match_the_family() -> None:
    reg = MetricsRegistry()
    fam = reg.counter("e_total", "h", ("profile",))
    with pytest.raises(MetricError):
        fam.inc()  # labelled family: choose a series first
    with pytest.raises(MetricError):
        fam.labels("a", "b")
    with pytest.raises(MetricError):
        fam.labels(device="x")
    with pytest.raises(MetricError):
        reg.gauge("plain", "h").labels("x")


def test_duplicate_registration_is_refused() -> None:
    reg = MetricsRegistry()
    reg.gauge("g", "h")
    with pytest.raises(MetricError, match="already registered"):
        reg.gauge("g", "h2")
    assert "g" in reg
    assert reg.get("g").kind == "gauge"


def test_remove_and_clear_series() -> None:
    reg = MetricsRegistry()
    seen = reg.gauge("seen", "h", ("device",))
    seen.labels("a").set(1)
    seen.labels("b").set(2)
    seen.remove("a")
    assert parse(reg.render())["seen"] == {(("device", "b"),): 2.0}
    seen.clear()
    assert "seen" not in parse(reg.render())
    assert "# TYPE seen gauge" in reg.render()


def test_collectors_run_before_every_render() -> None:
    reg = MetricsRegistry()
    depth = reg.gauge("depth", "h")
    queue = [1, 2, 3]
    reg.on_collect(lambda: depth.set(len(queue)))
    assert parse(reg.render())["depth"] == {(): 3.0}
    queue.append(4)
    assert parse(reg.render())["depth"] == {(): 4.0}


def test_a_failing_collector_is_counted_not_fatal() -> None:
    reg = MetricsRegistry()
    g = reg.gauge("g", "h")

    def broken() -> None:
        raise RuntimeError("database locked")

    reg.on_collect(broken)
    reg.on_collect(lambda: g.set(1))
    parsed = parse(reg.render())
    assert parsed["g"] == {(): 1.0}
    assert parsed["hutgw_metrics_collector_errors_total"] == {(): 1.0}
    assert parse(reg.render())["hutgw_metrics_collector_errors_total"] == {(): 2.0}


def test_process_metrics_from_proc() -> None:
    reg = MetricsRegistry()
    ProcessMetrics(reg, clock=lambda: 1000.0)
    before = parse(reg.render())
    fds_now = len(os.listdir("/proc/self/fd"))
    assert before["process_resident_memory_bytes"][()] > 1_000_000
    assert before["process_cpu_seconds_total"][()] > 0
    assert before["process_threads"][()] >= 1
    assert abs(before["process_open_fds"][()] - fds_now) <= 2
    assert before["process_start_time_seconds"] == {(): 1000.0}
    sum(i * i for i in range(300_000))  # burn some CPU: the counter must not go down
    after = parse(reg.render())
    assert after["process_cpu_seconds_total"][()] >= before["process_cpu_seconds_total"][()]
