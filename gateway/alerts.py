"""Alerts: what must reach a person (a guardian, the village doctor, the county) quickly.

:class:`AlertManager` gives every alert an id and holds back repeats: an alert whose condition
``(kind, resident, key)`` was raised less than the suppression time ago is not raised again but
counted; the next alert of that condition carries the count in ``suppressed_repeats`` and
:meth:`AlertManager.stats` reports the counts all along. SOS is never held back longer than
``sos_max_suppress_s`` (60 s at most): a watch repeats its SOS frame until acknowledged, and a
second press a minute later must reach someone.

``message`` is short text without health values (it may be logged); ``detail`` may carry the
values for the county. Alerts are logged at WARNING without either. The :class:`Alert` dataclass
and its wire form are :mod:`uplink.codec`'s (``Alert.to_wire()``, ``Alert.from_wire()``).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Protocol

from buffer.ids import uuid7
from drivers.kinds import alert_rules
from gateway.clock import Clock
from gateway.config import ClinicalConfig
from uplink.codec import Alert, Severity

log = logging.getLogger(__name__)

SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
KNOWN_KINDS = (
    "sos",
    "fall_down",
    "device_alarm",
    "watch_taken_off",
    "bp_crisis",
    "fence_exit",
    "fence_enter",
    "signal_lost",
    "signal_restored",
    "low_battery",
    "buffer_overflow",
    "buffer_recovered",
    "gateway_fault",
    "clock_unsynced",
    *alert_rules(),  # the kind catalogue's threshold alerts (drivers/kinds.py): low_spo2
)
SOS_KINDS = frozenset({"sos"})
SOS_MAX_SUPPRESS_S = 60.0
MAX_CONDITIONS = 10_000


class AlertRaiser(Protocol):
    """The narrow port for raising an alert (:class:`AlertManager` implements it): the pipeline,
    the fence monitor and the device supervisor's link faults raise theirs through it."""

    def raise_alert(
        self,
        kind: str,
        severity: Severity,
        resident_id: str | None,
        message: str,
        detail: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        notify: Sequence[str] | None = None,
        reading_id: str | None = None,
    ) -> Alert | None: ...


class AlertSink(Protocol):
    """Where raised alerts are handed to be kept and sent (the recorder, :mod:`gateway.recorder`:
    the escalation engine first, then the outbox, then the kiosk)."""

    async def alerts(self, alerts: Iterable[Alert]) -> None: ...


@dataclass(slots=True)
class _Condition:
    last_raised: float
    suppressed: int = 0
    suppressed_total: int = 0


class AlertManager:
    """Raises alerts with ids, notify lists and repeat suppression (see the module docstring).

    ``suppress_s`` is one time for every kind or a mapping kind -> seconds (key ``"*"`` or a
    missing kind: ``default_suppress_s``). ``guardians`` looks up whom to notify for a resident
    when the caller gives no ``notify``.
    """

    def __init__(
        self,
        clock: Clock,
        suppress_s: Mapping[str, float] | float = 900.0,
        *,
        default_suppress_s: float = 900.0,
        sos_max_suppress_s: float = SOS_MAX_SUPPRESS_S,
        guardians: Callable[[str], Sequence[str]] | None = None,
    ) -> None:
        self._clock = clock
        if isinstance(suppress_s, int | float):
            self._default = float(suppress_s)
            self._by_kind: dict[str, float] = {}
        else:
            self._by_kind = {k: float(v) for k, v in suppress_s.items() if k != "*"}
            self._default = float(suppress_s.get("*", default_suppress_s))
        self._sos_max = min(max(0.0, sos_max_suppress_s), SOS_MAX_SUPPRESS_S)
        self._guardians = guardians
        self._conditions: OrderedDict[tuple[str, str | None, str | None], _Condition] = OrderedDict()
        self._raised: dict[str, int] = {}
        self._suppressed: dict[str, int] = {}

    @classmethod
    def from_config(
        cls,
        clock: Clock,
        cfg: ClinicalConfig,
        *,
        guardians: Callable[[str], Sequence[str]] | None = None,
    ) -> AlertManager:
        """From ``[clinical]``: ``suppress_s``, ``suppress_by_kind_s``, ``sos_max_suppress_s``."""
        return cls(
            clock,
            {**cfg.suppress_by_kind_s, "*": cfg.suppress_s},
            sos_max_suppress_s=cfg.sos_max_suppress_s,
            guardians=guardians,
        )

    def window_s(self, kind: str) -> float:
        w = self._by_kind.get(kind, self._default)
        if kind in SOS_KINDS:
            w = min(w, self._sos_max)
        return max(0.0, w)

    def raise_alert(
        self,
        kind: str,
        severity: Severity,
        resident_id: str | None,
        message: str,
        detail: Mapping[str, Any] | None = None,
        *,
        key: str | None = None,
        notify: Sequence[str] | None = None,
        reading_id: str | None = None,
    ) -> Alert | None:
        """A new alert, or None when it repeats a condition raised within the suppression time."""
        if severity not in SEVERITIES:
            raise ValueError(f"unknown severity {severity!r}")
        if not kind:
            raise ValueError("alert kind is empty")
        now = self._clock.monotonic()
        cond_key = (kind, resident_id, key)
        cond = self._conditions.get(cond_key)
        window = self.window_s(kind)
        if cond is not None and now - cond.last_raised < window:
            cond.suppressed += 1
            cond.suppressed_total += 1
            self._suppressed[kind] = self._suppressed.get(kind, 0) + 1
            log.debug("alert %s for %s suppressed (%d repeats)", kind, resident_id, cond.suppressed)
            return None
        repeats = cond.suppressed if cond is not None else 0
        if cond is None:
            cond = _Condition(last_raised=now)
            self._conditions[cond_key] = cond
            while len(self._conditions) > MAX_CONDITIONS:
                self._conditions.popitem(last=False)
        cond.last_raised = now
        cond.suppressed = 0
        self._conditions.move_to_end(cond_key)
        if notify is None:
            notify = self._guardians(resident_id) if self._guardians and resident_id else ()
        alert = Alert(
            id=uuid7(),
            kind=kind,
            severity=severity,
            resident_id=resident_id,
            notify=tuple(dict.fromkeys(notify)),
            raised_at=self._clock.now(),
            message=message,
            reading_id=reading_id,
            detail=MappingProxyType(dict(detail or {})),
            suppressed_repeats=repeats,
        )
        self._raised[kind] = self._raised.get(kind, 0) + 1
        # which resident an alert is about is health data: above DEBUG only that it was raised
        log.warning("alert %s: %s (%s) repeats=%d", alert.id, kind, severity, repeats)
        log.debug("alert %s is for resident %s", alert.id, resident_id or "-")
        return alert

    def pending_repeats(self, kind: str, resident_id: str | None, key: str | None = None) -> int:
        """Repeats of one condition held back since it was last raised."""
        cond = self._conditions.get((kind, resident_id, key))
        return 0 if cond is None else cond.suppressed

    def stats(self) -> dict[str, Any]:
        """Counters: alerts raised and repeats suppressed per kind; repeats not yet reported."""
        pending = sum(c.suppressed for c in self._conditions.values())
        return {
            "raised": dict(self._raised),
            "suppressed": dict(self._suppressed),
            "pending_repeats": pending,
            "conditions": len(self._conditions),
        }
