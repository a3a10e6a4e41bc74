"""The ``hutgw`` console script: ``run`` takes the short path, everything else the full CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ENTRY = [sys.executable, "-m", "provisioning.entry"]


def hutgw(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ENTRY, *args], capture_output=True, text=True, timeout=60)


def test_run_has_the_same_options_as_in_the_full_cli() -> None:
    short = hutgw("run", "--help")
    full = subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert short.returncode == full.returncode == 0
    assert short.stdout == full.stdout


def test_other_commands_go_through_the_full_cli() -> None:
    out = hutgw("decode", "--text", "nonsense", "--json")
    assert "decode" in (out.stdout + out.stderr)
    assert (
        hutgw("--help").stdout
        == subprocess.run(
            [sys.executable, "-m", "provisioning.cli", "--help"], capture_output=True, text=True, timeout=60
        ).stdout
    )


def test_run_reports_errors_like_the_cli(tmp_path: Path) -> None:
    bad = tmp_path / "hutgw.toml"
    bad.write_text('gateway_id = "hut-1"\n[api]\nlisten = "0.0.0.0:8080"\n')  # exposed, no token
    out = hutgw("run", "--config", str(bad), "--state-dir", str(tmp_path / "state"))
    assert out.returncode == 2, out
    assert out.stderr.startswith("error: ") and "api.token" in out.stderr, out.stderr


def test_run_does_not_import_the_other_commands() -> None:
    code = (
        "import sys; from provisioning import entry;"
        "sys.argv = ['hutgw', 'run', '--help'];"
        "import contextlib, io\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit): entry.main()\n"
        "print(sorted(m for m in sys.modules if m.startswith('provisioning.commands.')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "['provisioning.commands.run']"
