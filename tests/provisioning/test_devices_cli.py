"""``hutgw devices``: add, list, remove; scan and pair on the simulated radio; test on real
pseudo-terminals and the simulated radio."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gateway.registry import Registry
from provisioning.devicetest import timeout_hint
from provisioning.errors import EXIT_FAILURE, EXIT_INPUT, EXIT_OK, EXIT_UNREACHABLE
from tests.provisioning.blesim_world import CUFF, SCALE, STRANGER
from tests.provisioning.clihelp import Cli, Pty, RunningDaemon, add_cuff, add_resident, add_scale
from tests.support.serial import tanita_line

SIM = "tests.provisioning.blesim_world"


def test_add_list_remove_each_kind(cli: Cli, state_dir: Path, pty: Pty) -> None:
    add_resident(cli)
    code, out, err = cli(
        "devices",
        "add",
        "--ble",
        "c0-ff-ee-00-00-01",
        "--profile",
        "gatt.blood_pressure_measurement",
        "--resident",
        "R001",
        "--json",
    )
    assert code == EXIT_OK, err
    assert json.loads(out)["added"]["address"] == CUFF
    assert json.loads(out)["added"]["id"] == "ble-c0ffee000001"
    # Bluetooth is off by default: the technician is told how to turn it on
    (warning,) = json.loads(out)["warnings"]
    assert "[ble] enabled = false" in warning and "[ble] enabled = false" in err
    code, out, err = cli(
        "devices",
        "add",
        "--serial",
        str(pty.link),
        "--profile",
        "tanita.serial",
        "--shared",
        "--id",
        "scale-1",
    )
    assert code == EXIT_OK, err
    assert "scale-1" in out and "tanita.serial" in out
    code, _, err = cli(
        "devices", "add", "--watch", "8800001234", "--profile", "watch.tcp", "--resident", "R001"
    )
    assert code == EXIT_OK, err

    code, out, _ = cli("devices", "list", "--json")
    assert code == EXIT_OK
    listed = {d["id"]: d for d in json.loads(out)}
    assert set(listed) == {"ble-c0ffee000001", "scale-1", "watch-8800001234"}
    assert listed["scale-1"]["shared"] is True and listed["scale-1"]["address"] == str(pty.link)
    assert listed["watch-8800001234"]["resident_id"] == "R001"
    # the registry the daemon reads holds the same
    with Registry(state_dir / "registry.db") as reg:
        assert {d.id for d in reg.list_devices()} == set(listed)

    code, out, _ = cli("devices", "list")
    assert code == EXIT_OK and "scale-1" in out and "R001" in out and "(shared)" in out

    code, out, _ = cli("devices", "remove", "scale-1")
    assert code == EXIT_OK and "scale-1" in out
    code, out, _ = cli("devices", "list", "--json")
    assert {d["id"] for d in json.loads(out)} == {"ble-c0ffee000001", "watch-8800001234"}


def test_multi_user_scale(cli: Cli) -> None:
    add_resident(cli, "R001")
    add_resident(cli, "R002")
    code, out, err = cli(
        "devices",
        "add",
        "--ble",
        SCALE,
        "--profile",
        "mi_scale_v1.adv",
        "--shared",
        "--user",
        "1=R001",
        "--user",
        "2=R002",
        "--json",
    )
    assert code == EXIT_OK, err
    assert json.loads(out)["added"]["user_map"] == {"1": "R001", "2": "R002"}


def test_list_in_chinese(cli: Cli, pty: Pty) -> None:
    add_scale(cli, pty)
    code, out, _ = cli("devices", "list", "--lang", "zh")
    assert code == EXIT_OK and "编号" in out and "（共用）" in out


# ------------------------------------------------------------------------------- scan and pair


def test_scan_on_the_simulated_radio(cli: Cli) -> None:
    add_resident(cli)
    add_cuff(cli, CUFF)
    code, out, err = cli("devices", "scan", "--timeout", "0.3", "--ble-backend", f"{SIM}:nearby", "--json")
    assert code == EXIT_OK, err
    seen = json.loads(out)
    assert [s["address"] for s in seen] == [CUFF, SCALE, STRANGER]  # strongest first
    assert seen[0] == {
        "address": CUFF,
        "name": "BP Cuff",
        "rssi": -40,
        "profile": "gatt.blood_pressure_measurement",
        "registered_as": "cuff-1",
    }
    assert seen[1]["profile"] == "mi_scale_v1.adv" and seen[1]["registered_as"] is None
    assert seen[2]["profile"] is None
    code, out, _ = cli("devices", "scan", "--timeout", "0.3", "--ble-backend", f"{SIM}:nearby")
    assert code == EXIT_OK and "BP Cuff" in out and "cuff-1" in out and "(no profile)" in out


def test_scan_hears_nothing(cli: Cli) -> None:
    code, out, _ = cli("devices", "scan", "--timeout", "0.2", "--ble-backend", f"{SIM}:silence")
    assert code == EXIT_OK and "no Bluetooth device heard" in out


def test_pair_on_the_simulated_radio(cli: Cli) -> None:
    code, out, err = cli("devices", "pair", CUFF.lower(), "--ble-backend", f"{SIM}:bonding_cuff", "--json")
    assert code == EXIT_OK, err
    result = json.loads(out)
    assert result["paired"] is True and result["address"] == CUFF
    assert "00001810-0000-1000-8000-00805f9b34fb" in result["services"]


def test_pair_with_a_device_that_is_not_there(cli: Cli) -> None:
    code, _, err = cli(
        "devices", "pair", "00:11:22:33:44:55", "--timeout", "0.3", "--ble-backend", f"{SIM}:silence"
    )
    assert code == EXIT_UNREACHABLE
    assert "not found" in err and "pairing mode" in err and len(err.strip().splitlines()) == 1


# ------------------------------------------------------------------------------- test


def test_test_decodes_the_first_frame_from_a_serial_port(cli: Cli, pty: Pty) -> None:
    add_scale(cli, pty)
    pty.feed(b"\x00noise\r\n" + tanita_line(72.5))
    code, out, err = cli("devices", "test", "scale-1", "--timeout", "20", "--json")
    assert code == EXIT_OK, err
    reading = json.loads(out)
    assert reading["device"] == "scale-1" and reading["via"] == "serial"
    assert reading["values"]["weight"] == {"value": 72.5, "unit": "kg"}
    assert "take a measurement" in err  # the prompt goes to stderr


def test_test_human_output(cli: Cli, pty: Pty) -> None:
    add_scale(cli, pty)
    pty.feed(tanita_line(61.0))
    code, out, _ = cli("devices", "test", "scale-1", "--timeout", "20")
    assert code == EXIT_OK
    assert "reading from scale-1" in out and "weight" in out and "61" in out and "kg" in out


def test_test_times_out_when_the_device_is_silent(cli: Cli, pty: Pty) -> None:
    add_scale(cli, pty)
    code, _, err = cli("devices", "test", "scale-1", "--timeout", "0.5")
    assert code == EXIT_FAILURE
    assert "no reading from scale-1 within 0.5 s" in err and "cable" in err


def test_test_reports_frames_it_cannot_decode(cli: Cli, pty: Pty) -> None:
    add_scale(cli, pty)
    pty.feed(b'{0,16,~0,1,MO,"SC-240",Wk,CS,20\r\n')
    code, _, err = cli("devices", "test", "scale-1", "--timeout", "1")
    assert code == EXIT_FAILURE
    assert "could not be decoded" in err and "baud rate" in err


def test_test_unplugged_port(cli: Cli, pty: Pty) -> None:
    add_scale(cli, pty)
    pty.link.unlink()
    code, _, err = cli("devices", "test", "scale-1", "--timeout", "5")
    assert code == EXIT_FAILURE
    assert f"cannot open {pty.link}" in err and "dialout" in err


def test_test_ble_cuff_on_the_simulated_radio(cli: Cli) -> None:
    add_resident(cli)
    add_cuff(cli, CUFF)
    code, out, err = cli(
        "devices", "test", "cuff-1", "--timeout", "20", "--ble-backend", f"{SIM}:nearby", "--json"
    )
    assert code == EXIT_OK, err
    reading = json.loads(out)
    assert reading["via"] == "ble" and reading["kind"] == "blood_pressure"
    assert reading["values"]["systolic"]["value"] == 121.0


def test_test_watch_needs_the_daemon(cli: Cli) -> None:
    cli("devices", "add", "--watch", "8800001234", "--profile", "watch.tcp", "--shared", "--id", "w1")
    code, _, err = cli("devices", "test", "w1", "--timeout", "1")
    assert code == EXIT_UNREACHABLE
    assert "needs the running daemon" in err and "systemctl start hutgw" in err


def test_a_dead_adapter_is_one_clear_sentence(cli: Cli) -> None:
    add_resident(cli)
    add_cuff(cli, CUFF)
    code, _, err = cli("devices", "scan", "--timeout", "0.2", "--ble-backend", f"{SIM}:broken_adapter")
    assert code == EXIT_UNREACHABLE
    assert err.strip().startswith("error: Bluetooth: cannot scan") and "NotReady" in err and "rfkill" in err
    code, _, err = cli(
        "devices", "test", "cuff-1", "--timeout", "10", "--ble-backend", f"{SIM}:broken_adapter"
    )
    assert code == EXIT_UNREACHABLE
    lines = err.strip().splitlines()
    assert lines[0].startswith("take a measurement")
    assert (
        len(lines) == 2 and lines[1].startswith("error: Bluetooth: scanner failed") and "NotReady" in lines[1]
    )


def test_bad_backend_spec(cli: Cli) -> None:
    code, _, err = cli("devices", "scan", "--ble-backend", "no.such.module:factory")
    assert code == EXIT_INPUT and "module:factory" in err


def test_test_advice_fits_the_transport(
    capsys: pytest.CaptureFixture[str], daemon: tuple[RunningDaemon, Path]
) -> None:
    """Nothing from a Bluetooth cuff or a watch: what is wrong for that link, not serial advice."""
    _, config = daemon
    cli = Cli(capsys, config)
    add_resident(cli)
    add_cuff(cli, CUFF)
    cli("devices", "add", "--watch", "8800001234", "--profile", "watch.tcp", "--shared", "--id", "w1")
    code, _, err = cli("devices", "test", "cuff-1", "--timeout", "0.5")
    assert code == EXIT_FAILURE, err
    assert "[ble] enabled = false" in err and "PC output" not in err and "cable" not in err
    code, _, err = cli("devices", "test", "w1", "--timeout", "0.5")
    assert code == EXIT_FAILURE, err
    assert "[watch] listen" in err and "5093" in err and "PC output" not in err
    assert timeout_hint("watch", False, "192.168.8.1:5093").startswith("the watch must connect to 192")
    assert "hutgw devices pair" in timeout_hint("ble", True, None)
    assert "PC output" in timeout_hint("serial", False, None)
