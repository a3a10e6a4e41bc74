"""``hutgw diag bundle``: what goes in, and that no secret or health data does."""

from __future__ import annotations

import json
import os
import stat
import sys
import tarfile
from pathlib import Path

from provisioning.errors import EXIT_CONFLICT, EXIT_INPUT, EXIT_NOT_FOUND, EXIT_OK
from tests.provisioning.clihelp import Cli, Pty, add_resident, add_scale, hutgw
from tests.provisioning.test_status_cli import alert, fill_outbox
from tests.support.broker import free_port

SECRETS = ("s3cret-token", "9731", "brokerpass", "brokeruser")
PERSONAL = ("王秀英", "R001", "190/120", "deadbeefcafe", "400 above")


def write_config(folder: Path, state_dir: Path) -> Path:
    path = folder / "hutgw.toml"
    path.write_text(
        f"""gateway_id = "hut-0412"
state_dir = "{state_dir}"
[api]
listen = "127.0.0.1:{free_port()}"
token = "s3cret-token"
doctor_pin = "9731"
[uplink]
broker = "mqtt://brokeruser:brokerpass@county.example.cn:1883"
username = "brokeruser"
password = "brokerpass"
""",
        encoding="utf-8",
    )
    return path


def fake_journalctl(folder: Path) -> Path:
    """A `journalctl` that prints its arguments and two log lines."""
    bin_dir = folder / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "journalctl"
    exe.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "print('args:', ' '.join(sys.argv[1:]))\n"
        "print('2026-11-29T08:00:00+0800 hut hutgw[1]: INFO hutgw.daemon: gateway hut-0412 ready')\n"
    )
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR)
    return bin_dir


def read_bundle(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}  # type: ignore[union-attr]


def prepare(tmp_path: Path, capsys: object, state_dir: Path, pty: Pty) -> Path:
    config = write_config(tmp_path, state_dir)
    cli = Cli(capsys, config)  # type: ignore[arg-type]
    add_resident(cli)
    add_scale(cli, pty, resident="R001")
    fill_outbox(state_dir, [alert("bp_crisis", "BP 190/120 mmHg")])
    (state_dir / "quarantine.jsonl").write_text(
        json.dumps(
            {
                "at": "2026-11-29T08:00:00+00:00",
                "device": "scale-1",
                "source": "scale-1",
                "channel": str(pty.link),
                "profile": "tanita.serial",
                "error": "out_of_range: Wk: 400 above 300",
                "hex": "deadbeefcafe",
            }
        )
        + "\n"
    )
    (state_dir / "profiles").mkdir()
    (state_dir / "profiles" / "acme.toml").write_text("# a technician's format file\n")
    return config


def test_bundle_has_what_support_needs_and_nothing_personal(
    tmp_path: Path, capsys: object, state_dir: Path, pty: Pty
) -> None:
    config = prepare(tmp_path, capsys, state_dir, pty)
    out = tmp_path / "support.tar.gz"
    bin_dir = fake_journalctl(tmp_path)
    done = hutgw(
        "diag",
        "bundle",
        "--out",
        str(out),
        "--config",
        str(config),
        "--json",
        env={"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
    )
    assert done.returncode == EXIT_OK, done.stderr
    assert json.loads(done.stdout)["logs"] is True
    files = read_bundle(out)
    assert set(files) == {
        "hutgw-diag/README.txt",
        "hutgw-diag/config.json",
        "hutgw-diag/status.json",
        "hutgw-diag/versions.json",
        "hutgw-diag/logs/journal.txt",
        "hutgw-diag/quarantine.jsonl",
        "hutgw-diag/profiles/acme.toml",
    }
    everything = b"\n".join(files.values()).decode()
    for word in (*SECRETS, *PERSONAL):
        assert word not in everything, word

    cfg = json.loads(files["hutgw-diag/config.json"])
    assert cfg["api"]["token"] == "***" and cfg["api"]["doctor_pin"] == "***"
    assert cfg["uplink"]["password"] == "***"
    assert cfg["uplink"]["broker"] == "mqtt://county.example.cn:1883"
    assert cfg["gateway_id"] == "hut-0412"
    status = json.loads(files["hutgw-diag/status.json"])
    assert status["source"] == "state_files"
    assert status["devices"][0]["id"] == "scale-1" and "resident_id" not in status["devices"][0]
    assert status["alerts"] == [
        {"kind": "bp_crisis", "severity": "critical", "raised_at": "2026-11-29T08:00:00Z", "state": "pending"}
    ]
    versions = json.loads(files["hutgw-diag/versions.json"])
    assert versions["python"].startswith(f"{sys.version_info.major}.{sys.version_info.minor}")
    assert versions["packages"]["hut-gateway"] and versions["packages"]["cryptography"]
    journal = files["hutgw-diag/logs/journal.txt"].decode()
    assert journal.startswith("args: -u hutgw -p info -n 2000") and "gateway hut-0412 ready" in journal
    (rejected,) = [json.loads(x) for x in files["hutgw-diag/quarantine.jsonl"].splitlines()]
    assert rejected == {
        "at": "2026-11-29T08:00:00+00:00",
        "device": "scale-1",
        "profile": "tanita.serial",
        "category": "out_of_range",
        "bytes": 6,
    }


def test_bundle_without_journalctl_says_so(tmp_path: Path, capsys: object, state_dir: Path, pty: Pty) -> None:
    config = prepare(tmp_path, capsys, state_dir, pty)
    out = tmp_path / "support.tar.gz"
    empty = tmp_path / "nobin"
    empty.mkdir()
    done = hutgw("diag", "bundle", "--out", str(out), "--config", str(config), env={"PATH": str(empty)})
    assert done.returncode == EXIT_OK, done.stderr
    assert "journalctl is not available" in done.stderr
    assert "wrote" in done.stdout and "no health data" in done.stdout
    files = read_bundle(out)
    assert "hutgw-diag/logs/journal.txt" not in files
    assert "journalctl is not available here" in files["hutgw-diag/README.txt"].decode()


def test_bundle_refuses_bad_or_existing_targets(cli: Cli, tmp_path: Path) -> None:
    code, _, err = cli("diag", "bundle", "--out", str(tmp_path / "support.zip"))
    assert code == EXIT_INPUT and ".tar.gz" in err
    code, _, err = cli("diag", "bundle", "--out", str(tmp_path / "nowhere" / "s.tar.gz"))
    assert code == EXIT_NOT_FOUND and "nowhere" in err
    existing = tmp_path / "old.tar.gz"
    existing.write_bytes(b"keep me")
    code, _, err = cli("diag", "bundle", "--out", str(existing))
    assert code == EXIT_CONFLICT and "--force" in err
    assert existing.read_bytes() == b"keep me"
    code, _, err = cli("diag", "bundle", "--out", str(existing), "--force")
    assert code == EXIT_OK, err
    assert "hutgw-diag/config.json" in read_bundle(existing)
