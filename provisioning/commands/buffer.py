"""``hutgw buffer``: the outbox for technicians -- offline export, receipts, rejected readings.

* ``hutgw buffer export --out FILE.jsonl.gz [--since TIME]`` writes every undelivered record as
  uplink envelopes (one ``hut.readings/1`` / ``hut.alerts/1`` envelope per line, up to 500
  records each). It marks nothing: carry the file to the county, load it with ``hutgw receiver
  import``, bring the receipt back.
* ``hutgw buffer mark-delivered --from-receipt FILE`` marks the receipt's accepted ids delivered
  (a record revised after the export stays pending and is sent again).
* ``hutgw buffer list [--state rejected]`` shows records, e.g. the ones the county rejected, with
  the reason.

They open ``<state_dir>/outbox.db`` directly; that works with the daemon stopped or running
(SQLite WAL lets a second connection in).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from buffer.ids import uuid7
from buffer.outbox import Outbox
from buffer.record import State, Stored
from provisioning.atomicfile import replace_keeping
from provisioning.context import load_context
from provisioning.errors import EXIT_OK, BadInputError, NotFoundError
from uplink import envelope
from uplink.contract import Receipt

EXPORT_BATCH = 500


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("buffer", help="outbox: offline export and receipts, rejected readings")
    bs = p.add_subparsers(dest="buffer_command", metavar="ACTION")
    bs.required = True

    ex = bs.add_parser("export", parents=[common], help="write undelivered records as uplink envelopes")
    ex.add_argument("--out", type=Path, required=True, help="FILE.jsonl.gz")
    ex.add_argument("--since", default=None, help="only records created at/after TIME (ISO 8601 or epoch s)")
    ex.add_argument("--batch", type=int, default=EXPORT_BATCH, help="records per envelope (default 500)")
    ex.set_defaults(func=run_export)

    md = bs.add_parser("mark-delivered", parents=[common], help="mark the ids of an import receipt delivered")
    md.add_argument("--from-receipt", type=Path, required=True, dest="receipt")
    md.set_defaults(func=run_mark_delivered)

    ls = bs.add_parser("list", parents=[common], help="list records (e.g. --state rejected, with reasons)")
    ls.add_argument("--state", choices=[s.value for s in State], default=None)
    ls.add_argument("--stream", default=None)
    ls.add_argument("--kind", default=None)
    ls.add_argument("--limit", type=int, default=100)
    ls.set_defaults(func=run_list)


def _outbox_path(args: argparse.Namespace) -> tuple[Path, str]:
    ctx = load_context(args)
    path = ctx.state_dir / "outbox.db"
    if not path.exists():
        raise NotFoundError(f"no outbox at {path}", hint="check --state-dir (the daemon creates the outbox)")
    return path, ctx.config.gateway_id


def parse_since(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise BadInputError(f"--since {text!r} is neither ISO 8601 nor epoch seconds") from None
    if when.tzinfo is None:
        when = when.astimezone()  # local time, as a technician types it
    return when.timestamp()


async def _envelopes(
    records: AsyncIterator[Stored], gateway_id: str, batch: int
) -> AsyncIterator[tuple[bytes, int, dict[str, str]]]:
    """Envelope lines, one stream per envelope, at most ``batch`` records each."""
    pending: dict[str, list[Stored]] = {}

    def flush(stream: str) -> tuple[bytes, int, dict[str, str]]:
        items = pending.pop(stream)
        enc = envelope.encode(stream, gateway_id, uuid7(), datetime.now(UTC), items)
        return enc.payload, len(enc.ids), enc.bad

    async for rec in records:
        if rec.stream not in envelope.SCHEMA_BY_STREAM:
            continue
        bucket = pending.setdefault(rec.stream, [])
        bucket.append(rec)
        if len(bucket) >= batch:
            yield flush(rec.stream)
    for stream in list(pending):
        yield flush(stream)


def run_export(args: argparse.Namespace) -> int:
    path, gateway_id = _outbox_path(args)
    since = parse_since(args.since)
    out: Path = args.out
    if args.batch < 1:
        raise BadInputError("--batch must be at least 1")

    async def main() -> tuple[int, int, int]:
        tmp = out.with_name(out.name + ".part")
        lines = records = 0
        bad: dict[str, str] = {}
        async with Outbox(path) as ob:
            with gzip.open(tmp, "wb") as f:
                async for line, n, skipped in _envelopes(
                    ob.export_pending(since=since), gateway_id, args.batch
                ):
                    bad.update(skipped)
                    if n:
                        f.write(line + b"\n")
                        lines += 1
                        records += n
        replace_keeping(tmp, out)
        return lines, records, len(bad)

    lines, records, skipped = asyncio.run(main())
    if args.json:
        print(json.dumps({"file": str(out), "envelopes": lines, "records": records, "unreadable": skipped}))
    else:
        print(f"exported {records} record(s) in {lines} envelope(s) to {out}; nothing was marked delivered")
        if skipped:
            print(f"warning: {skipped} record(s) have an unreadable payload and were left out")
        print(
            "at the county: hutgw receiver import", out.name, "--db COUNTY.db  (then bring the receipt back)"
        )
    return EXIT_OK


def _read_receipt(path: Path) -> Receipt:
    """The receipt ``hutgw receiver import`` wrote, checked against the contract's model."""
    hint = "give the receipt file `hutgw receiver import` wrote"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"receipt {path} does not exist", hint=hint) from None
    except OSError as e:
        raise BadInputError(f"receipt {path} is not readable: {e}", hint=hint) from None
    try:
        return Receipt.model_validate_json(data)
    except ValidationError as e:
        first = e.errors()[0]
        if first["type"] == "json_invalid":
            raise BadInputError(f"receipt {path} is not readable JSON: {first['msg']}", hint=hint) from None
        where = ".".join(str(x) for x in first["loc"]) or "the file"
        raise BadInputError(
            f"{path} is not a receipt from `hutgw receiver import` ({where}: {first['msg']})", hint=hint
        ) from None


