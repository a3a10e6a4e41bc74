"""Bad input, as a technician would type it, to every command.

Each case must give one clear sentence on stderr (``error: <what is wrong> (<what to do>)``),
the exit code documented in docs/cli.md, and leave the state folder exactly as it was.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning.errors import (
    EXIT_CONFIG,
    EXIT_CONFLICT,
    EXIT_FAILURE,
    EXIT_INPUT,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_PERMISSION,
    EXIT_UNREACHABLE,
)
from tests.provisioning.clihelp import REPO, Cli, Pty, add_cuff, add_resident, add_scale, hutgw, write_config
from tests.provisioning.test_status_cli import fill_outbox
from tests.support.broker import free_port

CUFF = "C0:FF:EE:00:00:01"
CSV_HEADER = "resident_id,name,sex,birth_year,height_cm\n"
DOCUMENTED = {EXIT_FAILURE, EXIT_CONFIG, EXIT_INPUT, EXIT_CONFLICT, EXIT_NOT_FOUND, EXIT_UNREACHABLE}


def state_digest(state_dir: Path) -> dict[str, str]:
    """The logical content of every file in the state folder (databases by their SQL dump)."""
    out: dict[str, str] = {}
    for path in sorted(state_dir.rglob("*")):
        if not path.is_file() or path.name.endswith(("-wal", "-shm", ".lock")):
            continue
        if path.suffix == ".db":
            con = sqlite3.connect(path)
            try:
                out[path.name] = "\n".join(con.iterdump())
            finally:
                con.close()
        else:
            out[path.name] = path.read_bytes().hex()
    return out


@pytest.fixture
def hut(cli: Cli, state_dir: Path, pty: Pty, tmp_path: Path) -> Iterator[dict[str, Path]]:
    """A hut with one resident, a cuff, a serial scale, one fence and an outbox."""
    add_resident(cli)
    add_cuff(cli, CUFF)
    add_scale(cli, pty)
    fence = tmp_path / "home.geojson"
    fence.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "home", "kind": "safe", "radius_m": 300},
                        "geometry": {"type": "Point", "coordinates": [116.39, 39.9]},
                    }
                ],
            }
        )
    )
    code, _, err = cli("geofence", "import", "R001", str(fence))
    assert code == EXIT_OK, err
    fill_outbox(state_dir, [])
    files = {"fence": fence, "port": pty.link}
    not_a_port = tmp_path / "notes.txt"
    not_a_port.write_text("hello")
    files["regular"] = not_a_port
    csv_missing_col = tmp_path / "missing-col.csv"
    csv_missing_col.write_text("resident_id,name\nR002,张三\n", encoding="utf-8")
    files["csv_missing_col"] = csv_missing_col
    csv_bad_rows = tmp_path / "bad-rows.csv"
    csv_bad_rows.write_text(
        CSV_HEADER + "R002,张三,男,1948,165\nR003,,女,1950,150\nR004,李四,x,1700,999\n", encoding="utf-8"
    )
    files["csv_bad_rows"] = csv_bad_rows
    csv_gbk = tmp_path / "gbk.csv"
    csv_gbk.write_bytes((CSV_HEADER + "R005,王五,男,1950,160\n").encode("gbk"))
    files["csv_gbk"] = csv_gbk
    csv_duplicate = tmp_path / "dup.csv"
    csv_duplicate.write_text(CSV_HEADER + "R001,王秀英,女,1950,155\n", encoding="utf-8")
    files["csv_duplicate"] = csv_duplicate
    bad_json = tmp_path / "broken.geojson"
    bad_json.write_text('{"type": "FeatureCollection", "features": [')
    files["bad_json"] = bad_json
    bad_geo = tmp_path / "open-ring.geojson"
    bad_geo.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"name": "field", "kind": "danger"},
                        "geometry": {"type": "Polygon", "coordinates": [[[116.0, 39.0], [116.1, 39.0]]]},
                    }
                ],
            }
        )
    )
    files["bad_geo"] = bad_geo
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[api]\nlisten = 'nowhere:99999'\n")
    files["bad_toml"] = bad_toml
    yield files


# (argv, exit code, words the message must contain); {name} is replaced by the hut's files
CASES: list[tuple[list[str], int, tuple[str, ...]]] = [
    # devices add: addresses
    (
        ["devices", "add", "--ble", "C0:FF:EE:00:00", "--profile", "gatt.weight_measurement", "--shared"],
        EXIT_INPUT,
        ("not a Bluetooth address", "C0:FF:EE:00:00:01"),
    ),
    (
        ["devices", "add", "--ble", "cuff", "--profile", "gatt.weight_measurement", "--shared"],
        EXIT_INPUT,
        ("'cuff' is not a Bluetooth address",),
    ),
    (
        ["devices", "add", "--serial", "/dev/ttyUSB-nothing", "--profile", "tanita.serial", "--shared"],
        EXIT_NOT_FOUND,
        ("serial port /dev/ttyUSB-nothing does not exist", "/dev/serial/by-id"),
    ),
    (
        ["devices", "add", "--serial", "{regular}", "--profile", "tanita.serial", "--shared"],
        EXIT_INPUT,
        ("is not a serial port",),
    ),
    (
        ["devices", "add", "--watch", "88A00012", "--profile", "watch.tcp", "--shared"],
        EXIT_INPUT,
        ("watch id '88A00012' is not a number", "digits"),
    ),
    (
        ["devices", "add", "--watch", "11010519491231002X", "--profile", "watch.tcp", "--shared"],
        EXIT_INPUT,
        ("is not a number",),
    ),
    # devices add: profiles
    (
        ["devices", "add", "--ble", "AA:BB:CC:DD:EE:FF", "--profile", "omron.bp", "--shared"],
        EXIT_NOT_FOUND,
        ("unknown profile 'omron.bp'", "gatt.blood_pressure_measurement"),
    ),
    (
        ["devices", "add", "--ble", "AA:BB:CC:DD:EE:FF", "--profile", "tanita.serial", "--shared"],
        EXIT_INPUT,
        ("'tanita.serial' is for serial devices, not Bluetooth",),
    ),
    (
        ["devices", "add", "--ble", "AA:BB:CC:DD:EE:FF", "--profile", "gatt.battery_level", "--shared"],
        EXIT_INPUT,
        ("gatt.battery_level",),
    ),
    (
        ["devices", "add", "--serial", "{port}", "--profile", "watch.tcp", "--shared"],
        EXIT_INPUT,
        ("is for 4G watch devices, not serial",),
    ),
    # devices add: residents, ids, duplicates
    (
        [
            "devices",
            "add",
            "--ble",
            "AA:BB:CC:DD:EE:FF",
            "--profile",
            "gatt.weight_measurement",
            "--resident",
            "R999",
        ],
        EXIT_NOT_FOUND,
        ("no resident 'R999'", "--shared"),
    ),
    (
        [
            "devices",
            "add",
            "--ble",
            "AA:BB:CC:DD:EE:FF",
            "--profile",
            "mi_scale_v1.adv",
            "--shared",
            "--user",
            "1=R999",
        ],
        EXIT_NOT_FOUND,
        ("no resident 'R999'",),
    ),
    (
        [
            "devices",
            "add",
            "--ble",
            "AA:BB:CC:DD:EE:FF",
            "--profile",
            "mi_scale_v1.adv",
            "--shared",
            "--user",
            "one=R001",
        ],
        EXIT_INPUT,
        ("INDEX=RESIDENT",),
    ),
    (
        [
            "devices",
            "add",
            "--ble",
            "AA:BB:CC:DD:EE:FF",
            "--profile",
            "gatt.weight_measurement",
            "--shared",
            "--id",
            "cuff-1",
        ],
        EXIT_CONFLICT,
        ("device cuff-1 is already registered", "--id"),
    ),
    (
        ["devices", "add", "--ble", CUFF.lower(), "--profile", "gatt.weight_measurement", "--shared"],
        EXIT_CONFLICT,
        (f"{CUFF} already belongs to device cuff-1", "hutgw devices remove cuff-1"),
    ),
    (
        ["devices", "add", "--serial", "{port}", "--profile", "tanita.serial", "--shared", "--id", "scale-2"],
        EXIT_CONFLICT,
        ("already belongs to device scale-1",),
    ),
    (
        [
            "devices",
            "add",
            "--ble",
            "AA:BB:CC:DD:EE:FF",
            "--profile",
            "gatt.weight_measurement",
            "--shared",
            "--id",
            "11010519491231002X",
        ],
        EXIT_INPUT,
        ("national ID",),
    ),
    (
        [
            "devices",
            "add",
            "--ble",
            "AA:BB:CC:DD:EE:FF",
            "--profile",
            "gatt.weight_measurement",
            "--shared",
            "--id",
            "my scale",
        ],
        EXIT_INPUT,
        ("device id 'my scale'",),
    ),
    # devices: unknown ids and addresses
    (["devices", "remove", "cuff-9"], EXIT_NOT_FOUND, ("no device 'cuff-9'", "hutgw devices list")),
    (["devices", "test", "cuff-9"], EXIT_NOT_FOUND, ("no device 'cuff-9'",)),
    (["devices", "pair", "12:34"], EXIT_INPUT, ("not a Bluetooth address",)),
    # residents
    (
        ["residents", "add", "R001", "--name", "王秀英"],
        EXIT_CONFLICT,
        ("resident R001 is already registered",),
    ),
    (["residents", "add", "11010519491231002X", "--name", "张三"], EXIT_INPUT, ("national ID",)),
    (["residents", "add", "R010", "--name", "张三", "--birth-year", "1850"], EXIT_INPUT, ("birth_year",)),
    (["residents", "remove", "R404"], EXIT_NOT_FOUND, ("no resident 'R404'",)),
    (["residents", "remove", "R001"], EXIT_CONFLICT, ("still has device(s) cuff-1",)),
    (
        ["residents", "import", "/nonexistent/people.csv"],
        EXIT_INPUT,
        ("cannot read /nonexistent/people.csv",),
    ),
    (
        ["residents", "import", "{csv_missing_col}"],
        EXIT_INPUT,
        ("missing column(s) sex, birth_year, height_cm",),
    ),
    (["residents", "import", "{csv_gbk}"], EXIT_INPUT, ("not UTF-8", "CSV UTF-8")),
    # geofence
    (["geofence", "import", "R001", "/nonexistent/home.geojson"], EXIT_NOT_FOUND, ("does not exist",)),
    (["geofence", "import", "R001", "{bad_json}"], EXIT_INPUT, ("broken.geojson",)),
    (["geofence", "import", "R001", "{bad_geo}"], EXIT_INPUT, ("open-ring.geojson",)),
    (["geofence", "remove", "R404"], EXIT_NOT_FOUND, ("R404",)),
    # readings and buffer
    (["readings", "assign", "0190aaaa-0000-7000-8000-000000000000", "R001"], EXIT_NOT_FOUND, ("0190aaaa",)),
    (
        ["buffer", "mark-delivered", "--from-receipt", "/nonexistent/receipt.json"],
        EXIT_NOT_FOUND,
        ("/nonexistent/receipt.json",),
    ),
    # profiles and decode
    (["profiles", "validate", "/nonexistent/acme.toml"], EXIT_NOT_FOUND, ("does not exist",)),
    (["decode", "no.such", "--hex", "00"], EXIT_NOT_FOUND, ("unknown profile 'no.such'",)),
    # the daemon
    (["status", "--live"], EXIT_UNREACHABLE, ("the daemon does not answer", "systemctl status hutgw")),
    # certificates
    (["enroll", "--cert", "{fence}"], EXIT_INPUT, ("not a PEM certificate",)),
]


def _argv(argv: list[str], files: dict[str, Path]) -> list[str]:
    return [a.format(**{k: str(v) for k, v in files.items()}) if "{" in a else a for a in argv]


@pytest.mark.parametrize(("argv", "code", "words"), CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_bad_input_is_one_clear_sentence_and_changes_nothing(
    cli: Cli, state_dir: Path, hut: dict[str, Path], argv: list[str], code: int, words: tuple[str, ...]
) -> None:
    if argv[0] == "enroll":  # needs a gateway key: make one first, outside the comparison
        key = state_dir / "tls" / "gateway.key"
        key.parent.mkdir()
        from provisioning import pki

        pki.write_private(key, pki.key_pem(pki.new_key()))
    before = state_digest(state_dir)
    got, out, err = cli(*_argv(argv, hut))
    assert got == code, err
    assert code in DOCUMENTED
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "(" in lines[0] and lines[0].endswith(")"), "the message must say what to do"
    for w in words:
        assert w in lines[0], (w, lines[0])
    assert out == ""
    assert state_digest(state_dir) == before


def test_csv_with_bad_rows_names_each_line_and_imports_nothing(
    cli: Cli, state_dir: Path, hut: dict[str, Path]
) -> None:
    before = state_digest(state_dir)
    code, _, err = cli("residents", "import", str(hut["csv_bad_rows"]))
    assert code == EXIT_INPUT
    lines = err.strip().splitlines()
    assert lines[0].startswith("line 3") and "name" in lines[0]
    assert lines[1].startswith("line 4") and "birth_year" in lines[1] and "height_cm" in lines[1]
    assert lines[-1].startswith("error: ") and "2 bad row(s), nothing imported" in lines[-1]
    assert "--skip-bad" in lines[-1]
    assert state_digest(state_dir) == before


def test_csv_duplicate_id_imports_nothing(cli: Cli, state_dir: Path, hut: dict[str, Path]) -> None:
    before = state_digest(state_dir)
    code, _, err = cli("residents", "import", str(hut["csv_duplicate"]))
    assert code == EXIT_INPUT and "R001" in err
    assert state_digest(state_dir) == before


def test_invalid_config_names_each_field(cli: Cli, hut: dict[str, Path]) -> None:
    code, _, err = cli("config", "validate", str(hut["bad_toml"]))
    assert code == EXIT_CONFIG
    assert "api.listen" in err and "65535" in err


def test_missing_config_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    cli = Cli(capsys, tmp_path / "nothing.toml")
    code, _, err = cli("devices", "list")
    assert code == EXIT_CONFIG
    assert (
        err.strip()
        == f"error: config file {tmp_path / 'nothing.toml'} does not exist (create it or run `hutgw init`)"
    )


def test_bad_input_through_a_subprocess_in_chinese(state_dir: Path) -> None:
    done = hutgw(
        "devices",
        "add",
        "--ble",
        "C0:FF:EE",
        "--profile",
        "gatt.weight_measurement",
        "--shared",
        "--state-dir",
        str(state_dir),
        env={"LANG": "zh_CN.UTF-8"},
    )
    assert done.returncode == EXIT_INPUT
    assert done.stderr.strip() == (
        "错误：'C0:FF:EE' 不是蓝牙地址"
        "（格式为六组十六进制数，如 C0:FF:EE:00:00:01（可用 `hutgw devices scan` 查看））"
    )
    assert not (state_dir / "registry.db").exists()


def test_json_mode_errors_are_json(cli: Cli, hut: dict[str, Path]) -> None:
    code, out, err = cli(
        "devices", "add", "--ble", "nope", "--profile", "gatt.weight_measurement", "--shared", "--json"
    )
    assert code == EXIT_INPUT and out == ""
    obj = json.loads(err)
    assert obj["exit_code"] == EXIT_INPUT and "not a Bluetooth address" in obj["error"] and obj["hint"]


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], config: Path) -> None:
    from provisioning.cli import main

    with pytest.raises(SystemExit) as e:
        main(["devices", "add", "--ble", CUFF, "--serial", "/dev/ttyS0", "--profile", "x", "--shared"])
    assert e.value.code == EXIT_CONFIG
    assert "not allowed with argument" in capsys.readouterr().err


def test_every_command_and_exit_code_is_documented() -> None:
    import argparse

    from provisioning import errors
    from provisioning.cli import build_parser

    doc = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")

    def commands(parser: argparse.ArgumentParser, prefix: str) -> Iterator[str]:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subs:
            yield prefix
            return
        for name, sp in subs[0].choices.items():
            yield from commands(sp, f"{prefix} {name}")

    found = list(commands(build_parser(), "hutgw"))
    assert len(found) > 30
    for command in found:
        assert command in doc, command
    for name in dir(errors):
        if name.startswith("EXIT_"):
            assert f"`{name}`" in doc and f"| {getattr(errors, name)} |" in doc, name


# --------------------------------------------------------------------------- everyday operations (issue 19)


def unprivileged(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``hutgw`` as a user who may not read root's files: as root, without the capabilities that
    let root read and write anything (a file or folder with mode 000 is then refused as it is to
    a non-root user)."""
    prefix: list[str] = []
    if os.geteuid() == 0:
        drop = "-dac_override,-dac_read_search"
        prefix = ["setpriv", f"--bounding-set={drop}", f"--inh-caps={drop}"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "provisioning.cli", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
        cwd=REPO,
        timeout=60,
        check=False,
    )


