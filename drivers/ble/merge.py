"""Merging the parts of one scale reading, per device, with injected (monotonic) time.

* Body Composition two-part records: consecutive BCM measurements flagged ``multiple_packet``
  from the same device are one record; a part that repeats a value the held record already has,
  or a part without the flag, closes it; so does ``fragment_window_s`` without a further part.
* A part sent on its own, merged into its reading: the device definition says so as data,
  ``Profile.merge`` (:class:`drivers.profile.MergeInto`), and ``push(..., merge=profile.merge)``
  applies it. Body-composition scales indicate Weight Measurement (weight, user, time stamp) then
  BCM (often without them): ``MergeInto(part="weight", into="body_composition")``. A part is held
  up to ``pair_window_s`` for its reading (either order) and the two become one ``into``
  measurement; an unpaired part is released as it is when the window ends, a second part (or a
  second reading) releases the first.

``push`` returns what is ready now; ``due(at)`` what timed out; ``flush(device)`` everything held
for a device (call it when the device disconnects). Other kinds pass straight through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from drivers.measurement import Measurement
from drivers.profile import MergeInto, Profile

MULTIPLE_PACKET = "multiple_packet"


def merge_rule(profile: Profile | None) -> MergeInto | None:
    """How a device with this profile has its readings merged (``Profile.merge``), if at all."""
    return None if profile is None else profile.merge


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
    part: Measurement | None = None
    whole: Measurement | None = None
    pair_deadline: float = 0.0
    rule: MergeInto | None = None
    ready: list[Measurement] = field(default_factory=list)


class MeasurementMerger:
    def __init__(self, fragment_window_s: float = 2.0, pair_window_s: float = 5.0) -> None:
        self.fragment_window_s = fragment_window_s
        self.pair_window_s = pair_window_s
        self._held: dict[str, _Held] = {}

    def push(
        self,
        device: str,
        measurements: Sequence[Measurement],
        at: float,
        *,
        merge: MergeInto | None = None,
    ) -> list[Measurement]:
        """``merge``: the device definition's rule (``Profile.merge``), if it has one."""
        rule = merge
        held = self._held.setdefault(device, _Held())
        held.rule = rule
        for m in measurements:
            if m.kind == "body_composition" and MULTIPLE_PACKET in m.flags:
                self._fragment(held, m, at)
            elif m.kind == "body_composition":
                self._close_fragments(held, at)
                self._pair(held, m, at)
            elif rule is not None and m.kind in (rule.part, rule.into):
                self._pair(held, m, at)
            else:
                held.ready.append(m)
        return self._take(device, held)

    def due(self, at: float) -> list[tuple[str, Measurement]]:
        out: list[tuple[str, Measurement]] = []
        for device, held in list(self._held.items()):
            if held.fragments is not None and at >= held.fragments_deadline:
                self._close_fragments(held, at)
            if (held.part is not None or held.whole is not None) and at >= held.pair_deadline:
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
            h.pair_deadline for h in self._held.values() if h.part is not None or h.whole is not None
        ]
        return min(deadlines, default=None)

    def _take(self, device: str, held: _Held) -> list[Measurement]:
        ready, held.ready = held.ready, []
        if held.fragments is None and held.part is None and held.whole is None:
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
        rule = held.rule
        if rule is None or m.kind not in (rule.part, rule.into):
            held.ready.append(m)
            return
        is_part = m.kind == rule.part
        if (held.part if is_part else held.whole) is not None:
            self._release_pair(held)
        other = held.whole if is_part else held.part
        if other is None:
            if is_part:
                held.part = m
            else:
                held.whole = m
            held.pair_deadline = at + self.pair_window_s
            return
        whole, part = (other, m) if is_part else (m, other)
        held.part = held.whole = None
        held.ready.append(combine(whole, part, kind=rule.into))

    def _release_pair(self, held: _Held) -> None:
        for m in (held.part, held.whole):
            if m is not None:
                held.ready.append(m)
        held.part = held.whole = None
