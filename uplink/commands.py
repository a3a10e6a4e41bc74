"""Ed25519-signed county messages: down-link commands and acks (canonical form, signing, checking).

A command is the JSON of :class:`uplink.contract.Command`. The signature covers the
*canonical JSON* of the received object without its ``signature`` key: keys sorted at every
level, no whitespace, UTF-8, numbers as orjson writes them (see :func:`canonical_bytes`). The
gateway checks the signature against the county public key from its config, then the target
gateway, the expiry (and that it is not too far ahead), and refuses a command id it has seen
before. Seen ids are kept until their expiry in ``<state_dir>/command_ids.json``.

Acks (``hut.ack/1``) are signed the same way, by the same county key (:func:`sign_ack`), and
checked by :class:`AckVerifier`: an ack that is not signed by that key deletes nothing.
Signatures are strict base64 (no whitespace, canonical padding).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from buffer.ids import uuid7
from uplink.contract import ACK_SCHEMA, COMMAND_SCHEMA, Ack, Command
from uplink.ed25519 import VerifyKey
from uplink.errors import UplinkError

if TYPE_CHECKING:  # the county side signs with ``cryptography``; the gateway only verifies
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

log = logging.getLogger("hutgw.uplink.commands")

COMMAND_NAMES = ("ping", "status", "residents", "geofences", "alert.ack")
MAX_CLOCK_SKEW_S = 300.0
"""How far in the future a command's ``issued_at`` may lie (the two clocks differ a little)."""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NoArgs(_Args):
    pass


class ResidentsArgs(_Args):
    """``residents``: the full resident list of this hut (``replace``) or changes to merge."""

    residents: list[dict[str, Any]]
    replace: bool = True


class GeofencesArgs(_Args):
    """``geofences``: the fences of one resident (GeoJSON-like objects), replacing the old ones."""

    resident_id: str
    geofences: list[dict[str, Any]]


class AlertAckArgs(_Args):
    """``alert.ack``: the county's duty officer has an urgent alert in hand; its rounds stop."""

    alert_id: str = Field(min_length=1, max_length=64)
    by: str | None = Field(None, max_length=64, description="who at the county (shown to the others)")


ARGS_MODELS: dict[str, type[_Args]] = {
    "ping": NoArgs,
    "status": NoArgs,
    "residents": ResidentsArgs,
    "geofences": GeofencesArgs,
    "alert.ack": AlertAckArgs,
}


