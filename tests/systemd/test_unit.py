"""systemd/hutgw.service: systemd's own checker accepts it and rates its sandbox 2.5 or lower."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from provisioning.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
UNIT = REPO / "systemd" / "hutgw.service"
INSTALLED_EXEC = "/opt/hutgw/venv/bin/hutgw"
ANALYZE = shutil.which("systemd-analyze")
MAX_EXPOSURE = 2.5

needs_analyze = pytest.mark.skipif(
    ANALYZE is None,
    reason="systemd-analyze is missing: install the Debian package `systemd` (make system-deps does)",
)


def settings(text: str) -> list[tuple[str, str, str]]:
    """(section, key, value) in file order; systemd allows repeated keys."""
    out, section = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def one(key: str, section: str = "Service") -> str:
    values = [v for s, k, v in settings(UNIT.read_text()) if s == section and k == key]
    assert len(values) == 1, f"{section}.{key}: {values}"
    return values[0]


def all_of(key: str, section: str = "Service") -> list[str]:
    return [v for s, k, v in settings(UNIT.read_text()) if s == section and k == key]


def runnable_copy(tmp_path: Path, text: str | None = None) -> Path:
    """The unit with ExecStart pointing at this checkout's real `hutgw` (verify checks it exists)."""
    hutgw = Path(sys.executable).parent / "hutgw"
    assert hutgw.exists(), "the project is not installed in this venv"
    path = tmp_path / "hutgw.service"
    path.write_text((text or UNIT.read_text()).replace(INSTALLED_EXEC, str(hutgw)))
    return path


def verify(path: Path) -> list[str]:
    """Complaints of `systemd-analyze verify` about this unit (it exits 0 on ignored lines)."""
    assert ANALYZE is not None
    proc = subprocess.run(
        [ANALYZE, "verify", "--man=no", str(path)], capture_output=True, text=True, timeout=60
    )
    lines = (proc.stdout + proc.stderr).splitlines()
    mine = [line for line in lines if str(path) in line or "hutgw.service" in line]
    if proc.returncode != 0 and not mine:
        mine = lines or [f"exit status {proc.returncode}"]
    return mine


def exposure(path: Path) -> float:
    assert ANALYZE is not None
    proc = subprocess.run(
        [ANALYZE, "security", "--offline=true", "--no-pager", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    m = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", proc.stdout)
    assert m, proc.stdout + proc.stderr
    return float(m.group(1))


@needs_analyze
def test_verify_accepts_the_unit(tmp_path: Path) -> None:
    assert verify(runnable_copy(tmp_path)) == []


@needs_analyze
def test_verify_only_misses_the_binary_that_install_creates() -> None:
    assert verify(UNIT) == [
        f"hutgw.service: Command {INSTALLED_EXEC} is not executable: No such file or directory"
    ]


@needs_analyze
def test_verify_would_catch_a_mistake(tmp_path: Path) -> None:
    broken = UNIT.read_text().replace("Type=notify", "Type=notfy")
    assert any("notfy" in line for line in verify(runnable_copy(tmp_path, broken)))


@needs_analyze
def test_security_exposure_is_at_most_2_5() -> None:
    score = exposure(UNIT)
    assert score <= MAX_EXPOSURE, f"systemd-analyze security rates hutgw.service {score}"
    assert ANALYZE is not None
    threshold = subprocess.run(
        [ANALYZE, "security", "--offline=true", f"--threshold={int(MAX_EXPOSURE * 10)}", str(UNIT)],
        capture_output=True,
        timeout=60,
    )
    assert threshold.returncode == 0


@needs_analyze
def test_security_rating_would_catch_a_weakened_unit(tmp_path: Path) -> None:
    weak = "\n".join(
        line
        for line in UNIT.read_text().splitlines()
        if not line.startswith(
            ("SystemCallFilter", "CapabilityBoundingSet", "ProtectSystem", "RestrictAddress")
        )
    )
    path = tmp_path / "hutgw.service"
    path.write_text(weak)
    assert exposure(path) > MAX_EXPOSURE


def test_supervision_settings() -> None:
    assert one("Type") == "notify"
    assert one("NotifyAccess") == "main"
    assert one("WatchdogSec") == "30"
    assert one("Restart") == "on-failure"
    assert int(one("TimeoutStopSec")) > 10  # graceful shutdown takes up to 10 s
    assert one("KillMode") == "mixed"
    assert one("StartLimitIntervalSec", "Unit") == "0"
    assert one("WantedBy", "Install") == "multi-user.target"
    # an offline hut must still start at once: no waiting for the network or a time server
    unit_deps = " ".join(
        v for s, k, v in settings(UNIT.read_text()) if s == "Unit" and k in ("Wants", "After", "Requires")
    )
    assert "network-online.target" not in unit_deps
    assert "time-sync.target" not in unit_deps


def test_file_descriptors_cover_the_connection_caps() -> None:
    """1,030 idle connections used up the default 1024 descriptors and stopped the API and the
    watch listener (issue 17 item 8); the caps must fit under the unit's limit with room left."""
    from gateway.config import ApiConfig, WatchConfig

    limit = int(one("LimitNOFILE"))
    caps = ApiConfig().max_connections + WatchConfig().max_connections
    assert limit >= caps + 1024


def test_identity_and_directories() -> None:
    assert one("User") == "hutgw"
    assert one("SupplementaryGroups").split() == ["dialout", "bluetooth"]
    assert one("StateDirectory") == "hutgw"
    assert one("ConfigurationDirectory") == "hutgw"
    assert one("UMask") == "0077"
    assert "DynamicUser" not in {k for _, k, _ in settings(UNIT.read_text())}


def test_serial_devices_without_private_devices() -> None:
    assert one("DevicePolicy") == "closed"
    allowed = {v.split()[0] for v in all_of("DeviceAllow")}
    assert {"char-ttyUSB", "char-ttyACM", "char-ttyS", "char-ttyAMA"} <= allowed
    assert all(v.split()[1] == "rw" for v in all_of("DeviceAllow"))
    assert not [v for v in all_of("PrivateDevices") if v not in ("no", "false")]


def test_address_families_are_unix_and_ip_only() -> None:
    assert one("RestrictAddressFamilies").split() == ["AF_UNIX", "AF_INET", "AF_INET6"]
    assert one("CapabilityBoundingSet") == ""


def test_execstart_arguments_are_what_the_cli_takes() -> None:
    exe, *argv = one("ExecStart").split()
    assert exe == INSTALLED_EXEC
    args = build_parser().parse_args(argv)
    assert args.command == "run"
    assert args.config == Path("/etc/hutgw/hutgw.toml")
    assert args.state_dir == Path("/var/lib/hutgw")
