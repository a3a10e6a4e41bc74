"""The reading kinds the gateway knows: a re-export of the kind catalogue (``drivers/kinds.py``),
plus each kind's outbox lane as a :class:`buffer.record.Lane`."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from buffer.record import Lane
from drivers.kinds import CONVERSIONS, KINDS, KindSpec, ValueSpec, normalise

#: kind -> the outbox lane its readings go in.
LANES: Mapping[str, Lane] = MappingProxyType({k: Lane[s.lane.upper()] for k, s in KINDS.items()})

__all__ = ["CONVERSIONS", "KINDS", "LANES", "KindSpec", "ValueSpec", "normalise"]
