"""``hutgw readings``: readings nobody was signed in for, and assigning them to a resident.

Readings live in the outbox (``<state_dir>/outbox.db``, stream ``readings``, key = resident id).
An assignment revises the stored reading in place -- same id, revision + 1, attribution
``assigned``, classification redone with the resident's data -- so the county receives it as
an update of the reading it may already have, never as a second reading. Works while the
daemon runs (the outbox takes a second connection).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

from buffer.errors import OutboxError
from buffer.outbox import Outbox
from buffer.record import State, Stored
from gateway.alerts import AlertManager
from gateway.clinical import ClinicalSettings
from gateway.clock import SystemClock
from gateway.pipeline import Pipeline
from gateway.reattribution import AlreadyAssigned, NoSuchReading, NotAReading, Reattribution
from gateway.registry import Registry, registry_path
from gateway.sessions import KioskSessions
from provisioning.context import load_context
from provisioning.errors import EXIT_OK, BadInputError, ConflictError, NotFoundError
from uplink.codec import Reading

SCAN_STATES = (State.PENDING, State.INFLIGHT, State.DELIVERED)


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("readings", help="stored readings: unattributed ones and late assignment")
    rsub = p.add_subparsers(dest="readings_command", metavar="ACTION")
    rsub.required = True

    un = rsub.add_parser("unattributed", parents=[common], help="list readings that belong to nobody yet")
    un.add_argument(
        "--scan", type=int, default=20_000, metavar="N", help="look at N readings per state at most"
    )
    un.set_defaults(func=run_unattributed)

    asg = rsub.add_parser("assign", parents=[common], help="give a stored reading to a resident")
    asg.add_argument("reading_id", metavar="ID")
    asg.add_argument("resident_id", metavar="RESIDENT")
    asg.add_argument(
        "--force",
        action="store_true",
        help="re-assign a reading that already belongs to a resident (a correction)",
    )
    asg.set_defaults(func=run_assign)


def _outbox_path(state_dir: Path) -> Path:
    path = state_dir / "outbox.db"
    if not path.exists():
        raise NotFoundError(f"no outbox at {path}", hint="check --state-dir (the daemon creates the outbox)")
    return path


def _decode(stored: Stored) -> Reading | None:
    try:
        return Reading.from_wire(stored.payload)
    except (ValueError, KeyError, TypeError):
        return None


def summary(r: Reading, state: str) -> dict[str, Any]:
    return {
        "id": r.id,
        "revision": r.revision,
        "kind": r.kind,
        "device": r.device.id,
        "effective_at": r.effective_at.isoformat(),
        "time_source": r.time_source,
        "values": {k: {"value": v.value, "unit": v.unit} for k, v in r.values.items()},
        "flags": list(r.flags),
        "category": r.classification.category if r.classification else None,
        "state": state,
    }


async def _unattributed(path: Path, scan: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    async with Outbox(path) as box:
        for state in SCAN_STATES:
            for stored in await box.records.list(state=state, stream="readings", limit=scan):
                if stored.key is not None:
                    continue
                r = _decode(stored)
                if r is not None and r.resident_id is None:
                    found.append(summary(r, str(stored.state)))
    found.sort(key=lambda s: s["effective_at"])
    return found


def run_unattributed(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    try:
        rows = asyncio.run(_unattributed(_outbox_path(ctx.state_dir), args.scan))
    except OutboxError as e:
        raise NotFoundError(f"cannot read the outbox: {e.message}", hint=e.hint) from None
    if args.json:
        print(json.dumps(rows, ensure_ascii=False))
        return EXIT_OK
    if not rows:
        print("no unattributed readings")
        return EXIT_OK
    for s in rows:
        values = ", ".join(f"{k} {v['value']:g} {v['unit']}" for k, v in s["values"].items())
        print(f"{s['id']}  {s['effective_at']}  {s['kind']:<16} {s['device']:<14} {values}")
    print(f"{len(rows)} unattributed reading(s); assign with `hutgw readings assign ID RESIDENT`")
    return EXIT_OK


async def _assign(
    path: Path, reading_id: str, pipeline: Pipeline, resident_id: str, *, force: bool
) -> Reading:
    async with Outbox(path) as box:
        try:
            return await Reattribution(box.records, pipeline).assign(reading_id, resident_id, force=force)
        except NoSuchReading:
            raise NotFoundError(
                f"no stored reading {reading_id!r}", hint="see `hutgw readings unattributed` for the ids"
            ) from None
        except NotAReading:
            raise BadInputError(
                f"stored record {reading_id} is not a readable reading",
                hint="the record is damaged; `hutgw diag bundle` collects the state for support",
            ) from None
        except AlreadyAssigned as e:
            raise ConflictError(
                f"reading {reading_id} already belongs to resident {e.reading.resident_id}",
                hint="add --force to correct it",
            ) from None


def run_assign(args: argparse.Namespace) -> int:
    ctx = load_context(args)
    outbox = _outbox_path(ctx.state_dir)
    reg_path = registry_path(ctx.state_dir)
    if not reg_path.exists():
        raise NotFoundError(f"no registry at {reg_path}", hint="check --state-dir")
    cfg = ctx.config
    clock = SystemClock(sync_source=cfg.clock.sync_source)
    with Registry(reg_path) as reg:
        if reg.get_resident(args.resident_id) is None:
            raise NotFoundError(
                f"no resident {args.resident_id!r} in the registry", hint="see `hutgw residents list`"
            )
        pipeline = Pipeline(
            registry=reg.snapshot,
            sessions=KioskSessions(clock, cfg.api.session_timeout_s),
            clinical=ClinicalSettings.from_config(cfg.clinical),
            alerts=AlertManager(clock, cfg.clinical.suppress_s),
            clock=clock,
            max_device_skew_s=cfg.clock.max_device_skew_s,
            device_tz=cfg.clock.device_timezone,
            max_device_future_s=cfg.clock.max_device_future_s,
        )
        try:
            revised = asyncio.run(
                _assign(outbox, args.reading_id, pipeline, args.resident_id, force=args.force)
            )
        except OutboxError as e:
            raise NotFoundError(f"cannot update the outbox: {e.message}", hint=e.hint) from None
    if args.json:
        out = summary(revised, "pending")
        out["resident_id"] = revised.resident_id
        print(json.dumps(out, ensure_ascii=False))
    else:
        category = f", {revised.classification.category}" if revised.classification else ""
        print(
            f"reading {revised.id} assigned to {revised.resident_id} "
            f"(revision {revised.revision}{category}); the county receives the update"
        )
    return EXIT_OK
