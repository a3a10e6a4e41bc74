"""Merging the parts of one scale reading, per device, with injected (monotonic) time.

* Body Composition two-part records: consecutive BCM measurements flagged ``multiple_packet``
  from the same device are one record; a part that repeats a value the held record already has,
  or a part without the flag, closes it; so does ``fragment_window_s`` without a further part.
* Weight Measurement + Body Composition: body-composition scales indicate WM (weight, user, time
  stamp) then BCM (often without them). For devices pushed with ``pair_weight=True`` (profiles
  tagged ``merge_weight``, see :func:`pairs_weight`) a weight is
  held up to ``pair_window_s`` for its BCM (either order) and the two become one
  ``body_composition`` measurement; an unpaired weight is released as ``weight`` when the window
  ends, a second weight releases the first.

``push`` returns what is ready now; ``due(at)`` what timed out; ``flush(device)`` everything held
for a device (call it when the device disconnects). Other kinds pass straight through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from drivers.measurement import Measurement
from drivers.profile import Profile

MULTIPLE_PACKET = "multiple_packet"
MERGE_WEIGHT_TAG = "merge_weight"


def pairs_weight(profile: Profile | None) -> bool:
    """Whether a device with this profile sends Weight Measurement + BCM halves of one reading."""
    return profile is not None and MERGE_WEIGHT_TAG in profile.tags


def combine(first: Measurement, second: Measurement, kind: str | None = None) -> Measurement:
    """One measurement from two parts: the first value of each name wins; time, user and extras
    are taken from whichever part has them."""
    values = dict(first.values)
    for name, value in second.values.items():
        values.setdefault(name, value)
    time_from = first if first.device_time is not None else second
    flags = tuple(dict.fromkeys((*first.flags, *second.flags)))
    return Measurement(
        kind=kind or first.kind,
        values=values,
        device_time=time_from.device_time,
        device_time_note=time_from.device_time_note,
        user_index=first.user_index if first.user_index is not None else second.user_index,
        flags=flags,
        extras={**second.extras, **first.extras},
    )


@dataclass(slots=True)
class _Held:
    fragments: Measurement | None = None
    fragments_deadline: float = 0.0
    weight: Measurement | None = None
    body: Measurement | None = None
    pair_deadline: float = 0.0
    pair_weight: bool = False
    ready: list[Measurement] = field(default_factory=list)


class MeasurementMerger:
    def __init__(self, fragment_window_s: float = 2.0, pair_window_s: float = 5.0) -> None:
        self.fragment_window_s = fragment_window_s
        self.pair_window_s = pair_window_s
        self._held: dict[str, _Held] = {}

    def push(
        self, device: str, measurements: Sequence[Measurement], at: float, *, pair_weight: bool = False
    ) -> list[Measurement]:
        held = self._held.setdefault(device, _Held())
        held.pair_weight = pair_weight
        for m in measurements:
            if m.kind == "body_composition" and MULTIPLE_PACKET in m.flags:
                self._fragment(held, m, at)
            elif m.kind == "body_composition":
                self._close_fragments(held, at)
                self._pair(held, m, at)
            elif m.kind == "weight" and pair_weight:
                self._pair(held, m, at)
            else:
                held.ready.append(m)
        return self._take(device, held)

    def due(self, at: float) -> list[tuple[str, Measurement]]:
        out: list[tuple[str, Measurement]] = []
        for device, held in list(self._held.items()):
            if held.fragments is not None and at >= held.fragments_deadline:
                self._close_fragments(held, at)
            if (held.weight is not None or held.body is not None) and at >= held.pair_deadline:
                self._release_pair(held)
            out.extend((device, m) for m in self._take(device, held))
        return out

    def flush(self, device: str) -> list[Measurement]:
        held = self._held.get(device)
        if held is None:
            return []
        self._close_fragments(held, float("inf"))
        self._release_pair(held)
        return self._take(device, held)

    def next_deadline(self) -> float | None:
        deadlines = [h.fragments_deadline for h in self._held.values() if h.fragments is not None]
        deadlines += [
            h.pair_deadline for h in self._held.values() if h.weight is not None or h.body is not None
        ]
        return min(deadlines, default=None)

    def _take(self, device: str, held: _Held) -> list[Measurement]:
        ready, held.ready = held.ready, []
        if held.fragments is None and held.weight is None and held.body is None:
            self._held.pop(device, None)
        return ready

    def _fragment(self, held: _Held, m: Measurement, at: float) -> None:
        if held.fragments is not None and (set(held.fragments.values) - {"body_fat_pct"}) & set(m.values):
            self._close_fragments(held, at)
        held.fragments = m if held.fragments is None else combine(held.fragments, m)
        held.fragments_deadline = at + self.fragment_window_s

    def _close_fragments(self, held: _Held, at: float) -> None:
        if held.fragments is None:
            return
        record, held.fragments = held.fragments, None
        self._pair(held, replace(record, flags=tuple(f for f in record.flags if f != MULTIPLE_PACKET)), at)

    def _pair(self, held: _Held, m: Measurement, at: float) -> None:
        if not held.pair_weight:
            held.ready.append(m)
            return
        slot = "weight" if m.kind == "weight" else "body"
        other = held.body if slot == "weight" else held.weight
        if getattr(held, slot) is not None:
            self._release_pair(held)
            other = None
        if other is None:
            setattr(held, slot, m)
            held.pair_deadline = at + self.pair_window_s
            return
        body, weight = (other, m) if slot == "weight" else (m, other)
        held.weight = held.body = None
        held.ready.append(combine(body, weight, kind="body_composition"))

    def _release_pair(self, held: _Held) -> None:
        for m in (held.weight, held.body):
            if m is not None:
                held.ready.append(m)
        held.weight = held.body = None
