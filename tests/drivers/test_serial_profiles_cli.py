"""`hutgw profiles list|validate` and `hutgw decode` for the serial and watch protocols."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.serial.formats import BUILTIN_DIR
from provisioning.cli import main
from provisioning.errors import EXIT_FAILURE, EXIT_INPUT, EXIT_NOT_FOUND, EXIT_OK

GOOD = """
[profile]
name = "acme.scale"
title = "ACME platform scale"
[framing]
terminator = "\\r\\n"
[layout]
type = "key_value"
[fields.W]
name = "weight_kg"
type = "float"
unit = "kg"
value = "weight"
[[measurement]]
kind = "weight"
"""


def test_list_shows_builtin_and_local_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    local = tmp_path / "profiles"
    local.mkdir()
    (local / "acme.toml").write_text(GOOD)
    (local / "broken.toml").write_text(GOOD.replace('type = "float"', 'type = "flaot"'))
    assert main(["profiles", "list", "--state-dir", str(tmp_path), "--json"]) == EXIT_OK
    rows = json.loads(capsys.readouterr().out)
    by_name = {r["name"]: r for r in rows if r["name"]}
    assert by_name["tanita.serial"]["source"] == "built-in"
    assert by_name["omron.hbp9030"]["provisional"] is True
    assert {"nmea", "watch.tcp", "watch.stream"} <= set(by_name)
    assert by_name["acme.scale"]["source"] == str(local / "acme.toml")
    (bad,) = [r for r in rows if r["name"] is None]
    assert bad["source"].endswith("broken.toml") and "fields.W.type" in bad["errors"][0]
    assert main(["profiles", "list", "--state-dir", str(tmp_path)]) == EXIT_OK
    text = capsys.readouterr().out
    assert "tanita.serial" in text and "(invalid)" in text and "[provisional]" in text


def test_validate_good_file_and_sample_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "acme.toml"
    path.write_text(GOOD)
    assert main(["profiles", "validate", str(path), "--line", "W,71.5\r\n", "--json"]) == EXIT_OK
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is True and out["profile"]["name"] == "acme.scale"
    assert out["decoded"]["fields"] == {"weight_kg": 71.5}
    assert out["measurements"] == [{"kind": "weight", "values": {"weight": [71.5, "kg"]}}]
    assert main(["profiles", "validate", str(path), "--line", "W,7x\r\n"]) == EXIT_FAILURE
    assert "malformed" in capsys.readouterr().out


def test_validate_reports_every_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(GOOD.replace('type = "float"', 'type = "flaot"').replace("acme.scale", "Acme Scale"))
    assert main(["profiles", "validate", str(path)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "fields.W.type" in err and "profile.name" in err and "2 problem(s)" in err


def test_validate_refuses_a_builtin_name_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "t.toml"
    path.write_text(GOOD.replace("acme.scale", "tanita.serial"))
    assert main(["profiles", "validate", str(path)]) == EXIT_INPUT
    assert main(["profiles", "validate", str(tmp_path / "none.toml")]) == EXIT_NOT_FOUND
    for builtin in BUILTIN_DIR.glob("*.toml"):
        assert main(["profiles", "validate", str(builtin)]) == EXIT_OK


def test_hutgw_decode_tanita_in_a_real_subprocess() -> None:
    line = (
        '{0,16,~0,1,~1,1,~2,1,MO,"SC-240",SN,"00000002",Bt,0,GE,1,AG,30,Hm,170,Pt,0.0,Wk,82.7,FW,18.6,'
        "fW,15.4,MW,67.3,mW,64.0,sW,19,bW,3.3,wW,48.0,ww,58.0,MI,28.6,Sw,63.6,OV,30.0,IF,6,rb,8255,rB,1973,"
        "rJ,12,rA,28,ZF,369.4,CS,FD\r\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "provisioning.cli", "decode", "tanita.serial", "--text", line],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["checksum_ok"] is True and out["fields"]["weight_kg"] == 82.7


def test_hutgw_decode_batch_of_serial_and_watch_vectors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = Path(__file__).parent.parent / "vectors"
    vectors = [v for name in ("serial.json", "watch.json") for v in json.loads((folder / name).read_text())]
    batch = tmp_path / "batch.jsonl"
    batch.write_text("\n".join(json.dumps(v) for v in vectors))
    assert main(["decode", "--batch", str(batch)]) == EXIT_OK
    results = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert len(results) == len(vectors)
    for v, r in zip(vectors, results, strict=True):
        if "error" in v["expected"]:
            assert r.get("error") == v["expected"]["error"], v["id"]
        else:
            assert "ok" in r, (v["id"], r)