def no_traceback(done: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in done.stderr and "Exception" not in done.stderr, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].endswith((")", "）")), "the message must say what to do"
    return lines[0]


def test_a_config_this_user_may_not_read(tmp_path: Path, state_dir: Path) -> None:
    config = write_config(tmp_path, state_dir)
    config.chmod(0)  # as root:root 0640 is to a technician's own account
    for command in (["status"], ["residents", "list"], ["config", "validate"], ["run"]):
        done = unprivileged(*command, "--config", str(config))
        assert done.returncode == EXIT_PERMISSION, (command, done.stderr)
        line = no_traceback(done)
        assert line.startswith(f"error: {config}: permission denied for user ") and "sudo" in line
    done = unprivileged("status", "--config", str(config), "--lang", "zh")
    assert no_traceback(done).startswith(f"错误：{config}：用户 ") and "没有权限" in done.stderr


def test_a_state_folder_this_user_may_not_write(tmp_path: Path, state_dir: Path) -> None:
    config = write_config(tmp_path, state_dir)
    state_dir.chmod(0)
    try:
        for command in (
            ["status"],
            ["residents", "list"],
            ["residents", "add", "R1", "--name", "x"],
            ["run"],
        ):
            done = unprivileged(*command, "--config", str(config))
            assert done.returncode in (EXIT_PERMISSION, EXIT_FAILURE), (command, done.stderr)
            line = no_traceback(done)
            assert str(state_dir) in line, line
    finally:
        state_dir.chmod(0o755)


