"""The foundation slice end to end, with real parts: a pseudo-terminal Tanita, the real
daemon process, a real Mosquitto, the reference receiver process and its SQLite database."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from devtools.simulate import PtyDevice, tanita_line
from gateway.registry import DeviceEntry, Registry, ResidentEntry
from tests.support.broker import Broker
from tests.support.procs import HUTGW, GatewayProc, ReceiverProc


def provision_scale(state_dir: Path, port: Path, *, resident: str | None = "R0001") -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    reg = Registry(state_dir / "registry.db")
    try:
        reg.add_resident(
            ResidentEntry(id="R0001", name="Wang", sex="female", birth_year=1952, height_cm=156.0)
        )
        reg.add_device(
            DeviceEntry(id="scale-1", profile="tanita.serial", address=str(port), resident_id=resident)
        )
    finally:
        reg.close()


def wait_until(predicate, timeout: float = 20.0, step: float = 0.1):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def wait_for_port(gw: GatewayProc, device: str) -> None:
    """Until the daemon reports the serial port open (a real scale pushes its line only once)."""
    opened = wait_until(
        lambda: any(d["device"] == device and d["state"] == "connected" for d in gw.health()["devices"]), 20
    )
    assert opened, gw.health()["devices"]


@pytest.fixture
def county(broker: Broker, tmp_path: Path):  # type: ignore[no-untyped-def]
    rx = ReceiverProc(tmp_path / "county.db", broker.url)
    rx.start()
    yield rx
    rx.stop()


def test_tanita_line_reaches_the_county(broker: Broker, county: ReceiverProc, tmp_path: Path) -> None:
    state = tmp_path / "state"
    with PtyDevice(tmp_path / "dev" / "tanita") as scale:
        provision_scale(state, scale.path)
        gw = GatewayProc(state, broker.url)
        gw.start()
        try:
            wait_for_port(gw, "scale-1")
            scale.write(tanita_line(weight_kg=61.4, body_fat_pct=33.2, height_cm=156.0))
            got = wait_until(lambda: county.readings(), timeout=30)
            assert len(got) == 1, gw.log()
            reading = next(iter(got.values()))
            assert reading["kind"] == "body_composition"
            assert reading["resident_id"] == "R0001"
            assert reading["attribution"] == "personal"
            assert reading["device"]["id"] == "scale-1"
            assert reading["values"]["weight"] == {"value": 61.4, "unit": "kg"}
            assert reading["values"]["body_fat_pct"] == {"value": 33.2, "unit": "%"}
            assert reading["raw_hex"] == tanita_line(weight_kg=61.4, body_fat_pct=33.2, height_cm=156.0).hex()
            # The outbox row becomes delivered once the county acked it.
            health = wait_until(lambda: (h := gw.health())["readings_pending"] == 0 and h, timeout=20)
            assert health["readings_pending"] == 0
        finally:
            assert gw.stop() == 0


def test_bad_serial_input_is_counted_kept_and_survived(
    broker: Broker, county: ReceiverProc, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    good = tanita_line(weight_kg=70.0, body_fat_pct=20.0)
    bad_lines = [
        good.replace(b"CS,", b"CS,0").replace(good[-4:-2], b"ZZ"),  # malformed checksum digits
        good[:-4] + (b"00" if good[-4:-2] != b"00" else b"01") + b"\r\n",  # wrong checksum
        b"\x00\xff\xfe garbage \x13\x37\r\n",
        good[: len(good) // 2] + b"\r\n",  # truncated
        b'{0,16,~0,1,MO,"SC-240",Wk,CS,20\r\n',  # header without value
    ]
    with PtyDevice(tmp_path / "dev" / "tanita") as scale:
        provision_scale(state, scale.path)
        gw = GatewayProc(state, broker.url)
        gw.start()
        try:
            wait_for_port(gw, "scale-1")
            for line in bad_lines:
                scale.write(line)
                time.sleep(0.05)
            scale.write(good)
            got = wait_until(lambda: county.readings(), timeout=30)
            assert len(got) == 1
            health = gw.health()
            assert health["decode_errors"].get("tanita.serial", 0) >= 4, health
            assert gw.proc is not None and gw.proc.poll() is None
            quarantine = (state / "quarantine.jsonl").read_text().splitlines()
            assert len(quarantine) >= 4
            assert any(
                json.loads(x)["hex"] == bad_lines[2].rstrip(b"\r\n").hex()
                or bad_lines[2].hex().startswith(json.loads(x)["hex"][:8])
                for x in quarantine
            )
            assert "rejected" in gw.log() and bad_lines[2][:4].hex() in gw.log()
        finally:
            gw.stop()


def test_post_then_county_then_validation(broker: Broker, county: ReceiverProc, tmp_path: Path) -> None:
    gw = GatewayProc(tmp_path / "state", broker.url)
    gw.start()
    try:
        status, body = gw.post(
            {
                "kind": "blood_pressure",
                "resident_id": None,
                "values": {"systolic": 128, "diastolic": 82, "pulse_rate": 71},
                "measured_at": "2026-11-29T06:00:00Z",
            }
        )
        assert status == 201, body
        got = county.wait_for({body["id"]}, timeout=30)
        r = got[body["id"]]
        assert r["values"]["systolic"] == {"value": 128, "unit": "mm[Hg]"}
        assert r["values"]["pulse_rate"] == {"value": 71, "unit": "/min"}
        status, err = gw.post({"kind": "blood_pressure", "values": {"systolic": "high", "diastolic": 82}})
        assert status == 422
        assert any(e["field"] == "values.systolic" for e in err["errors"]), err
        status, err = gw.post({"kind": "blood_pressure", "values": {"diastolic": 82}, "colour": "red"})
        assert status == 422
        fields = {e["field"] for e in err["errors"]}
        assert "colour" in fields
        status, err = gw.post({"kind": "teleportation", "values": {"x": 1}})
        assert status == 422 and any(e["field"] == "kind" for e in err["errors"]), err
        time.sleep(1.0)
        assert len(county.readings()) == 1
    finally:
        gw.stop()


@pytest.mark.timeout(300)
def test_500_posts_through_two_sigkills_arrive_exactly_once(
    broker: Broker, county: ReceiverProc, tmp_path: Path
) -> None:
    gw = GatewayProc(tmp_path / "state", broker.url)
    gw.start()
    acknowledged: list[str] = []
    refused = 0
    rng = random.Random(5)
    lock = threading.Lock()
    target = 500

    def poster() -> None:
        nonlocal refused
        while True:
            with lock:
                if len(acknowledged) >= target:
                    return
            body = {
                "kind": "blood_pressure",
                "resident_id": None,
                "values": {"systolic": rng.randint(100, 170), "diastolic": rng.randint(60, 100)},
            }
            try:
                status, out = gw.post(body, timeout=5)
            except OSError:
                refused += 1
                time.sleep(0.02)
                continue
            if status == 201:
                with lock:
                    acknowledged.append(out["id"])
            else:
                raise AssertionError(f"unexpected {status}: {out}")

    threads = [threading.Thread(target=poster) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        for kill_at in (170, 340):
            wait_until(lambda k=kill_at: len(acknowledged) >= k, timeout=60, step=0.01)
            gw.kill()
            time.sleep(0.3)
            gw.start()
        for t in threads:
            t.join(120)
        ids = set(acknowledged)
        assert len(ids) == len(acknowledged) >= target
        got = county.wait_for(ids, timeout=90)
        missing = ids - set(got)
        assert not missing, f"{len(missing)} acknowledged readings never reached the county"
        # Exactly once: one row per id (primary key) and the receiver saw each id at most as
        # many times as it was resent, which it counted rather than stored.
        import sqlite3

        con = sqlite3.connect(county.db)
        dup_rows = con.execute("SELECT id, COUNT(*) FROM readings GROUP BY id HAVING COUNT(*) > 1").fetchall()
        con.close()
        assert dup_rows == []
        print(f"refused while down: {refused}")
    finally:
        gw.stop()


def test_invalid_config_exits_2_and_starts_nothing(tmp_path: Path) -> None:
    cfg = tmp_path / "hutgw.toml"
    port = GatewayProc(tmp_path / "x", None).api_port
    cfg.write_text(
        f'gateway_id = "bad id!"\n[api]\nlisten = "127.0.0.1:{port}"\n[uplink]\nbroker = "http://x"\n'
    )
    state = tmp_path / "never"
    proc = subprocess.run(
        [*HUTGW, "run", "--config", str(cfg), "--state-dir", str(state)],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 2
    assert "gateway_id" in proc.stderr and "uplink.broker" in proc.stderr
    assert not state.exists()
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0
    exposed = subprocess.run(
        [*HUTGW, "run", "--state-dir", str(state), "--api", f"0.0.0.0:{port}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert exposed.returncode == 2 and "api.token" in exposed.stderr
    assert not state.exists()
