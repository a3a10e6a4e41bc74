"""The embedded store: alert-status events once by id, receipts, the fleet rows it gives."""

from __future__ import annotations

from pathlib import Path

from county.fleet import fleet
from county.sqlite import SqliteStore
from tests.county.test_postgres_store import alert_status, env
from tests.uplink.helpers import alert


async def test_alert_status_once_and_unanswered_alerts_in_the_fleet(tmp_path: Path) -> None:
    a, b = alert(), alert()
    events = [
        alert_status(a["id"], "round_started", "notifying", "2026-11-29T08:00:01Z"),
        alert_status(a["id"], "unanswered", "unanswered", "2026-11-29T08:30:00Z"),
        alert_status(b["id"], "unanswered", "unanswered", "2026-11-29T08:30:00Z"),
        alert_status(b["id"], "acknowledged", "acknowledged", "2026-11-29T08:40:00Z"),
    ]
    async with SqliteStore(tmp_path / "county.db") as store:
        for _ in range(2):
            stored = await store.store("hut-7", "alert_status", env(events, "s-1", "alert_status"))
            assert stored is not None and stored.ack.accepted == [e["id"] for e in events]
        assert await store.count("alert_status") == 4
        assert await store.count("receipts") == 2
        assert (await store.counters())["duplicates"] == 4
        await store.store_status("hut-7", b'{"schema":"hut.status/1","gateway_id":"hut-7","state":"online"}')
        rows = await store.fleet_rows()
        [entry] = fleet(rows, rows[0].updated_at + 600)
        assert entry.unanswered_alerts == 1  # b was acknowledged after
        assert entry.state == "silent"  # no heartbeat for three periods (60 s each)
        assert entry.outbox_pending is None and entry.clock_synced is None


async def test_hutgw_county_status_prints_the_fleet(tmp_path: Path) -> None:
    import asyncio
    import sys

    db = tmp_path / "county.db"
    async with SqliteStore(db) as store:
        await store.store_status(
            "hut-9",
            b'{"schema":"hut.status/1","gateway_id":"hut-9","state":"online","counters":'
            b'{"gateway":{"clock_synced":false,"pending":{"clinical":4},"oldest_pending_age_s":75.0}}}',
        )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "provisioning.cli", "county", "status", "--db", str(db),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await proc.communicate()
    assert proc.returncode == 0, err
    lines = out.decode().splitlines()
    assert lines[0].split()[:3] == ["gateway", "state", "heartbeat"]
    assert lines[1].split()[:2] == ["hut-9", "online"] and "NOT" in lines[1] and "75s" in lines[1]


async def test_status_and_command_results_are_read_with_the_codec(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from county.receiver import result_command_id, status_state
    from uplink.codec import CommandResult, GatewayStatus

    at = datetime(2026, 12, 6, 8, tzinfo=UTC)
    status = GatewayStatus(gateway_id="hut-7", state="offline", at=at).to_wire()
    result = CommandResult(command_id="c-1", gateway_id="hut-7", status="done", at=at).to_wire()
    assert (status_state(status), result_command_id(result)) == ("offline", "c-1")
    for junk in (b"", b"not json", b"[]", b'{"state":"online"}', b'{"schema":"hut.status/1","state":"x"}'):
        assert status_state(junk) is None and result_command_id(junk) is None
    async with SqliteStore(tmp_path / "county.db") as store:
        await store.store_status("hut-7", status)
        await store.store_status("hut-8", b"garbage")  # kept as it came, no state
        [seven, eight] = await store.fleet_rows()
        assert (seven.state, eight.state, eight.status) == ("offline", None, b"garbage")