def test_a_state_folder_this_user_may_only_read(cli: Cli, config: Path, state_dir: Path) -> None:
    """The service's folder, readable by a technician in its group but not writable: said as a
    permission, not as a damaged registry ("attempt to write a readonly database")."""
    add_resident(cli)
    modes = {p: p.stat().st_mode for p in [state_dir, *state_dir.iterdir()]}
    for p in modes:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        for command in (["residents", "list"], ["devices", "list"], ["geofence", "list"]):
            done = unprivileged(*command, "--config", str(config))
            assert done.returncode == EXIT_PERMISSION, (command, done.stderr)
            assert no_traceback(done).startswith(f"error: {state_dir}: permission denied"), done.stderr
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def test_a_closed_pipe_is_quiet(cli: Cli, config: Path, tmp_path: Path) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        CSV_HEADER + "".join(f"R{n:03d},张{n},男,1950,160\n" for n in range(200)), encoding="utf-8"
    )
    code, _, err = cli("residents", "import", str(people))
    assert code == EXIT_OK, err
    done = subprocess.run(
        [
            "bash",
            "-c",
            f'set -o pipefail; "{sys.executable}" -m provisioning.cli residents list '
            f'--config "{config}" | head -3',
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=60,
        check=False,
    )
    assert done.stderr == "" and done.returncode == EXIT_OK, done.stderr
    assert len(done.stdout.splitlines()) == 3


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ('[api]\nlisten = "0.0.0.0:{port}"\n', "api.token"),
        ('[uplink.tls]\nca_file = "/nonexistent/county-ca.pem"\n', "uplink.tls.ca_file"),
        ('[uplink]\nbroker = "mqtt://county.example:1883"\n[uplink.tls]\nca_file = "{ca}"\n', "uplink"),
    ],
    ids=["exposed-api-without-token", "missing-ca-file", "plain-mqtt-with-tls-files"],
)
def test_validate_refuses_what_run_refuses(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, state_dir: Path, extra: str, field: str
) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    config = tmp_path / "hutgw.toml"
    config.write_text(
        f'gateway_id = "hut-1"\nstate_dir = "{state_dir}"\n' + extra.format(port=free_port(), ca=ca)
    )
    cli = Cli(capsys, config)
    code, _, validate_err = cli("config", "validate")
    assert code == EXIT_CONFIG
    assert f"  {field}" in validate_err, validate_err
    done = hutgw("run", "--config", str(config))
    assert done.returncode == EXIT_CONFIG, done.stderr
    assert "Traceback" not in done.stderr
    assert validate_err.splitlines()[1:] == done.stderr.splitlines()[1:]  # the same field lines
    assert not (state_dir / "outbox.db").exists()


