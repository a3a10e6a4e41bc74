"""A tiny Prometheus registry: counters and gauges, labelled families, text exposition format 0.0.4.

No dependency and no global registry: the daemon creates one :class:`MetricsRegistry`, registers its
metrics at wiring time and serves :meth:`MetricsRegistry.render` at ``GET /metrics`` with
:data:`CONTENT_TYPE`. Metrics are updated from the event loop (no locking).

Values that are cheaper to read at scrape time than to keep current (queue depths, oldest
pending age) are set by a collector: ``registry.on_collect(fn)`` runs ``fn()`` before every
render. Label values are device ids, profiles, lanes: never resident data.

    reg = MetricsRegistry()
    decode_errors = reg.counter("hutgw_decode_errors_total", "Frames refused by a decoder.",
                                ("profile", "category"))
    decode_errors.labels("omron.bp", "checksum").inc()
    depth = reg.gauge("hutgw_outbox_pending", "Records waiting for the uplink.", ("lane",))
    reg.on_collect(lambda: depth.labels("readings").set(outbox.pending_count))
    text = reg.render()
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Literal

from gateway.errors import GatewayError

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

Kind = Literal["counter", "gauge"]


class MetricError(GatewayError, ValueError):
    """A metric was registered or used against the exposition rules (a programming error)."""


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it: integers without a fraction, ``+Inf``, ``NaN``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _escape_label(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


class Child:
    """One time series: a family's value for one combination of label values."""

    __slots__ = ("_kind", "value")

    def __init__(self, kind: Kind) -> None:
        self._kind = kind
        self.value = 0.0

    def inc(self, amount: float = 1.0) -> None:
        if self._kind == "counter" and (amount < 0 or math.isnan(amount)):
            raise MetricError(f"a counter only goes up (inc by {amount})", hint="use a gauge")
        self.value += amount

    def dec(self, amount: float = 1.0) -> None:
        if self._kind == "counter":
            raise MetricError("a counter only goes up", hint="use a gauge")
        self.value -= amount

    def set(self, value: float) -> None:
        if self._kind == "counter":
            raise MetricError("a counter cannot be set", hint="use a gauge")
        self.value = float(value)

    def set_to_current_time(self, clock: Callable[[], float] = time.time) -> None:
        self.set(clock())

    def set_total(self, value: float) -> None:
        """A counter copied from a running total kept elsewhere (kernel CPU time, a client's count)."""
        if self._kind == "counter" and not value >= self.value:
            raise MetricError(f"a counter only goes up ({self.value} -> {value})")
        self.value = float(value)