def run_mark_delivered(args: argparse.Namespace) -> int:
    receipt = _read_receipt(args.receipt)
    path, _ = _outbox_path(args)
    ids = receipt.accepted

    async def main() -> int:
        async with Outbox(path) as ob:
            return await ob.mark_delivered(ids, exported_at=receipt.exported_at)

    n = asyncio.run(main())
    rejected = receipt.rejected
    if args.json:
        print(json.dumps({"receipt_ids": len(ids), "marked": n, "rejected_at_county": len(rejected)}))
    else:
        print(f"marked {n} of {len(ids)} record(s) delivered")
        if n < len(ids):
            print("(the others were already delivered, are unknown here, or were revised after the export)")
        if rejected:
            print(
                f"the county rejected {len(rejected)} record(s); they stay here, pending, and go again online"
            )
    return EXIT_OK


def _row(s: Stored) -> dict[str, Any]:
    return {
        "id": s.id,
        "seq": s.seq,
        "stream": s.stream,
        "lane": s.lane.name.lower(),
        "kind": s.kind,
        "resident": s.key,
        "state": s.state.value,
        "created_at": datetime.fromtimestamp(s.created_at, UTC).isoformat(timespec="seconds"),
        "attempts": s.attempts,
        "reason": s.reason,
    }


def run_list(args: argparse.Namespace) -> int:
    path, _ = _outbox_path(args)

    async def main() -> list[Stored]:
        async with Outbox(path) as ob:
            state = State(args.state) if args.state else None
            return await ob.list(state=state, stream=args.stream, kind=args.kind, limit=args.limit)

    rows = [_row(s) for s in asyncio.run(main())]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print("no records")
        return EXIT_OK
    for r in rows:
        line = f"{r['created_at']}  {r['state']:<9} {r['kind']:<16} {r['resident'] or '-':<10} {r['id']}"
        if r["reason"]:
            line += f"\n    reason: {r['reason']}"
        print(line)
    return EXIT_OK