def test_plain_mqtt_with_tls_files_says_use_mqtts(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "hutgw.toml"
    config.write_text('[uplink]\nbroker = "mqtt://county.example"\n[uplink.tls]\ncert_file = "/x.pem"\n')
    code, _, err = Cli(capsys, config)("config", "validate")
    assert code == EXIT_CONFIG and "mqtts://HOST:8883" in err and "plain text" in err


def test_global_options_before_or_after_the_command(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from provisioning.cli import main

    for argv in (
        ["--lang", "zh", "--config", str(config), "residents", "list"],
        ["residents", "--lang", "zh", "--config", str(config), "list"],
        ["residents", "list", "--lang", "zh", "--config", str(config)],
        ["--lang", "en", "residents", "list", "--lang", "zh", "--config", str(config)],
    ):
        assert main(argv) == EXIT_NOT_FOUND, argv
        assert capsys.readouterr().err.startswith("错误："), argv  # no registry yet, said in Chinese
    assert main(["--json", "--config", str(config), "status"]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["source"] == "state_files"


def test_a_misspelt_option_gets_did_you_mean(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from provisioning.cli import main

    with pytest.raises(SystemExit) as e:
        main(["residents", "list", "--stat-dir", "/tmp/x", "--config", str(config)])
    assert e.value.code == EXIT_CONFIG
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("error: unrecognized arguments: --stat-dir /tmp/x (did you mean --state-dir?)")
    )
    with pytest.raises(SystemExit):
        main(["resident", "list"])
    assert "(did you mean residents?)" in capsys.readouterr().err


def test_a_toml_syntax_error_is_printed_once(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "hutgw.toml"
    config.write_text('gateway_id = "hut-1"\n[api\nlisten = "127.0.0.1:8080"\n')
    for command in (["config", "validate"], ["status"]):
        code, _, err = Cli(capsys, config)(*command)
        assert code == EXIT_CONFIG
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "line 2" in lines[0] and lines[0].count("line 2") == 1, err
        assert lines[0].startswith(f"error: {config} is not valid TOML: ")


def test_validate_names_the_file_it_checked(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = Cli(capsys, config)("config", "validate")
    assert code == EXIT_OK and out.strip() == f"{config}: the config is valid"
    code, out, _ = Cli(capsys, config)("config", "validate", "--json")
    assert code == EXIT_OK and json.loads(out) == {"valid": True, "file": str(config)}


def test_watch_hints_agree_with_the_validator_and_the_readme(cli: Cli) -> None:
    code, _, err = cli("devices", "add", "--watch", "1234", "--profile", "watch.tcp", "--shared")
    assert code == EXIT_INPUT and "5 to 20 digits" in err and "10 to 15" not in err
    code, _, err = cli("devices", "add", "--watch", "88000012345", "--profile", "watch.tcp", "--shared")
    assert code == EXIT_OK, err
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    port = err.split('"')[1].rpartition(":")[2]
    assert f":{port}" in readme and port == "5093", err
