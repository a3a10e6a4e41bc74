"""Every copied public vector passes through the real `hutgw decode --batch` command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.vectors import VECTORS_DIR, is_error_vector, mismatches

HUTGW = [sys.executable, "-m", "provisioning.cli"]


def all_vectors() -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for path in sorted(VECTORS_DIR.glob("*.json")):
        out.extend(json.loads(path.read_text(encoding="utf-8")))
    return out


def test_batch_decodes_every_vector(tmp_path: Path) -> None:
    vectors = all_vectors()
    assert vectors, "no vectors copied into tests/vectors"
    batch = tmp_path / "batch.jsonl"
    with batch.open("w", encoding="utf-8") as f:
        for v in vectors:
            item = {"protocol": v["protocol"]}
            item.update({k: v[k] for k in ("input_hex", "input_text") if k in v})
            f.write(json.dumps(item, ensure_ascii=False) + "\n")
    proc = subprocess.run(
        [*HUTGW, "decode", "--batch", str(batch)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == len(vectors)
    failures = []
    for v, line in zip(vectors, lines, strict=True):
        out = json.loads(line)
        if is_error_vector(v):
            if out.get("error") != v["expected"]["error"]:  # type: ignore[index]
                failures.append(f"{v['id']}: expected error {v['expected']}, got {out}")
            continue
        if "ok" not in out:
            failures.append(f"{v['id']}: rejected: {out}")
            continue
        problems = mismatches(v["expected"], out["ok"])
        failures.extend(f"{v['id']}: {p}" for p in problems)
    assert not failures, "\n".join(failures)


def test_single_frame_ok_and_rejected() -> None:
    line = (
        '{0,16,~0,1,~1,1,~2,1,MO,"SC-240",SN,"00000002",Bt,0,GE,1,AG,30,Hm,170,Pt,0.0,Wk,82.7,FW,18.6,'
        "fW,15.4,MW,67.3,mW,64.0,sW,19,bW,3.3,wW,48.0,ww,58.0,MI,28.6,Sw,63.6,OV,30.0,IF,6,rb,8255,rB,1973,"
        "rJ,12,rA,28,ZF,369.4,CS,FD\r\n"
    )
    ok = subprocess.run([*HUTGW, "decode", "tanita.serial", "--text", line], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["fields"]["weight_kg"] == 82.7
    bad = subprocess.run(
        [*HUTGW, "decode", "tanita.serial", "--text", line.replace("CS,FD", "CS,FE")],
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("error: bad_checksum: ")
    assert bad.stdout == ""


@pytest.mark.parametrize("args", [["nosuch.profile", "--hex", "00"], ["--hex", "00"]])
def test_unknown_or_missing_profile(args: list[str]) -> None:
    proc = subprocess.run([*HUTGW, "decode", *args], capture_output=True, text=True)
    assert proc.returncode != 0
    assert proc.stderr.startswith("error: ")


def test_batch_reports_unsupported_and_bad_hex(tmp_path: Path) -> None:
    batch = tmp_path / "b.jsonl"
    batch.write_text(
        '{"protocol": "no.such", "input_hex": "00"}\n'
        '{"protocol": "tanita.serial", "input_hex": "zz"}\n'
        "not json\n"
    )
    proc = subprocess.run([*HUTGW, "decode", "--batch", str(batch)], capture_output=True, text=True)
    assert proc.returncode == 0
    outs = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [o["error"] for o in outs] == ["unsupported", "malformed", "malformed"]
    assert all(o["detail"] for o in outs)
