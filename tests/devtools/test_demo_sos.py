"""``hutgw demo`` shows an SOS reaching (simulated) phones: 王秀英's watch presses SOS, her son,
her daughter and the township clinic get the SMS through the simulated 4G modem, her daughter
replies "1", the rounds stop and the others are told who acknowledged."""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest

from devtools.demo import REPLY_AFTER_S, SOS_AFTER_S, Board, LiveView, Row, Sms, run_demo

SON, DAUGHTER, CLINIC, DOCTOR = "139****0001", "139****0002", "138****0001", "137****0001"
SOS_TEXT = "【紧急】王秀英按了SOS紧急呼叫"
NOTICE = "王秀英的紧急呼叫已由家属（尾号0002）确认，谢谢。"


@pytest.mark.slow
async def test_the_demo_presses_sos_and_the_daughters_reply_stops_the_rounds(tmp_path: Path) -> None:
    said: list[tuple[str, dict[str, Any]]] = []
    summary = await run_demo(
        tmp_path / "demo", 22.0, False, mode="lines", say=lambda event, data: said.append((event, data))
    )
    events = [e for e, _ in said]
    assert events[0] == "started" and "progress" in events
    (sos,) = [d for e, d in said if e == "sos"]
    assert sos["resident"] == "R0001" and sos["name"] == "王秀英" and sos["watch"] == "8800000015"
    assert SOS_AFTER_S - 1 <= sos["elapsed_s"] <= SOS_AFTER_S + 1
    sms = [d for e, d in said if e == "sms"]
    out = [d for d in sms if d["direction"] == "out"]
    # round 1 at once: both guardians and the clinic, the full message, masked numbers, who they are
    first = out[:3]
    assert {(d["number"], d["who"]) for d in first} == {
        (SON, "son"),
        (DAUGHTER, "daughter"),
        (CLINIC, "clinic"),
    }
    assert all(d["text"].startswith(SOS_TEXT) and d["text"].endswith("回复1表示收到") for d in first)
    assert all(d["elapsed_s"] - sos["elapsed_s"] < 4 for d in first)
    # the daughter replies "1" some seconds later: acknowledged, the others are told, no round 2
    (reply,) = [d for d in sms if d["direction"] == "in"]
    assert (reply["number"], reply["who"], reply["text"]) == (DAUGHTER, "daughter", "1")
    assert reply["elapsed_s"] >= first[-1]["elapsed_s"] + REPLY_AFTER_S - 0.5
    (acked,) = [d for e, d in said if e == "acknowledged"]
    assert (acked["number"], acked["who"]) == (DAUGHTER, "daughter")
    notices = out[3:]
    assert sorted((d["number"], d["text"]) for d in notices) == [(CLINIC, NOTICE), (SON, NOTICE)]
    assert all(d["number"] != DOCTOR and "第2次" not in d["text"] for d in out)  # the rounds stopped
    order = [e if e != "sms" else f"sms-{d['direction']}" for e, d in said if e != "progress"]
    assert order == ["started", "sos", *["sms-out"] * 3, "sms-in", "acknowledged", *["sms-out"] * 2]
    assert set(summary) == {
        "county_readings",
        "gateway_readings",
        "decode_errors",
        "garbage_sent",
        "sms_sent",
        "sos_acknowledged",
    }
    assert summary["sms_sent"] == 5 and summary["sos_acknowledged"] == 1
    assert summary["county_readings"] > 0


def test_sms_lines_and_summary_in_both_languages(capsys: pytest.CaptureFixture[str]) -> None:
    from provisioning import i18n
    from provisioning.commands.demo import _say

    sms = {"elapsed_s": 9.0, "direction": "out", "number": SON, "who": "son", "text": SOS_TEXT}
    reply = {"elapsed_s": 15.0, "direction": "in", "number": DAUGHTER, "who": "daughter", "text": "1"}
    sos = {"elapsed_s": 8.0, "resident": "R0001", "name": "王秀英", "watch": "8800000015"}
    for lang in ("en", "zh"):
        with i18n.using(lang):
            _say("sos", sos)
            _say("sms", sms)
            _say("sms", reply)
            _say("acknowledged", {"elapsed_s": 15.2, "number": DAUGHTER, "who": "daughter"})
    assert capsys.readouterr().out.splitlines() == [
        "   8 s: SOS pressed on the watch of 王秀英 (R0001, watch 8800000015)",
        f"   9 s: SMS to 139****0001 (son): {SOS_TEXT}",
        "  15 s: SMS reply from 139****0002 (daughter): 1",
        "  15 s: SOS acknowledged by 139****0002 (daughter); the rounds stop",
        "   8 秒：王秀英（R0001）按下手表 8800000015 的 SOS",
        f"   9 秒：短信发往 139****0001（儿子）：{SOS_TEXT}",
        "  15 秒：139****0002（女儿）回复短信：1",
        "  15 秒：SOS 已由 139****0002（女儿）确认，不再升级",
    ]


def test_the_sms_panel_stays_visible_under_the_table_in_a_small_terminal() -> None:
    """A live display taller than the terminal is cut at the bottom: the table gives way."""
    from rich.console import Console

    board = Board()
    for i in range(14):
        board.add(Row(f"id{i:02d}", "blood_pressure", "R0001", "128/82 mmHg, pulse 70", "manual"))
    for i, (number, who) in enumerate([(SON, "son"), (DAUGHTER, "daughter"), (CLINIC, "clinic")]):
        board.sms.append(Sms(8.0 + i, "out", number, who, SOS_TEXT + "，位置30.2741,120.1551。回复1表示收到"))
    board.sms.append(Sms(15.0, "in", DAUGHTER, "daughter", "1"))
    board.sms += [Sms(16.0, "out", n, w, NOTICE) for n, w in [(SON, "son"), (CLINIC, "clinic")]]
    board.sos_at, board.acknowledged_by, board.acknowledged_who = 8.0, DAUGHTER, "daughter"
    screen = io.StringIO()
    console = Console(file=screen, force_terminal=True, width=80, height=25)
    view = LiveView(board, "http://127.0.0.1:1", "mqtt://127.0.0.1:2", console)
    console.print(view.render())
    lines = re.sub(r"\x1b\[[0-9;]*m", "", screen.getvalue()).splitlines()
    text = "\n".join(lines)
    assert len(lines) <= 24
    assert "短信 / SMS" in text and "← 139****0002 女儿" in text and "SOS acknowledged by 139****0002" in text
    assert "id13" in text and "id00" not in text  # the newest readings fit above the panel
    assert "older readings not shown" in " ".join(text.split())  # the caption wraps
    wide = io.StringIO()
    console = Console(file=wide, force_terminal=True, width=160, height=60)
    console.print(LiveView(board, "http://127.0.0.1:1", "mqtt://127.0.0.1:2", console).render())
    assert "older readings not shown" not in wide.getvalue() and "id00" in wide.getvalue()
    assert wide.getvalue().count(NOTICE) == 2
