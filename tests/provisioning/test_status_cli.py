"""``hutgw status`` from the state files (daemon stopped) and from a running ``hutgw run``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from buffer.ids import uuid7
from buffer.outbox import Outbox
from buffer.record import Lane, Record
from provisioning.errors import EXIT_OK, EXIT_UNREACHABLE
from tests.provisioning.clihelp import Cli, Pty, RunningDaemon, add_scale
from tests.support.serial import tanita_line
from uplink.codec import Alert


def alert(kind: str, message: str, resident: str | None = "R001") -> Record:
    a = Alert(
        id=uuid7(),
        kind=kind,
        severity="critical" if kind == "bp_crisis" else "warning",
        resident_id=resident,
        notify=(),
        raised_at=datetime(2026, 11, 29, 8, 0, tzinfo=UTC),
        message=message,
    )
    return Record(id=a.id, stream="alerts", lane=Lane.ALERTS, kind=a.kind, payload=a.to_wire(), key=resident)


def fill_outbox(state_dir: Path, records: list[Record]) -> None:
    async def go() -> None:
        async with Outbox(state_dir / "outbox.db") as outbox:
            await outbox.put_many(records)

    asyncio.run(go())


def test_status_of_a_fresh_gateway_from_the_state_files(cli: Cli, state_dir: Path) -> None:
    code, out, err = cli("status", "--json")
    assert code == EXIT_OK, err
    s = json.loads(out)
    assert s["source"] == "state_files"
    assert s["gateway"] == {"id": "hut-test", "started_at": None, "state_dir": str(state_dir)}
    assert s["buffer"] is None and s["devices"] == [] and s["alerts"] == []
    assert s["uplink"] == {"enabled": False, "broker": None}
    assert isinstance(s["clock"]["synced"], bool)
    assert not (state_dir / "outbox.db").exists()  # looking does not create anything
    code, out, _ = cli("status")
    assert code == EXIT_OK
    assert "the daemon is not running" in out and "no outbox yet" in out and "no alerts" in out


def test_status_from_the_state_files_shows_buffer_devices_and_alerts(
    cli: Cli, state_dir: Path, pty: Pty
) -> None:
    cli("residents", "add", "R001", "--name", "王秀英")
    add_scale(cli, pty, resident="R001")
    fill_outbox(
        state_dir,
        [alert("low_battery", "battery of scale-1 at 10%", None), alert("bp_crisis", "BP 190/120 mmHg")],
    )
    code, out, err = cli("status", "--json", "--alerts", "5")
    assert code == EXIT_OK, err
    s = json.loads(out)
    assert s["source"] == "state_files"
    assert s["buffer"]["pending"] == 2
    assert [d["id"] for d in s["devices"]] == ["scale-1"]
    assert s["devices"][0]["resident_id"] == "R001" and s["devices"][0]["last_seen"] is None
    assert [a["kind"] for a in s["alerts"]] == ["bp_crisis", "low_battery"]  # newest first
    code, out, _ = cli("status", "--alerts", "1")
    assert code == EXIT_OK
    assert "scale-1" in out and "bp_crisis" in out and "low_battery" not in out


def test_status_in_chinese(cli: Cli) -> None:
    code, out, _ = cli("status", "--lang", "zh")
    assert code == EXIT_OK and "守护进程未运行" in out and "网关编号" in out


def test_status_live_needs_the_daemon(cli: Cli) -> None:
    code, out, err = cli("status", "--live")
    assert code == EXIT_UNREACHABLE and out == ""
    assert "the daemon does not answer at http://127.0.0.1:" in err and "systemctl status hutgw" in err
    assert len(err.strip().splitlines()) == 1


def test_status_from_the_running_daemon_and_live_device_add(
    capsys: pytest.CaptureFixture[str], daemon: tuple[RunningDaemon, Path], pty: Pty
) -> None:
    d, config = daemon
    cli = Cli(capsys, config)
    code, out, err = cli("status", "--json", "--live")
    assert code == EXIT_OK, err
    s = json.loads(out)
    assert s["source"] == "daemon" and s["api"] == d.url
    assert s["gateway"]["id"] == "hut-test" and s["gateway"]["started_at"]
    assert s["buffer"]["pending"] == 0

    # a device added while the daemon runs is used without a restart
    pty.feed(lambda n: tanita_line(60 + n / 10))  # a new weight each time: no duplicates
    add_scale(cli, pty)
    health = d.until(
        lambda h: (
            h["readings_accepted"].get("body_composition", 0) > 0
            or any(x["device"] == "scale-1" and x["last_seen"] for x in h["devices"])
        )
    )
    assert any(x["device"] == "scale-1" for x in health["devices"])
    d.until(lambda h: h["readings_pending"] > 0)

    code, out, err = cli("status", "--json")
    assert code == EXIT_OK, err
    s = json.loads(out)
    (dev,) = s["devices"]
    assert dev["id"] == "scale-1" and dev["state"] == "connected" and dev["last_seen"]
    assert s["buffer"]["pending"] >= 1

    # `devices test` goes through the daemon's event stream (the daemon holds the port)
    code, out, err = cli("devices", "test", "scale-1", "--timeout", "20", "--json")
    assert code == EXIT_OK, err
    reading = json.loads(out)
    assert reading["via"] == "daemon" and reading["kind"] == "body_composition"
    assert reading["values"]["weight"]["unit"] == "kg" and reading["values"]["weight"]["value"] > 60
