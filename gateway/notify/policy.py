"""Which alerts ring phones, who is asked, and what a reply must say (pure: no I/O, no clock)."""

from __future__ import annotations

import re
import unicodedata
from typing import Final, Literal

from drivers.kinds import alert_rules

Role = Literal["guardian", "clinic", "escalation", "digest", "other"]

#: Alert kinds that ring phones at once, whatever their severity (and every ``critical`` alert).
URGENT_KINDS: Final = frozenset(
    {"sos", "fall_down", "fence_exit", "fence_enter", "bp_crisis", "device_alarm"}
)
#: Kinds that are never texted one by one, only in the daily digest (when not ``critical``).
DIGEST_KINDS: Final = frozenset(
    {"low_battery", "signal_lost", "watch_taken_off", "device_silent", "clock_unsynced", "buffer_overflow"}
)

#: Message priorities: lower goes first. One modem sends one message at a time (2-6 s each).
PRIORITY_SOS: Final = 0
PRIORITY_URGENT: Final = 1
PRIORITY_TEST: Final = 2
PRIORITY_UNANSWERED: Final = 3
PRIORITY_ACK_NOTICE: Final = 4
PRIORITY_REPLY: Final = 5
PRIORITY_DIGEST: Final = 6

#: What a kind is called in a message (zh), and what happened in a sentence.
KIND_NAMES_ZH: Final = {
    "sos": "紧急呼叫",
    "fall_down": "跌倒报警",
    "fence_exit": "离开安全区域",
    "fence_enter": "进入危险区域",
    "bp_crisis": "血压危急",
    "device_alarm": "设备报警",
    "low_battery": "设备电量低",
    "signal_lost": "定位信号中断",
    "watch_taken_off": "手表摘下",
    "device_silent": "设备无数据",
    "clock_unsynced": "时钟未校准",
    "buffer_overflow": "存储将满",
    # the kind catalogue's threshold alerts (drivers/kinds.py), e.g. low_spo2: 血氧偏低
    **{alert: rule.name_zh for alert, rule in alert_rules().items()},
}
WHAT_ZH: Final = {
    "sos": "按了SOS紧急呼叫",
    "fall_down": "可能摔倒了",
    "fence_exit": "离开了安全区域{zone}",
    "fence_enter": "进入了危险区域{zone}",
    "bp_crisis": "血压达到危急水平",
    "device_alarm": "的设备发出报警",
    # ``{value}``: the reading's value with its unit, e.g. 血氧偏低(88%)
    **{alert: rule.what_zh for alert, rule in alert_rules().items()},
}

_ACK_WORDS: Final = ("1", "收到", "好", "ok", "确认", "知道")


def is_urgent(kind: str, severity: str, resident_id: str | None) -> bool:
    """Rings phones: the urgent kinds, and anything ``critical`` about a resident (a critical
    fault of the hut itself goes to the digest and the county, not to a family's phone)."""
    return kind in URGENT_KINDS or (severity == "critical" and resident_id is not None)


def is_digest(kind: str, severity: str, resident_id: str | None) -> bool:
    return not is_urgent(kind, severity, resident_id) and (
        kind in DIGEST_KINDS or severity in ("warning", "critical")
    )


def priority_of(kind: str) -> int:
    return PRIORITY_SOS if kind == "sos" else PRIORITY_URGENT


def is_ack_text(text: str) -> bool:
    """A reply that acknowledges: starts with 1, １, 收到, 好, ok (any case; spaces and width ignored)."""
    folded = unicodedata.normalize("NFKC", text)
    folded = re.sub(r"\s+", "", folded).lower()
    return folded.startswith(_ACK_WORDS)


def phone_key(number: str) -> str:
    """The part of a phone number that identifies it: +86 138..., 0086138..., 138... are one."""
    digits = re.sub(r"\D", "", number)
    if digits.startswith("00"):
        digits = digits[2:]
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    return digits


def mask_phone(number: str) -> str:
    """138****0001: enough for a family to recognise a number on a shared screen."""
    digits = re.sub(r"\D", "", number)
    if len(digits) >= 11:
        d = digits[-11:]
        return f"{d[:3]}****{d[-4:]}"
    return f"***{digits[-4:]}" if len(digits) > 4 else "****"


def tail(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    return digits[-4:]


ROLE_ZH: Final = {"guardian": "家属", "clinic": "卫生院", "escalation": "村医", "digest": "村医", "other": ""}


def acker_label(role: str | None, number: str | None, via: str, by: str | None) -> str:
    """Who acknowledged, in the words the others get: 家属（尾号0001）, 村医（小屋）, 县平台."""
    if via == "sms" and number:
        return f"{ROLE_ZH.get(role or 'other', '') or '手机'}（尾号{tail(number)}）"
    if via == "kiosk":
        return "村医（小屋）" if not by or by == "doctor" else f"{by}（小屋）"
    if via == "county":
        return f"县平台{('（' + by + '）') if by else ''}"
    return by or via
