"""``hutgw decode``: decode one frame (or a JSON-lines batch) with a named profile."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from drivers import registry
from drivers.errors import DecodeError
from drivers.frames import RawFrame
from drivers.measurement import Decoded
from drivers.registry import UnknownProfileError
from provisioning import i18n
from provisioning.errors import EXIT_FAILURE, EXIT_OK, BadInputError, NotFoundError


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    p = sub.add_parser("decode", parents=[common], help="decode a frame and print it as JSON")
    p.add_argument("profile", nargs="?", help="profile (protocol) name, e.g. tanita.serial")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--hex", help="raw bytes as hex")
    src.add_argument("--text", help="raw text (use $'..\\r\\n' in bash for control characters)")
    src.add_argument("--batch", type=Path, help='JSON lines {"protocol":..., "input_hex"|"input_text":...}')
    p.set_defaults(func=run)


def _frames(profile_transport: Any, data: list[bytes]) -> list[RawFrame]:
    now = datetime.now(UTC)
    return [RawFrame(transport=profile_transport, source="cli", data=d, received_at=now) for d in data]


def decode_input(protocol: str, input_hex: Any = None, input_text: str | None = None) -> Mapping[str, Any]:
    """Decode one vector-style input; raises DecodeError (category ``unsupported`` for unknown)."""
    try:
        profile = registry.get(protocol)
    except UnknownProfileError:
        raise DecodeError("unsupported", f"no decoder for protocol {protocol!r}") from None
    if input_hex is not None:
        chunks = input_hex if isinstance(input_hex, list) else [input_hex]
        try:
            data = [bytes.fromhex(str(c)) for c in chunks]
        except ValueError:
            raise DecodeError("malformed", "input_hex is not valid hex") from None
    elif input_text is not None:
        data = [input_text.encode("latin-1", errors="replace")]
    else:
        raise DecodeError("malformed", "no input_hex or input_text")
    frames = _frames(profile.transport, data)
    decoded: Decoded
    if len(frames) > 1 or isinstance(input_hex, list):
        if profile.decode_sequence is None:
            raise DecodeError("unsupported", f"{protocol} does not take a sequence of frames")
        decoded = profile.decode_sequence(frames)
    else:
        decoded = profile.decode(frames[0])
    return decoded.fields


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=False, default=str)


def run(args: argparse.Namespace) -> int:
    if args.batch is not None:
        return _run_batch(args.batch)
    if not args.profile:
        raise BadInputError("decode needs a PROFILE name", hint="e.g. hutgw decode tanita.serial --text ...")
    if args.profile not in registry.profiles():
        raise NotFoundError(
            f"unknown profile {args.profile!r}", hint="known: " + ", ".join(sorted(registry.profiles()))
        )
    try:
        fields = decode_input(args.profile, input_hex=args.hex, input_text=args.text)
    except DecodeError as e:
        detail = e.detail if not e.field else e.field + ": " + e.detail
        print(i18n.frame_error(f"{e.category}: {detail}", None), file=sys.stderr)
        return EXIT_FAILURE
    print(_dump(fields))
    return EXIT_OK


def _run_batch(path: Path) -> int:
    try:
        stream = sys.stdin if str(path) == "-" else path.open(encoding="utf-8")
    except OSError as e:
        raise NotFoundError(f"cannot read {path}: {e.strerror}", hint="check the file name") from None
    with stream:
        for lineno, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict) or "protocol" not in item:
                    raise DecodeError("malformed", f"line {lineno}: expected an object with 'protocol'")
                out: dict[str, Any] = {
                    "ok": decode_input(item["protocol"], item.get("input_hex"), item.get("input_text"))
                }
            except json.JSONDecodeError as e:
                out = {"error": "malformed", "detail": f"line {lineno}: not JSON: {e.msg}"}
            except DecodeError as e:
                detail = f"{e.field}: {e.detail}" if e.field else e.detail
                out = {"error": e.category, "detail": detail}
            except Exception as e:  # a decoder bug must not stop the batch; report it
                out = {"error": "malformed", "detail": f"decoder failed: {type(e).__name__}: {e}"}
            print(_dump(out), flush=False)
    sys.stdout.flush()
    return EXIT_OK
