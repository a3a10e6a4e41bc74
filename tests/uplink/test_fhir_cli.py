"""``hutgw fhir convert``: envelopes (JSON, JSON list, .jsonl.gz export) -> one Bundle per line."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from fhir.resources.R4B.bundle import Bundle

from buffer.ids import uuid7
from uplink import envelope

from .fhir_samples import make
from .helpers import alert

HUTGW = str(Path(sys.executable).parent / "hutgw")
SENT = datetime(2026, 11, 29, 9, tzinfo=UTC)


def env_bytes(stream: str, items: list[dict[str, Any]], batch_id: str | None = None) -> bytes:
    stored = [envelope.Item(i["id"], n + 1, orjson.dumps(i)) for n, i in enumerate(items)]
    return envelope.encode(stream, "hut-7", batch_id or uuid7(), SENT, stored).payload


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HUTGW, "fhir", "convert", *args, "--state-dir", str(cwd / "state")],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
        check=False,
    )


def test_export_file_becomes_one_bundle_per_envelope(tmp_path: Path) -> None:
    readings = [make(k, offset_s=i) for i, k in enumerate(["blood_pressure", "weight", "spo2"])]
    position = make("position")
    path = tmp_path / "export.jsonl.gz"
    with gzip.open(path, "wb") as f:
        f.write(env_bytes("readings", [*readings, position], "batch-a") + b"\n")
        f.write(env_bytes("alerts", [alert()], "batch-b") + b"\n")
    proc = run(str(path), "--patient-system", "urn:oid:1.2.156.9", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) == 2
    bundles = [json.loads(line) for line in lines]
    for b in bundles:
        Bundle.model_validate(b)
    assert [b["identifier"]["value"] for b in bundles] == ["batch-a", "batch-b"]
    subjects = {
        e["resource"]["subject"]["reference"]
        for e in bundles[0]["entry"]
        if e["resource"]["resourceType"] == "Observation"
    }
    assert subjects == {"Patient?identifier=urn:oid:1.2.156.9|r-001"}
    assert "converted 4 record(s) into 2 Bundle(s)" in proc.stderr
    assert f"left out {position['id']}: position fixes" in proc.stderr
    # The same file converted again gives the same Bundles (same identifiers, same requests).
    again = run(str(path), "--patient-system", "urn:oid:1.2.156.9", cwd=tmp_path)
    assert again.stdout == proc.stdout


def test_json_object_and_list_and_out_file_and_config(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_bytes(env_bytes("readings", [make("temperature")]))
    many = tmp_path / "many.json"
    many.write_text(
        json.dumps([json.loads(env_bytes("readings", [make("heart_rate", offset_s=i)])) for i in range(3)])
    )
    config = tmp_path / "hutgw.toml"
    config.write_text(
        'gateway_id = "hut-7"\n[uplink]\nfhir_patient_system = "https://county.example/sid/resident"\n'
    )
    proc = run(str(one), "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    ref = json.loads(proc.stdout)["entry"][-1]["resource"]["subject"]["reference"]
    assert ref == "Patient?identifier=https://county.example/sid/resident|r-001"
    out = tmp_path / "bundles.jsonl"
    proc = run(str(many), "--out", str(out), "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert len(out.read_text().splitlines()) == 3
    assert json.loads(proc.stderr) == {"bundles": 3, "records": 3, "left_out": {}}


def test_bad_input_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(env_bytes("readings", [make("temperature")]) + b"\n{not json\n")
    proc = run(str(bad), cwd=tmp_path)
    assert proc.returncode == 3
    assert "line 2 is not JSON" in proc.stderr
    missing = run(str(tmp_path / "nope.json"), cwd=tmp_path)
    assert missing.returncode == 5 and "cannot read" in missing.stderr
    wrong = tmp_path / "wrong.json"
    wrong.write_text('{"schema": "hut.status/1"}')
    proc = run(str(wrong), cwd=tmp_path)
    assert proc.returncode == 3 and "not a hut.readings/1 or hut.alerts/1 envelope" in proc.stderr


def test_only_unconvertible_readings_fail(tmp_path: Path) -> None:
    f = tmp_path / "pos.json"
    f.write_bytes(env_bytes("readings", [make("position"), make("weight", resident=None)]))
    proc = run(str(f), cwd=tmp_path)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "unattributed reading" in proc.stderr
