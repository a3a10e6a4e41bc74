"""scripts/install.sh and uninstall.sh, run for real into a staging root under tmp_path.

`--root DIR` makes the scripts do everything they do on a box (systemd-sysusers creates the
user in DIR/etc/passwd, systemctl --root enables the unit) without touching this machine;
`--dry-run` is checked to change nothing at all.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
INSTALLED_EXEC = "/opt/hutgw/venv/bin/hutgw"

pytestmark = pytest.mark.skipif(
    shutil.which("systemd-sysusers") is None or shutil.which("systemctl") is None,
    reason="systemd-sysusers/systemctl missing: install the Debian package `systemd` (make system-deps does)",
)
as_root = pytest.mark.skipif(os.getuid() != 0, reason="file ownership can only be set as root")

TEST_RULES = 'SUBSYSTEM=="tty", ATTRS{idVendor}=="0403", SYMLINK+="hutgw-test"\n'


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The parts of a checkout the scripts use, plus one extra udev rules file."""
    root = tmp_path / "checkout"
    for part in ("scripts", "systemd", "docs"):
        shutil.copytree(REPO / part, root / part)
    (root / "systemd" / "98-hutgw-test.rules").write_text(TEST_RULES)
    return root


@pytest.fixture
def target(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "hostname").write_text("hut-village-12\n")
    return root


