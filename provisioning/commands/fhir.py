"""``hutgw fhir convert FILE``: uplink envelopes -> FHIR R4 transaction Bundles, one per line.

FILE is a JSON file holding one ``hut.readings/1`` / ``hut.alerts/1`` envelope or a list of
them, or the JSON-lines file (``.jsonl``, or ``.jsonl.gz`` as ``hutgw buffer export`` writes it)
with one envelope per line. Each envelope becomes one Bundle (same batch id, same identifiers
and conditional requests as the live FHIR uplink), printed as one JSON document per line on
stdout or written to ``--out``. Readings a Bundle cannot carry are listed on stderr with the
reason. The patient identifier system and the gateway identifier base come from ``[uplink]``
(``fhir_patient_system``, ``fhir_identifier_system``) unless given as options.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

import orjson

from hutgw_errors import HutError
from provisioning.context import load_context
from provisioning.errors import EXIT_FAILURE, EXIT_OK, BadInputError, NotFoundError
from uplink.contract import ALERTS_SCHEMA, READINGS_SCHEMA
from uplink.fhir.bundle import Converted, FhirSettings, convert

STREAM_OF_SCHEMA = {READINGS_SCHEMA: "readings", ALERTS_SCHEMA: "alerts"}


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("fhir", help="FHIR R4 output: convert uplink envelopes to transaction Bundles")
    fs = p.add_subparsers(dest="fhir_command", metavar="ACTION")
    fs.required = True
    cv = fs.add_parser("convert", parents=[common], help="envelopes (JSON, .jsonl, .jsonl.gz) -> Bundles")
    cv.add_argument("file", type=Path, help="envelope file (- for standard input)")
    cv.add_argument("--out", type=Path, default=None, help="write the Bundles here instead of stdout")
    cv.add_argument("--patient-system", default=None, help="identifier system URI of resident ids")
    cv.add_argument("--identifier-system", default=None, help="base URI of gateway-minted identifiers")
    cv.set_defaults(func=run_convert)


def _settings(args: argparse.Namespace) -> FhirSettings:
    base = FhirSettings()
    try:
        base = FhirSettings.from_mapping(load_context(args).config.uplink.model_dump())
    except HutError:
        if getattr(args, "config", None) is not None:
            raise  # a config file was named and is wrong: say so
    return FhirSettings(
        patient_system=args.patient_system or base.patient_system,
        identifier_system=args.identifier_system or base.identifier_system,
    )


def _read(path: Path) -> bytes:
    if str(path) == "-":
        return sys.stdin.buffer.read()
    try:
        data = path.read_bytes()
    except OSError as e:
        raise NotFoundError(f"cannot read {path}: {e.strerror}") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as e:
            raise BadInputError(f"{path} is not a readable gzip file: {e}") from None
    return data


def envelopes(data: bytes, name: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, envelope) for a JSON document (object or list) or JSON lines."""
    try:
        whole = orjson.loads(data)
    except orjson.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        yield name, whole
        return
    if isinstance(whole, list):
        for i, env in enumerate(whole):
            yield f"{name}[{i}]", env
        return
    for lineno, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield f"{name}:{lineno}", orjson.loads(line)
        except orjson.JSONDecodeError as e:
            raise BadInputError(
                f"{name} line {lineno} is not JSON: {e}", hint="is this a `hutgw buffer export` file?"
            ) from None


def convert_envelope(where: str, env: Any, settings: FhirSettings) -> Converted:
    if not isinstance(env, dict):
        raise BadInputError(f"{where}: not an envelope object")
    stream = STREAM_OF_SCHEMA.get(str(env.get("schema")))
    items = env.get(stream) if stream else None
    gateway_id, batch_id = env.get("gateway_id"), env.get("batch_id")
    if (
        stream is None
        or not isinstance(items, list)
        or not isinstance(gateway_id, str)
        or not isinstance(batch_id, str)
    ):
        raise BadInputError(f"{where}: not a {READINGS_SCHEMA} or {ALERTS_SCHEMA} envelope")
    try:
        sent_at = datetime.fromisoformat(str(env.get("sent_at")))
    except ValueError:
        sent_at = datetime.now(UTC)
    return convert(
        stream,
        [i for i in items if isinstance(i, dict)],
        gateway_id=gateway_id,
        batch_id=batch_id,
        sent_at=sent_at,
        settings=settings,
    )


def run_convert(args: argparse.Namespace) -> int:
    settings = _settings(args)
    data = _read(args.file)
    out: TextIO
    out = sys.stdout if args.out is None else args.out.open("w", encoding="utf-8")
    bundles = records = 0
    skipped: dict[str, str] = {}
    try:
        for where, env in envelopes(data, str(args.file)):
            conv = convert_envelope(where, env, settings)
            skipped.update(conv.skipped)
            if conv.ids:
                out.write(orjson.dumps(conv.bundle).decode() + "\n")
                bundles += 1
                records += len(conv.ids)
    finally:
        if out is not sys.stdout:
            out.close()
    summary = {"bundles": bundles, "records": records, "left_out": skipped}
    if args.json:
        print(json.dumps(summary, ensure_ascii=False), file=sys.stderr)
    else:
        print(f"converted {records} record(s) into {bundles} Bundle(s)", file=sys.stderr)
        for rid, reason in skipped.items():
            print(f"  left out {rid}: {reason}", file=sys.stderr)
    return EXIT_OK if bundles or not skipped else EXIT_FAILURE