class CommandRefused(UplinkError):
    """A command that must not run; ``reason`` goes back on ``command_results``."""

    def __init__(self, reason: str, *, command_id: str | None = None, name: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.command_id = command_id
        self.name = name


def canonical_bytes(obj: Mapping[str, Any]) -> bytes:
    """The bytes that are signed: the object without ``signature``, keys sorted, compact."""
    body = {k: v for k, v in obj.items() if k != "signature"}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def _b64decode(text: str) -> bytes:
    """Base64 from a file a person wrote (surrounding whitespace allowed)."""
    return base64.b64decode(text.strip(), validate=True)


def strict_b64decode(text: str) -> bytes:
    """A signature's base64: only the alphabet, canonical padding, no whitespace anywhere
    (``binascii.Error`` otherwise), so one signature has exactly one spelling."""
    raw = base64.b64decode(text, validate=True)
    if base64.b64encode(raw).decode("ascii") != text:
        raise binascii.Error("not canonical base64")
    return raw


def load_public_key(text: str) -> VerifyKey:
    """A public key given as base64 of the 32 raw bytes, or as PEM (see :mod:`uplink.ed25519`)."""
    try:
        return VerifyKey.from_text(text)
    except (ValueError, binascii.Error) as e:
        raise UplinkError(
            f"command_public_key is not an Ed25519 public key: {e}",
            hint="use the base64 line printed by `hutgw receiver keygen`",
        ) from None


def load_private_key(path: Path) -> Ed25519PrivateKey:
    """The county signing key from a PEM file (or base64 of the 32 raw bytes)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        data = path.read_bytes()
    except OSError as e:
        raise UplinkError(f"cannot read the signing key {path}: {e.strerror}") from None
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError("not an Ed25519 key")
            return key
        return Ed25519PrivateKey.from_private_bytes(_b64decode(data.decode()))
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as e:
        raise UplinkError(f"{path} is not an Ed25519 private key: {e}") from None


def public_key_b64(key: Ed25519PrivateKey | Ed25519PublicKey | VerifyKey) -> str:
    if isinstance(key, VerifyKey):
        return key.b64()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat().replace("+00:00", "Z")


def make_command(
    key: Ed25519PrivateKey,
    gateway_id: str,
    name: str,
    args: Mapping[str, Any] | None = None,
    *,
    ttl_s: float = 300.0,
    now: datetime | None = None,
    command_id: str | None = None,
) -> dict[str, Any]:
    """A signed command object, ready to be sent as JSON."""
    now = now or datetime.now(UTC)
    body: dict[str, Any] = {
        "schema": COMMAND_SCHEMA,
        "id": command_id or uuid7(),
        "gateway_id": gateway_id,
        "name": name,
        "args": dict(args or {}),
        "issued_at": _iso(now),
        "expires_at": _iso(now + timedelta(seconds=ttl_s)),
    }
    body["signature"] = base64.b64encode(key.sign(canonical_bytes(body))).decode()
    return body


class ReplayStore:
    """Command ids seen, kept until their expiry, persisted as JSON (written atomically)."""

    def __init__(self, path: Path | None, *, clock: Callable[[], float]) -> None:
        self._path = path
        self._clock = clock
        self._seen: dict[str, float] = {}
        if path is not None and path.exists():
            try:
                data = orjson.loads(path.read_bytes())
                self._seen = {str(k): float(v) for k, v in data.items()}
            except (OSError, orjson.JSONDecodeError, AttributeError, TypeError, ValueError) as e:
                log.warning("command replay store %s is unreadable (%s); starting empty", path, e)
        self._prune()

    def _prune(self) -> None:
        now = self._clock()
        self._seen = {k: v for k, v in self._seen.items() if v >= now}

    def seen(self, command_id: str) -> bool:
        return command_id in self._seen

    def remember(self, command_id: str, expires_at: float) -> None:
        self._prune()
        self._seen[command_id] = expires_at
        if self._path is None:
            return
        tmp = self._path.with_suffix(".tmp")
        with tmp.open("wb") as f:
            f.write(orjson.dumps(self._seen))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(self._path)

    def __len__(self) -> int:
        return len(self._seen)


@dataclass(frozen=True, slots=True)
class CheckedCommand:
    command: Command
    args: _Args


class CommandVerifier:
    """Turns raw bytes from ``commands`` into a checked command, or raises :class:`CommandRefused`."""

    def __init__(
        self,
        public_key: VerifyKey | None,
        gateway_id: str,
        replay: ReplayStore,
        *,
        clock: Callable[[], datetime],
        max_ttl_s: float = 7 * 86_400,
        max_skew_s: float = MAX_CLOCK_SKEW_S,
    ) -> None:
        self._key = public_key
        self._gateway_id = gateway_id
        self._replay = replay
        self._clock = clock
        self._max_ttl_s = max_ttl_s
        self._max_skew_s = max_skew_s

    def check(self, raw: bytes) -> CheckedCommand:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise CommandRefused(f"malformed: not JSON ({e})") from None
        if not isinstance(obj, dict):
            raise CommandRefused("malformed: a command is a JSON object")
        cid = obj.get("id") if isinstance(obj.get("id"), str) else None
        name = obj.get("name") if isinstance(obj.get("name"), str) else None
        sig = obj.get("signature")
        if not sig:
            raise CommandRefused(
                "unsigned: commands must carry an Ed25519 signature", command_id=cid, name=name
            )
        if self._key is None:
            raise CommandRefused(
                "no county public key configured on this gateway ([uplink] command_public_key)",
                command_id=cid,
                name=name,
            )
        try:
            signature = strict_b64decode(str(sig))
            self._key.verify(signature, canonical_bytes(obj))
        except (binascii.Error, ValueError):  # ed25519.BadSignature is a ValueError
            raise CommandRefused(
                "bad signature: not signed by the county key", command_id=cid, name=name
            ) from None
        try:
            cmd = Command.model_validate(obj)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(command)"
            raise CommandRefused(f"malformed: {where}: {first['msg']}", command_id=cid, name=name) from None

        def refused(reason: str) -> CommandRefused:
            return CommandRefused(reason, command_id=cmd.id, name=cmd.name)

        if cmd.gateway_id != self._gateway_id:
            raise refused(f"wrong gateway: addressed to {cmd.gateway_id!r}")
        now = self._clock()
        if cmd.expires_at.tzinfo is None or cmd.issued_at.tzinfo is None:
            raise refused("malformed: issued_at/expires_at need a time zone")
        if cmd.expires_at <= now:
            raise refused(f"expired at {_iso(cmd.expires_at)}")
        if (cmd.issued_at - now).total_seconds() > self._max_skew_s:
            raise refused(
                f"issued in the future ({_iso(cmd.issued_at)}, more than {self._max_skew_s:.0f} s ahead"
                " of this gateway's clock)"
            )
        if (cmd.expires_at - now).total_seconds() > self._max_ttl_s:
            raise refused(f"expiry too far ahead (more than {self._max_ttl_s:.0f} s)")
        if self._replay.seen(cmd.id):
            raise refused("replayed: this command id was already received")
        try:
            args = ARGS_MODELS[cmd.name].model_validate(cmd.args)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(args)"
            raise refused(f"malformed: args.{where}: {first['msg']}") from None
        self._replay.remember(cmd.id, cmd.expires_at.timestamp())
        return CheckedCommand(cmd, args)


# -- acks ------------------------------------------------------------------------------------


def sign_ack(key: Ed25519PrivateKey, ack: Ack, *, gateway_id: str | None = None) -> bytes:
    """The JSON of ``ack`` with the county's signature over its canonical form (what is published).

    ``gateway_id`` binds the ack to the gateway it answers (another gateway refuses it)."""
    body: dict[str, Any] = ack.model_dump(mode="json", by_alias=True, exclude_none=True)
    body.pop("signature", None)
    if gateway_id is not None:
        body["gateway_id"] = gateway_id
    body["signature"] = base64.b64encode(key.sign(canonical_bytes(body))).decode()
    return orjson.dumps(body)


class AckRefused(UplinkError):
    """An ack that must change nothing (unsigned, badly signed, malformed, for another gateway)."""


class AckVerifier:
    """Turns the bytes of an ``ack`` message into an :class:`Ack`, or raises :class:`AckRefused`.

    With a county key every ack must carry a valid signature by it; without one (``None``) acks
    are taken as they come (not authenticated: only the broker's ACL protects the outbox)."""

    def __init__(self, public_key: VerifyKey | None, gateway_id: str) -> None:
        self._key = public_key
        self._gateway_id = gateway_id

    @property
    def authenticated(self) -> bool:
        return self._key is not None

    def check(self, raw: bytes) -> Ack:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as e:
            raise AckRefused(f"malformed: not JSON ({e})") from None
        if not isinstance(obj, dict) or obj.get("schema") != ACK_SCHEMA:
            raise AckRefused(f"malformed: not a {ACK_SCHEMA} object")
        if self._key is not None:
            sig = obj.get("signature")
            if not isinstance(sig, str) or not sig:
                raise AckRefused("unsigned: acks must carry the county's Ed25519 signature")
            try:
                self._key.verify(strict_b64decode(sig), canonical_bytes(obj))
            except (binascii.Error, ValueError):  # ed25519.BadSignature is a ValueError
                raise AckRefused("bad signature: not signed by the county key") from None
        try:
            ack = Ack.model_validate(obj)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(ack)"
            raise AckRefused(f"malformed: {where}: {first['msg']}") from None
        if ack.gateway_id is not None and ack.gateway_id != self._gateway_id:
            raise AckRefused(f"wrong gateway: addressed to {ack.gateway_id!r}")
        return ack
