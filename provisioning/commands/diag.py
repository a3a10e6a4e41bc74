"""``hutgw diag bundle --out FILE.tar.gz``: what remote support needs, and nothing personal.

The bundle holds the configuration with secrets redacted (and without the residents bound to
devices), the status without resident ids or alert texts, versions (Python, packages, OS),
the daemon's recent log (``journalctl -u hutgw -p info``, when journalctl exists) and the
tail of ``quarantine.jsonl`` reduced to time, device, profile and error category -- never the
raw bytes, which may hold a measurement. ``README.txt`` in the bundle says what was left out.

Watch ids are masked everywhere in the bundle (``******0015``): a watch is identified only by
its id (no secret in the protocol), so whoever knows an id can pose as that watch.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import io
import json
import platform
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

from drivers.errors import CATEGORIES
from drivers.watch.server import masked
from gateway.registry import Registry, registry_path
from hutgw_errors import HutError
from provisioning.atomicfile import replace_keeping
from provisioning.commands.config import redact
from provisioning.context import load_context
from provisioning.errors import EXIT_OK, BadInputError, ConflictError, NotFoundError
from provisioning.i18n import t
from provisioning.output import Output

PACKAGES = (
    "hut-gateway",
    "bleak",
    "bleak-retry-connector",
    "aiomqtt",
    "aiosqlite",
    "pydantic",
    "pyserial",
    "pyserial-asyncio-fast",
    "aiohttp",
    "orjson",
    "cryptography",
    "rich",
    "tomli-w",
)
JOURNAL_TIMEOUT_S = 20.0


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("diag", help="diagnostics for remote support")
    dsub = p.add_subparsers(dest="diag_command", metavar="ACTION")
    dsub.required = True
    b = dsub.add_parser(
        "bundle",
        parents=[common],
        help="write a support bundle (redacted config, logs, status, versions); no health data",
    )
    b.add_argument("--out", type=Path, required=True, metavar="FILE.tar.gz")
    b.add_argument("--force", action="store_true", help="replace an existing file")
    b.add_argument("--log-lines", type=int, default=2000, metavar="N", help="last N log lines (default 2000)")
    b.add_argument("--quarantine-lines", type=int, default=200, metavar="N", help="last N rejected frames")
    b.set_defaults(func=run_bundle)


# --------------------------------------------------------------------------- parts


def redacted_config(cfg_dump: dict[str, Any]) -> dict[str, Any]:
    from provisioning.statusview import safe_url

    data: dict[str, Any] = redact(cfg_dump)
    uplink = data.get("uplink") or {}
    if uplink.get("broker"):
        uplink["broker"] = safe_url(uplink["broker"])
    if uplink.get("username"):
        uplink["username"] = "***"  # half of a credential
    data["devices"] = [
        {k: v for k, v in d.items() if k not in ("resident_id", "user_map")} for d in data.get("devices", [])
    ]
    return data


def versions() -> dict[str, Any]:
    packages: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            packages[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            packages[name] = None
    os_release = {}
    try:
        for line in Path("/etc/os-release").read_text(encoding="utf-8").splitlines():
            key, sep, value = line.partition("=")
            if sep and key in ("PRETTY_NAME", "VERSION_ID", "ID"):
                os_release[key] = value.strip('"')
    except OSError:
        pass
    return {
        "python": sys.version,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "os_release": os_release,
        "sqlite": sqlite3.sqlite_version,
        "packages": packages,
    }


def journal(lines: int) -> tuple[bytes | None, str | None]:
    """The daemon's recent log, or None and why not."""
    exe = shutil.which("journalctl")
    if exe is None:
        return None, t("diag.no_journal")
    try:
        done = subprocess.run(
            [exe, "-u", "hutgw", "-p", "info", "-n", str(lines), "--no-pager", "-o", "short-iso"],
            capture_output=True,
            timeout=JOURNAL_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, f"journalctl failed: {e}"
    if done.returncode != 0:
        return (
            None,
            f"journalctl exited with {done.returncode}: {done.stderr.decode(errors='replace').strip()}",
        )
    return done.stdout, None


def _category(error: Any) -> str | None:
    head = str(error or "").split(":", 1)[0].strip()
    return head if head in CATEGORIES else ("decoder_crash" if "crash" in str(error) else None)


def quarantine_tail(path: Path, lines: int) -> list[dict[str, Any]]:
    """The last rejected frames without their bytes: time, device, profile, error category, size."""
    try:
        raw = path.read_bytes().splitlines()[-lines:] if lines > 0 else []
    except OSError:
        return []
    out = []
    for line in raw:
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if not isinstance(item, dict):
            continue
        out.append(
            {
                "at": item.get("at"),
                "device": item.get("device"),
                "profile": item.get("profile"),
                "category": _category(item.get("error")),
                "bytes": len(str(item.get("hex") or "")) // 2,
            }
        )
    return out


def watch_ids(state_dir: Path) -> list[str]:
    """The provisioned watches' ids (their addresses in the registry)."""
    path = registry_path(state_dir)
    if not path.exists():
        return []
    with Registry(path) as reg:
        return [d.address for d in reg.list_devices() if d.address and d.profile.startswith("watch")]


def mask_ids(data: bytes, ids: list[str]) -> bytes:
    """``data`` with every watch id replaced by its masked form (longest ids first)."""
    for wid in sorted(set(ids), key=len, reverse=True):
        data = data.replace(wid.encode(), masked(wid).encode())
    return data


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = int(time.time())
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def _json(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str).encode()


# --------------------------------------------------------------------------- command


def run_bundle(args: argparse.Namespace) -> int:
    from provisioning import statusview  # the outbox and HTTP client only when asked

    out = Output.of(args)
    target: Path = args.out
    if not target.name.endswith((".tar.gz", ".tgz")):
        raise BadInputError(t("diag.out_bad", path=target), hint=t("diag.out_bad_hint"))
    if not target.parent.is_dir():
        raise NotFoundError(t("diag.no_folder", path=target.parent), hint=t("diag.out_bad_hint"))
    if target.exists() and not args.force:
        raise ConflictError(t("diag.out_exists", path=target), hint=t("diag.out_exists_hint"))
    ctx = load_context(args)
    notes: list[str] = []
    with out.progress(t("diag.progress"), total=5) as ticker:
        config = redacted_config(ctx.config.model_dump(mode="json"))
        ticker.advance()
        status: dict[str, Any] | None = None
        try:
            status = statusview.without_personal_data(statusview.collect(ctx, alerts=50))
        except HutError as e:
            notes.append(f"status unavailable: {e}")
        ticker.advance()
        logs, why = journal(max(0, args.log_lines))
        if why:
            notes.append(why)
            out.note(why)
        ticker.advance()
        rejected = quarantine_tail(ctx.state_dir / "quarantine.jsonl", args.quarantine_lines)
        formats = (
            sorted((ctx.state_dir / "profiles").glob("*.toml"))
            if (ctx.state_dir / "profiles").is_dir()
            else []
        )
        ticker.advance()
        readme = "\n".join(
            [
                f"hut-gateway support bundle for {ctx.config.gateway_id}, "
                f"made {time.strftime('%Y-%m-%dT%H:%M:%S%z')}",
                "",
                "config.json       effective configuration; token, doctor_pin and password redacted,",
                "                  broker credentials and device owners removed",
                "status.json       status without resident ids or alert texts",
                "versions.json     Python, packages, OS",
                "logs/journal.txt  journalctl -u hutgw -p info (no DEBUG lines)",
                "quarantine.jsonl  rejected frames: time, device, profile, error category, size (no bytes)",
                "profiles/         the technician's serial format files",
                "",
                "Not included: residents, readings, alerts' contents, keys, certificates.",
                "Watch ids are masked (only their last four characters are shown).",
                *(["", "Notes:", *(f"- {n}" for n in notes)] if notes else []),
                "",
            ]
        )
        tmp = target.with_name(target.name + ".tmp")
        ids = watch_ids(ctx.state_dir)
        with tarfile.open(tmp, "w:gz") as tar:
            _add(tar, "hutgw-diag/README.txt", readme.encode())
            _add(tar, "hutgw-diag/config.json", mask_ids(_json(config), ids))
            if status is not None:
                _add(tar, "hutgw-diag/status.json", mask_ids(_json(status), ids))
            _add(tar, "hutgw-diag/versions.json", _json(versions()))
            if logs is not None:
                _add(tar, "hutgw-diag/logs/journal.txt", mask_ids(logs, ids))
            _add(
                tar,
                "hutgw-diag/quarantine.jsonl",
                mask_ids(b"".join(_json_line(r) for r in rejected), ids),
            )
            for f in formats:
                _add(tar, f"hutgw-diag/profiles/{f.name}", f.read_bytes())
        replace_keeping(tmp, target)
        ticker.advance()
    size = target.stat().st_size
    result = {"out": str(target), "bytes": size, "logs": logs is not None, "notes": notes}
    out.result(result, lambda o: o.line(t("diag.written", path=target, size=size)))
    return EXIT_OK


def _json_line(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode() + b"\n"