class Family:
    """A named metric with fixed label names; without labels it acts as its own single series."""

    def __init__(self, kind: Kind, name: str, help: str, labelnames: Iterable[str] = ()) -> None:
        if not _NAME.match(name):
            raise MetricError(f"invalid metric name {name!r}")
        if kind == "counter" and not name.endswith("_total"):
            raise MetricError(f"counter {name!r} must end in _total")
        self.labelnames = tuple(labelnames)
        for label in self.labelnames:
            if not _LABEL.match(label) or label.startswith("__"):
                raise MetricError(f"invalid label name {label!r} in {name}")
        if len(set(self.labelnames)) != len(self.labelnames):
            raise MetricError(f"duplicate label name in {name}: {self.labelnames}")
        self.kind: Kind = kind
        self.name = name
        self.help = help
        self._children: dict[tuple[str, ...], Child] = {}
        if not self.labelnames:
            self._children[()] = Child(kind)

    def labels(self, *values: str, **named: str) -> Child:
        """The series for these label values (created at zero on first use)."""
        if values and named:
            raise MetricError(f"{self.name}: give label values by position or by name, not both")
        if named:
            if set(named) != set(self.labelnames):
                raise MetricError(f"{self.name} takes labels {self.labelnames}, got {tuple(named)}")
            values = tuple(named[n] for n in self.labelnames)
        if len(values) != len(self.labelnames) or not self.labelnames:
            raise MetricError(f"{self.name} takes labels {self.labelnames}, got {len(values)} value(s)")
        key = tuple(str(v) for v in values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = Child(self.kind)
        return child

    def remove(self, *values: str) -> None:
        """Forget one series (a device that was unregistered)."""
        self._children.pop(tuple(str(v) for v in values), None)

    def clear(self) -> None:
        """Forget every labelled series (before re-setting them all in a collector)."""
        if self.labelnames:
            self._children.clear()

    def _only(self) -> Child:
        if self.labelnames:
            raise MetricError(f"{self.name} has labels {self.labelnames}: use .labels(...) first")
        return self._children[()]

    def inc(self, amount: float = 1.0) -> None:
        self._only().inc(amount)

    def dec(self, amount: float = 1.0) -> None:
        self._only().dec(amount)

    def set(self, value: float) -> None:
        self._only().set(value)

    def set_to_current_time(self, clock: Callable[[], float] = time.time) -> None:
        self._only().set_to_current_time(clock)

    def set_total(self, value: float) -> None:
        self._only().set_total(value)

    @property
    def value(self) -> float:
        return self._only().value

    def samples(self) -> Iterator[tuple[tuple[str, ...], float]]:
        for key in sorted(self._children):
            yield key, self._children[key].value

    def render(self) -> str:
        lines = [f"# HELP {self.name} {_escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]
        for key, value in self.samples():
            if key:
                pairs = ",".join(
                    f'{n}="{_escape_label(v)}"' for n, v in zip(self.labelnames, key, strict=True)
                )
                lines.append(f"{self.name}{{{pairs}}} {format_value(value)}")
            else:
                lines.append(f"{self.name} {format_value(value)}")
        return "\n".join(lines) + "\n"


class MetricsRegistry:
    """The set of metrics one daemon exposes, rendered in registration order."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or logging.getLogger(__name__)
        self._families: dict[str, Family] = {}
        self._collectors: list[Callable[[], None]] = []

    def _add(self, family: Family) -> Family:
        if family.name in self._families:
            raise MetricError(f"metric {family.name} is already registered")
        self._families[family.name] = family
        return family

    def counter(self, name: str, help: str, labelnames: Iterable[str] = ()) -> Family:
        return self._add(Family("counter", name, help, labelnames))

    def gauge(self, name: str, help: str, labelnames: Iterable[str] = ()) -> Family:
        return self._add(Family("gauge", name, help, labelnames))

    def on_collect(self, collector: Callable[[], None]) -> None:
        """Run ``collector()`` before every render, to refresh gauges from live state."""
        self._collectors.append(collector)

    def get(self, name: str) -> Family:
        try:
            return self._families[name]
        except KeyError:
            raise MetricError(f"no metric named {name!r}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._families

    def render(self) -> str:
        """The whole exposition text; a collector that raises is counted, not fatal."""
        failed = self._families.get("hutgw_metrics_collector_errors_total")
        for collect in self._collectors:
            try:
                collect()
            except Exception:
                self._log.warning("metrics collector %r failed", collect, exc_info=True)
                if failed is None:
                    failed = self.counter(
                        "hutgw_metrics_collector_errors_total", "Metric collectors that raised in a scrape."
                    )
                failed.inc()
        return "".join(f.render() for f in self._families.values())


class ProcessMetrics:
    """``process_*`` metrics of this process from ``/proc/self`` (allowed under ``ProcSubset=pid``).

    Registered with ``ProcessMetrics(registry)``; refreshed at every scrape.
    """

    def __init__(
        self, registry: MetricsRegistry, *, proc: str = "/proc/self", clock: Callable[[], float] = time.time
    ) -> None:
        self._proc = proc
        self._page = os.sysconf("SC_PAGE_SIZE")
        self._ticks = os.sysconf("SC_CLK_TCK")
        self.rss = registry.gauge("process_resident_memory_bytes", "Resident memory size in bytes.")
        self.cpu = registry.counter("process_cpu_seconds_total", "User and system CPU time spent in seconds.")
        self.fds = registry.gauge("process_open_fds", "Number of open file descriptors.")
        self.threads = registry.gauge("process_threads", "Number of OS threads in the process.")
        self.start = registry.gauge("process_start_time_seconds", "Start time of the metrics, Unix seconds.")
        self.start.set(clock())
        registry.on_collect(self.collect)

    def collect(self) -> None:
        with open(f"{self._proc}/stat", encoding="ascii") as f:
            # the command name may contain spaces and parentheses: split after the last ')'
            fields = f.read().rpartition(")")[2].split()
        utime, stime = int(fields[11]), int(fields[12])
        self.cpu.set_total((utime + stime) / self._ticks)
        self.threads.set(int(fields[17]))
        self.rss.set(int(fields[21]) * self._page)
        self.fds.set(len(os.listdir(f"{self._proc}/fd")))