def sh(script: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        ["bash", str(script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def install(checkout: Path, target: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return sh(checkout / "scripts" / "install.sh", "--root", str(target), "--skip-venv", *args)


def uninstall(checkout: Path, target: Path) -> subprocess.CompletedProcess[str]:
    return sh(checkout / "scripts" / "uninstall.sh", "--root", str(target))


def passwd(target: Path) -> dict[str, list[str]]:
    return {line.split(":")[0]: line.split(":") for line in (target / "etc/passwd").read_text().splitlines()}


def groups(target: Path) -> dict[str, list[str]]:
    return {line.split(":")[0]: line.split(":") for line in (target / "etc/group").read_text().splitlines()}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_install_creates_user_files_config_and_enables_the_unit(checkout: Path, target: Path) -> None:
    install(checkout, target)

    user = passwd(target)["hutgw"]
    assert user[5:] == ["/var/lib/hutgw", "/usr/sbin/nologin"]
    g = groups(target)
    assert "hutgw" in g["dialout"][3].split(",")
    assert "hutgw" in g["bluetooth"][3].split(",")

    unit = target / "etc/systemd/system/hutgw.service"
    assert unit.read_text() == (checkout / "systemd/hutgw.service").read_text()
    wanted = target / "etc/systemd/system/multi-user.target.wants/hutgw.service"
    assert os.readlink(wanted) == "/etc/systemd/system/hutgw.service"

    rules = sorted(p.name for p in (checkout / "systemd").glob("*.rules"))
    assert "98-hutgw-test.rules" in rules
    assert sorted(p.name for p in (target / "etc/udev/rules.d").iterdir()) == rules
    assert (target / "etc/udev/rules.d/98-hutgw-test.rules").read_text() == TEST_RULES
    assert (target / "etc/modules-load.d/hutgw.conf").read_text().split("\n")[-3:] == [
        "usbserial",
        "cdc_acm",
        "",
    ]
    assert os.readlink(target / "usr/local/bin/hutgw") == INSTALLED_EXEC
    assert (target / "opt/hutgw/docs/deployment.md").exists()

    manifest = (target / "opt/hutgw/installed-files").read_text().split()
    assert "/etc/systemd/system/hutgw.service" in manifest
    assert "/etc/udev/rules.d/98-hutgw-test.rules" in manifest
    assert not [p for p in manifest if p.startswith(("/etc/hutgw", "/var/lib/hutgw"))]

    config = target / "etc/hutgw/hutgw.toml"
    assert 'gateway_id = "hut-village-12"' in config.read_text()
    check = subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "config", "validate", str(config)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert mode(config) == 0o640
    assert mode(target / "etc/hutgw") == 0o750
    assert mode(target / "var/lib/hutgw") == 0o700


@as_root
def test_ownership_uses_the_new_user(checkout: Path, target: Path) -> None:
    install(checkout, target)
    uid, gid = int(passwd(target)["hutgw"][2]), int(passwd(target)["hutgw"][3])
    state = (target / "var/lib/hutgw").stat()
    assert (state.st_uid, state.st_gid) == (uid, gid)
    conf = (target / "etc/hutgw/hutgw.toml").stat()
    assert (conf.st_uid, conf.st_gid) == (0, gid)


def test_gateway_id_option_and_bad_ids(checkout: Path, target: Path) -> None:
    install(checkout, target, "--gateway-id", "hut-north.3")
    assert 'gateway_id = "hut-north.3"' in (target / "etc/hutgw/hutgw.toml").read_text()
    (target / "etc/hutgw/hutgw.toml").unlink()
    bad = subprocess.run(
        [
            "bash",
            str(checkout / "scripts/install.sh"),
            "--root",
            str(target),
            "--skip-venv",
            "--gateway-id",
            "x/y",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode != 0
    assert "--gateway-id may use only" in bad.stderr


def test_reinstall_keeps_config_and_uninstall_keeps_config_and_data(checkout: Path, target: Path) -> None:
    install(checkout, target)
    config = target / "etc/hutgw/hutgw.toml"
    config.write_text('gateway_id = "edited-by-technician"\n')
    second = install(checkout, target)
    assert "keeping the existing /etc/hutgw/hutgw.toml" in second.stdout
    assert config.read_text() == 'gateway_id = "edited-by-technician"\n'
    assert list(passwd(target)).count("hutgw") == 1

    outbox = target / "var/lib/hutgw/outbox.db"
    outbox.write_bytes(b"undelivered readings")
    result = uninstall(checkout, target)
    assert "kept /etc/hutgw" in result.stdout

    for gone in (
        "etc/systemd/system/hutgw.service",
        "etc/systemd/system/multi-user.target.wants/hutgw.service",
        "etc/udev/rules.d/98-hutgw-test.rules",
        "etc/modules-load.d/hutgw.conf",
        "etc/sysusers.d/hutgw.conf",
        "usr/local/bin/hutgw",
        "opt/hutgw",
    ):
        assert not (target / gone).exists() and not (target / gone).is_symlink(), gone
    assert config.read_text() == 'gateway_id = "edited-by-technician"\n'
    assert outbox.read_bytes() == b"undelivered readings"
    assert "hutgw" in passwd(target)


def test_dry_run_changes_nothing_and_shows_the_plan(checkout: Path, target: Path) -> None:
    before = sorted(str(p) for p in target.rglob("*"))
    out = sh(checkout / "scripts/install.sh", "--dry-run", "--root", str(target)).stdout
    assert sorted(str(p) for p in target.rglob("*")) == before
    assert f"+ python3 -m venv {target}/opt/hutgw/venv" in out
    assert f"{target}/opt/hutgw/venv/bin/pip install" in out
    assert str(checkout) in out
    assert f"+ systemctl --root={target} --quiet enable hutgw.service" in out


def test_dry_run_on_a_live_system_enables_and_starts(checkout: Path) -> None:
    out = sh(checkout / "scripts/install.sh", "--dry-run", env={"HUTGW_ASSUME_SYSTEMD": "yes"}).stdout
    lines = out.splitlines()
    assert "+ systemctl daemon-reload" in lines
    assert "+ systemctl enable hutgw.service" in lines
    assert "+ systemctl restart hutgw.service" in lines
    assert f"+ ln -sfn {INSTALLED_EXEC} /usr/local/bin/hutgw" in lines
    assert lines.index("+ systemctl daemon-reload") < lines.index("+ systemctl enable hutgw.service")
    off = sh(checkout / "scripts/install.sh", "--dry-run", env={"HUTGW_ASSUME_SYSTEMD": "no"}).stdout
    assert "systemd is not running here" in off
    assert "systemctl" not in "\n".join(line for line in off.splitlines() if line.startswith("+"))
    down = sh(checkout / "scripts/uninstall.sh", "--dry-run", env={"HUTGW_ASSUME_SYSTEMD": "yes"}).stdout
    assert "+ systemctl disable --now hutgw.service" in down.splitlines()


def test_refuses_to_run_without_root_on_the_live_system(checkout: Path) -> None:
    script = (checkout / "scripts/install.sh").read_text()
    # as an unprivileged user (nobody when we are root); the script comes on stdin because
    # tmp_path is private to root
    drop = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.getuid() == 0 else []
    proc = subprocess.run(
        [*drop, "bash", "-s", "--", "--skip-venv"],
        input=script,
        capture_output=True,
        text=True,
        timeout=60,
        cwd="/",
    )
    assert proc.returncode != 0
    assert "run as root" in proc.stderr


def _wheel(tmp_path: Path) -> Path:
    """A wheel of this project, built from a copy so the checkout gets no build/ folder."""
    src = tmp_path / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
    for name in ("pyproject.toml", "README.md", "hutgw_errors.py"):
        shutil.copy2(REPO / name, src / name)
    for pkg in ("gateway", "drivers", "buffer", "uplink", "provisioning"):
        shutil.copytree(REPO / pkg, src / pkg, ignore=ignore)
    out = tmp_path / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    (wheel,) = out.glob("hut_gateway-*.whl")
    return wheel


def test_venv_step_installs_the_project(checkout: Path, target: Path, tmp_path: Path) -> None:
    """The real venv + pip step, from a wheel; --no-deps keeps it offline and quick."""
    wheel = _wheel(tmp_path)
    sh(
        checkout / "scripts/install.sh",
        "--root",
        str(target),
        "--source",
        str(wheel),
        "--pip-args",
        "--no-deps --no-compile",
        env={"PYTHON": sys.executable},
    )
    venv = target / "opt/hutgw/venv"
    assert (venv / "bin/hutgw").exists()
    probe = subprocess.run(
        [str(venv / "bin/python"), "-c", "import gateway.sdnotify, sys; print(gateway.sdnotify.__file__)"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.startswith(str(venv))
