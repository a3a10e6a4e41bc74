"""The texts people get, from the ``[notify.templates]`` of the config (pure: no I/O, no clock).

Short on purpose: one UCS-2 SMS holds 70 characters, and a phone shows a long one in parts.
A message names the resident (never a national ID), what happened, where and when (local time),
and how to acknowledge.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from gateway.notify.policy import KIND_NAMES_ZH, WHAT_ZH


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What a message may say about an alert."""

    kind: str
    name: str
    raised_at: datetime
    detail: Mapping[str, Any]


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def local_time(at: datetime, tz: str) -> str:
    t = at.astimezone(ZoneInfo(tz))
    return f"{t.month}月{t.day}日{t.hour:02d}:{t.minute:02d}"


def position_of(detail: Mapping[str, Any]) -> tuple[float, float] | None:
    """(latitude, longitude) from an alert's detail: an SOS's ``position`` or a fence event's ``fix``."""
    for key in ("position", "fix"):
        p = detail.get(key)
        if isinstance(p, Mapping):
            lat, lon = p.get("latitude", p.get("lat")), p.get("longitude", p.get("lon"))
            if isinstance(lat, int | float) and isinstance(lon, int | float):
                return float(lat), float(lon)
    return None


def where_zh(facts: AlertFacts) -> str:
    zone = facts.detail.get("zone")
    pos = position_of(facts.detail)
    coords = f"{pos[0]:.4f},{pos[1]:.4f}" if pos else None
    if isinstance(zone, str) and zone and facts.kind not in ("fence_exit", "fence_enter"):  # named in "what"
        return f"在“{zone}”附近（{coords}）" if coords else f"在“{zone}”附近"
    if coords:
        return f"位置{coords}"
    if facts.kind == "bp_crisis":
        return "在健康小屋测量"
    return "位置未知"


def what_zh(facts: AlertFacts) -> str:
    zone = facts.detail.get("zone")
    text = WHAT_ZH.get(facts.kind, f"发生{KIND_NAMES_ZH.get(facts.kind, facts.kind)}")
    value = facts.detail.get("value")
    unit = facts.detail.get("unit")
    shown = f"{value:g}{unit if isinstance(unit, str) else ''}" if isinstance(value, int | float) else ""
    return text.format(zone=f"“{zone}”" if isinstance(zone, str) and zone else "", value=shown)


def map_link(template: str | None, detail: Mapping[str, Any]) -> str:
    pos = position_of(detail)
    if not template or pos is None:
        return ""
    return template.format(lat=f"{pos[0]:.5f}", lon=f"{pos[1]:.5f}") + " "


def render(template: str, **values: Any) -> str:
    """``template`` with ``{name}``-style fields; a field the template does not know is left empty."""
    return template.format_map(_Blank(values))


def urgent_text(
    templates: Mapping[str, str], facts: AlertFacts, *, tz: str, map_template: str | None, round_no: int
) -> str:
    key = "urgent" if round_no <= 1 else "reminder"
    return render(
        templates[key],
        name=facts.name,
        what=what_zh(facts),
        where=where_zh(facts),
        time=local_time(facts.raised_at, tz),
        map=map_link(map_template, facts.detail),
        kind=KIND_NAMES_ZH.get(facts.kind, facts.kind),
        round=round_no,
    )


def unanswered_text(templates: Mapping[str, str], facts: AlertFacts, *, tz: str, count: int) -> str:
    return render(
        templates["unanswered"],
        name=facts.name,
        what=what_zh(facts),
        where=where_zh(facts),
        time=local_time(facts.raised_at, tz),
        kind=KIND_NAMES_ZH.get(facts.kind, facts.kind),
        count=count,
    )


def acknowledged_text(templates: Mapping[str, str], facts: AlertFacts, *, by: str) -> str:
    return render(
        templates["acknowledged"], name=facts.name, kind=KIND_NAMES_ZH.get(facts.kind, facts.kind), by=by
    )


def digest_text(templates: Mapping[str, str], day: str, counts: Sequence[tuple[str, str, int]]) -> str:
    """``counts``: (resident name or "", kind, how many) in the order to list them."""
    items = "；".join(
        f"{name + ' ' if name else ''}{KIND_NAMES_ZH.get(kind, kind)}{n}次" for name, kind, n in counts
    )
    return render(templates["digest"], date=day, items=items + "。")
