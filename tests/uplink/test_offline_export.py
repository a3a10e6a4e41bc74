"""Offline export -> county import -> receipt -> mark delivered, and the rejected list, via the CLI."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import orjson

from buffer.outbox import Outbox
from buffer.record import State
from uplink import schemas
from uplink.contract import Receipt

from .helpers import alert_record, reading_record

ROOT = Path(__file__).resolve().parents[2]


def hutgw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "provisioning.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_export_import_receipt_round_trip(tmp_path: Path) -> None:
    state = tmp_path / "state"
    records = [reading_record(i) for i in range(1200)]
    alerts = [alert_record()]
    bad = reading_record(5000, kind="cholesterol")
    async with Outbox(state / "outbox.db") as ob:
        await ob.put_many([*records, *alerts, bad])
        # one batch is already delivered online: it must not be exported
        claim = await ob.claim(stream="readings", max_count=100)
        assert claim is not None
        await ob.ack(claim.batch_id, [i.id for i in claim.items])
    delivered_online = {i.id for i in claim.items}

    out = tmp_path / "hut.jsonl.gz"
    res = hutgw("buffer", "export", "--state-dir", str(state), "--out", str(out), "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["records"] == 1200 - 100 + 1 + 1
    lines = gzip.decompress(out.read_bytes()).splitlines()
    envs = [orjson.loads(line) for line in lines]
    assert {e["schema"] for e in envs} == {"hut.readings/1", "hut.alerts/1"}
    assert max(len(e.get("readings", e.get("alerts", []))) for e in envs) == 500
    exported = {r["id"] for e in envs for r in e.get("readings", e.get("alerts", []))}
    assert not exported & delivered_online

    # nothing was marked: still pending
    async with Outbox(state / "outbox.db") as ob:
        assert (await ob.get(records[-1].id)).state == State.PENDING  # type: ignore[union-attr]

    db = tmp_path / "county.db"
    receipt = tmp_path / "receipt.json"
    res = hutgw("receiver", "import", str(out), "--db", str(db), "--receipt", str(receipt), "--json")
    assert res.returncode == 0, res.stderr
    again = hutgw("receiver", "import", str(out), "--db", str(db), "--receipt", str(receipt))
    assert again.returncode == 0, again.stderr  # idempotent: a second import stores nothing new
    data = json.loads(receipt.read_text())
    jsonschema.Draft202012Validator(schemas.standalone_schema("Receipt")).validate(data)  # docs/schemas/
    Receipt.model_validate(data)  # the contract's model
    assert len(data["accepted"]) == 1200 - 100 + 1
    assert [r["id"] for r in data["rejected"]] == [bad.id]

    res = hutgw(
        "buffer", "mark-delivered", "--state-dir", str(state), "--from-receipt", str(receipt), "--json"
    )
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["marked"] == 1200 - 100 + 1
    async with Outbox(state / "outbox.db") as ob:
        assert (await ob.get(records[-1].id)).state == State.DELIVERED  # type: ignore[union-attr]
        assert (await ob.get(bad.id)).state == State.PENDING  # type: ignore[union-attr]
        # online, the county rejects it with a reason and it is kept aside
        claim = await ob.claim()
        assert claim is not None and [i.id for i in claim.items] == [bad.id]
        await ob.ack(claim.batch_id, [], {bad.id: data["rejected"][0]["reason"]})

    res = hutgw("buffer", "list", "--state-dir", str(state), "--state", "rejected")
    assert res.returncode == 0, res.stderr
    assert bad.id in res.stdout and "reason: schema: kind" in res.stdout
    res = hutgw("buffer", "list", "--state-dir", str(state), "--state", "rejected", "--json")
    assert [r["reason"][:12] for r in json.loads(res.stdout)] == ["schema: kind"]


def test_mark_delivered_refuses_a_file_that_is_not_a_receipt(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    junk = tmp_path / "junk.json"
    junk.write_text('{"hello": 1}')
    res = hutgw(
        "buffer", "mark-delivered", "--state-dir", str(tmp_path / "state"), "--from-receipt", str(junk)
    )
    assert res.returncode == 3 and "not a receipt" in res.stderr


def test_export_without_an_outbox_says_where_it_looked(tmp_path: Path) -> None:
    res = hutgw("buffer", "export", "--state-dir", str(tmp_path), "--out", str(tmp_path / "x.jsonl.gz"))
    assert res.returncode == 5 and "no outbox at" in res.stderr
