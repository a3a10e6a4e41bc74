"""An SOS through the real daemon to (simulated) phones: a watch's SOS frame over TCP, the
hut's 4G modem simulated on a real pseudo-terminal (tests/support/modemsim.py, written from
3GPP TS 27.005/23.040), the uplink on a real Mosquitto, the technician's CLI on the same state.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from tests.support.broker import Broker, free_port
from tests.support.modemsim import ModemSim
from tests.support.procs import HUTGW, GatewayProc, _env

G1, G2 = "+8613900000001", "+8613900000002"
CLINIC, DOCTOR = "+8613800000001", "+8613700000001"
GW = "hut-sos"
PIN = "2468"

pytestmark = pytest.mark.slow


def watch_frame(watch_id: str, content: str) -> bytes:
    """A 4G watch frame as the watch sends it: ``[3G*<id>*<length, 4 hex digits>*<content>]``."""
    body = content.encode()
    return b"[3G*%s*%04X*%s]" % (watch_id.encode(), len(body), body)


def cli(state: Path, config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*HUTGW, *args, "--state-dir", str(state), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        check=False,
    )


class StatusTap:
    """Subscribes to the gateway's alert_status topic on the broker, as the county would."""

    def __init__(self, broker: Broker) -> None:
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="county-tap")
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", broker.port)
        self.client.subscribe(f"hut/v1/{GW}/alert_status", qos=1)
        self.client.loop_start()

    def _on_message(self, _c: Any, _u: Any, m: mqtt.MQTTMessage) -> None:
        env = json.loads(m.payload)
        with self._lock:
            self.events += env["alert_status"]

    def wait(self, pred: Any, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                got = [e for e in self.events if pred(e)]
            if got:
                return got
            time.sleep(0.1)
        raise AssertionError(f"no such alert_status event; saw {[e['event'] for e in self.events]}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def write_config(path: Path, *, modem: Path, broker: Broker, watch_port: int, **notify: Any) -> None:
    n = {"escalate_after_s": 5, "max_rounds": 2, "unanswered_repeat_s": 30, **notify}
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in n.items())
    path.write_text(
        f'gateway_id = "{GW}"\n'
        f'[api]\ndoctor_pin = "{PIN}"\n'
        f'[uplink]\nbroker = "{broker.url}"\nack_mode = "broker"\n'
        f'[watch]\nlisten = "127.0.0.1:{watch_port}"\n'
        f'[notify]\nmodem = "{modem}"\nclinic = ["{CLINIC}"]\nescalation = ["{DOCTOR}"]\n{extra}',
        encoding="utf-8",
    )


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[ModemSim]:
    with ModemSim(tmp_path / "by-id", cmgs_delay_s=0.3) as s:
        s.urc_inside_replies = True
        yield s


@pytest.fixture
def hut(tmp_path: Path, broker: Broker, sim: ModemSim) -> Iterator[tuple[GatewayProc, Path, int]]:
    state = tmp_path / "state"
    state.mkdir()
    config = tmp_path / "hutgw.toml"
    watch_port = free_port()
    write_config(config, modem=sim.path, broker=broker, watch_port=watch_port)
    r = cli(state, config, "residents", "add", "R1", "--name", "张桂英", "--guardian", G1, "--guardian", G2)
    assert r.returncode == 0, r.stderr
    r = cli(
        state,
        config,
        "devices",
        "add",
        "--watch",
        "8800000015",
        "--profile",
        "watch.tcp",
        "--resident",
        "R1",
        "--id",
        "band-r1",
    )
    assert r.returncode == 0, r.stderr
    gw = GatewayProc(state, None, gateway_id=GW, config=config)
    gw.start()
    try:
        yield gw, config, watch_port
    finally:
        gw.stop()


def press_sos(watch_port: int, watch_id: str = "8800000015") -> socket.socket:
    s = socket.create_connection(("127.0.0.1", watch_port), timeout=5)
    s.sendall(watch_frame(watch_id, "LK,0,0,90"))
    s.sendall(
        watch_frame(
            watch_id,
            "AL,061226,082100,A,30.274120,N,120.155130,E,0.00,0.0,0.0,8,100,90,0,0,00010000,"
            "2,255,460,0,22562,4263,150",
        )
    )
    return s


def texts_to(sim: ModemSim, number: str) -> list[str]:
    return [m.text for m in sim.sent if m.number == number]


def test_sos_reaches_phones_escalates_and_a_reply_stops_it(
    hut: tuple[GatewayProc, Path, int], sim: ModemSim, broker: Broker
) -> None:
    gw, config, watch_port = hut
    tap = StatusTap(broker)
    try:
        t0 = time.monotonic()
        w = press_sos(watch_port)
        first = sim.wait_sent(3, timeout=15)
        assert sim.cmgs_issued[0] - t0 < 3.0  # at once (the bench measures it properly)
        assert sorted(m.number for m in first) == sorted([G1, G2, CLINIC])  # one round: guardians + clinic
        sos = first[0].text
        assert sos.startswith("【紧急】张桂英按了SOS紧急呼叫") and "回复1表示收到" in sos
        assert "30.2741,120.1551" in sos
        # nobody answers: round 2 to everyone not yet answered plus the village doctor
        second = sim.wait_sent(7, timeout=20)[3:]
        assert sorted(m.number for m in second) == sorted([G1, G2, CLINIC, DOCTOR])
        assert all(m.text.startswith("【紧急·第2次】") for m in second)
        # a guardian replies "1" (as a phone does: GSM 7-bit, from the international number)
        t_reply = time.monotonic()
        sim.deliver(G2, "1")
        acked = tap.wait(lambda e: e["event"] == "acknowledged")
        assert acked[0]["by"] == G2 and acked[0]["via"] == "sms" and acked[0]["state"] == "acknowledged"
        assert time.monotonic() - t_reply < 5
        notices = sim.wait_sent(10, timeout=15)[7:]
        assert sorted(m.number for m in notices) == sorted([G1, CLINIC, DOCTOR])
        assert all(m.text == "张桂英的紧急呼叫已由家属（尾号0002）确认，谢谢。" for m in notices)
        assert sim.wait_for(lambda: not sim.stored, 5)  # the reply was read and deleted
        r = cli(gw.state_dir, config, "alerts", "list", "--json")
        assert r.returncode == 0, r.stderr
        (alert,) = json.loads(r.stdout)
        assert alert["kind"] == "sos" and alert["resident_id"] == "R1"
        assert alert["state"] == "acknowledged" and alert["acknowledged_by"] == G2
        time.sleep(6)  # past another escalate_after_s: no third round, nothing more to anyone
        assert len(sim.sent) == 10
        notified = {e["to"] for e in tap.events if e["event"] == "notified"}
        assert notified == {G1, G2, CLINIC, DOCTOR}
        w.close()
    finally:
        tap.close()


def test_a_restart_mid_escalation_resumes_it(hut: tuple[GatewayProc, Path, int], sim: ModemSim) -> None:
    gw, config, watch_port = hut
    press_sos(watch_port).close()
    sim.wait_sent(3, timeout=15)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # the modem answered +CMGS for all three (the daemon knows)
        views = json.loads(cli(gw.state_dir, config, "alerts", "list", "--json").stdout)
        if views and all(r["status"] == "sent" for r in views[0]["recipients"]):
            break
    else:
        raise AssertionError("round 1 was not recorded as sent")
    gw.kill()  # SIGKILL between round 1 and round 2
    gw.start()
    sent = sim.wait_sent(7, timeout=25)
    assert sorted(m.number for m in sent[:3]) == sorted([G1, G2, CLINIC])  # round 1 not sent again
    assert sorted(m.number for m in sent[3:]) == sorted([G1, G2, CLINIC, DOCTOR])  # round 2 not skipped
    # unanswered after the last round: the clinic is told so
    unanswered = sim.wait_sent(8, timeout=20)[7]
    assert unanswered.number == CLINIC and "无人应答" in unanswered.text
    r = cli(gw.state_dir, config, "alerts", "list", "--json")
    (alert,) = json.loads(r.stdout)
    assert alert["state"] == "unanswered"
    st = json.loads(cli(gw.state_dir, config, "status", "--json").stdout)
    assert st["notify"]["open"][0]["id"] == alert["id"] and st["notify"]["open"][0]["state"] == "unanswered"
    assert st["notify"]["modem"]["sim"] == "READY" and st["notify"]["modem"]["registered"] is True
    human = cli(gw.state_dir, config, "--lang", "zh", "status").stdout
    assert "无人应答" in human and "SIM卡" in human
    with urllib.request.urlopen(gw.url + "/metrics", timeout=5) as m:
        metrics = m.read().decode()
    assert 'hutgw_notify_open_alerts{state="unanswered"} 1' in metrics
    assert "hutgw_modem_ready 1" in metrics and "hutgw_modem_signal_csq 20" in metrics
    assert 'hutgw_notify_events_total{event="unanswered"} 1' in metrics
    r = cli(gw.state_dir, config, "alerts", "ack", alert["id"], "--by", "王医生")
    assert r.returncode == 0, r.stderr
    notices = sim.wait_sent(12, timeout=15)[8:]
    assert sorted(m.number for m in notices) == sorted([G1, G2, CLINIC, DOCTOR])
    r = cli(gw.state_dir, config, "alerts", "ack", alert["id"])
    assert r.returncode == 4  # already acknowledged: a conflict, nothing changed


def test_twenty_sos_at_once_all_go_out_sos_first(tmp_path: Path, broker: Broker, sim: ModemSim) -> None:
    state = tmp_path / "state"
    state.mkdir()
    config = tmp_path / "hutgw.toml"
    watch_port = free_port()
    write_config(config, modem=sim.path, broker=broker, watch_port=watch_port, escalate_after_s=600)
    sim.cmgs_delay_s = 0.05
    rows = ["resident_id,name,sex,birth_year,height_cm,guardian_phone"] + [
        f"R{i:02d},居民{i:02d},female,1948,155,+86139000001{i:02d}" for i in range(20)
    ]
    csv = tmp_path / "residents.csv"
    csv.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert cli(state, config, "residents", "import", str(csv)).returncode == 0
    for i in range(20):
        r = cli(
            state,
            config,
            "devices",
            "add",
            "--watch",
            f"88000001{i:02d}",
            "--profile",
            "watch.tcp",
            "--resident",
            f"R{i:02d}",
            "--id",
            f"band-{i:02d}",
        )
        assert r.returncode == 0, r.stderr
    gw = GatewayProc(state, None, gateway_id=GW, config=config)
    gw.start()
    try:
        # a blood-pressure crisis first (urgent, not SOS), then twenty SOS at once
        status, _ = gw.post(
            {
                "kind": "blood_pressure",
                "resident_id": "R00",
                "values": {"systolic": 200, "diastolic": 125, "pulse_rate": 80},
            }
        )
        assert status == 201
        socks = []
        for i in range(20):  # each watch identified (its heartbeat answered) before the next connects
            socks.append(press_sos(watch_port, f"88000001{i:02d}"))
            socks[-1].recv(64)
        sent = sim.wait_sent(42, timeout=60)
        sos = [m for m in sent if "SOS" in m.text]
        assert len(sos) == 40  # every resident's guardian and the clinic, for each of the 20
        assert {m.number for m in sos} == {CLINIC} | {f"+86139000001{i:02d}" for i in range(20)}
        crisis = [i for i, m in enumerate(sent) if "血压" in m.text]
        # the crisis was raised first, but once the SOS were in, they went ahead of its remaining messages
        assert crisis and crisis[-1] >= 40 - 2
        for s in socks:
            s.close()
    finally:
        gw.stop()


def api(gw: GatewayProc, method: str, path: str, body: Any = None, pin: str | None = None) -> tuple[int, Any]:
    headers = {"Content-Type": "application/json"}
    if pin:
        headers["X-Doctor-PIN"] = pin
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(gw.url + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_the_kiosk_shows_who_was_told_and_the_doctor_acknowledges(
    hut: tuple[GatewayProc, Path, int], sim: ModemSim
) -> None:
    gw, _config, watch_port = hut
    press_sos(watch_port).close()
    sim.wait_sent(3, timeout=15)
    status, body = api(gw, "GET", "/api/v1/alerts")
    assert status == 200
    (alert,) = body["alerts"]
    assert alert["resident_name"] == "张桂英" and alert["state"] == "notifying"
    assert {r["who"] for r in alert["recipients"]} == {"139****0001", "139****0002", "138****0001"}  # masked
    status, body = api(gw, "POST", f"/api/v1/alerts/{alert['id']}/ack", {}, pin="0000")
    assert status == 401
    status, body = api(gw, "POST", f"/api/v1/alerts/{alert['id']}/ack", {"by": "王医生"}, pin=PIN)
    assert status == 200 and body["alert"]["state"] == "acknowledged" and body["alert"]["ack_via"] == "kiosk"
    status, body = api(gw, "POST", f"/api/v1/alerts/{alert['id']}/ack", {}, pin=PIN)
    assert status == 409
    notices = sim.wait_sent(6, timeout=15)[3:]
    assert {m.text for m in notices} == {"张桂英的紧急呼叫已由王医生（小屋）确认，谢谢。"}
    assert api(gw, "POST", "/api/v1/alerts/nope/ack", {}, pin=PIN)[0] == 404


def test_a_blood_pressure_that_cannot_be_true_rings_nobody(
    hut: tuple[GatewayProc, Path, int], sim: ModemSim
) -> None:
    gw, _config, _port = hut
    status, body = gw.post(
        {
            "kind": "blood_pressure",
            "resident_id": "R1",
            "values": {"systolic": 90, "diastolic": 190, "pulse_rate": 80},
        }
    )
    assert status == 422
    assert {e["field"] for e in body["errors"]} == {"values.systolic", "values.diastolic"}
    assert "高压必须高于低压" in body["errors"][0]["message"]
    time.sleep(1.0)
    assert sim.sent == [] and api(gw, "GET", "/api/v1/alerts")[1]["alerts"] == []


def test_notify_test_and_status_from_the_cli(tmp_path: Path, broker: Broker, sim: ModemSim) -> None:
    state = tmp_path / "state"
    state.mkdir()
    config = tmp_path / "hutgw.toml"
    write_config(config, modem=sim.path, broker=broker, watch_port=free_port())
    # no daemon: the command opens the modem itself
    r = cli(state, config, "notify", "status", "--json")
    assert r.returncode == 0, r.stderr
    st = json.loads(r.stdout)
    assert (
        st["via"] == "modem"
        and st["channel"]["sim"] == "READY"
        and st["channel"]["operator"] == "CHINA MOBILE"
    )
    r = cli(state, config, "--lang", "zh", "notify", "test", "+8613600000001")
    assert r.returncode == 0, r.stderr + r.stdout
    assert "测试短信已发送到 +8613600000001" in r.stdout and "SIM卡" in r.stdout
    assert sim.sent[-1].number == "+8613600000001" and sim.sent[-1].text.startswith("健康小屋短信测试")
    sim.sim_status = "NOT INSERTED"
    r = cli(state, config, "notify", "test", "+8613600000001", "--timeout", "5")
    assert r.returncode == 1 and "NOT INSERTED" in r.stdout
    sim.sim_status = "READY"
    # with the daemon running, the daemon's modem sends it
    gw = GatewayProc(state, None, gateway_id=GW, config=config)
    gw.start()
    try:
        r = cli(state, config, "notify", "test", "+8613600000002", "--json")
        assert r.returncode == 0, r.stderr
        out = json.loads(r.stdout)
        assert out["via"] == "daemon" and out["sent"] is True and out["channel"]["registered"] is True
        assert sim.sent[-1].number == "+8613600000002"
        assert cli(state, config, "notify", "test", "12x").returncode == 3
    finally:
        gw.stop()
