"""Signed down-link commands: checking (pure) and the round trip through a real broker."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from uplink.commands import (
    CommandRefused,
    CommandVerifier,
    ReplayStore,
    canonical_bytes,
    load_public_key,
    make_command,
    public_key_b64,
)

NOW = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def verifier(tmp_path: Path, *, now: datetime = NOW) -> CommandVerifier:
    store = ReplayStore(tmp_path / "command_ids.json", clock=lambda: now.timestamp())
    return CommandVerifier(load_public_key(public_key_b64(KEY)), "hut-7", store, clock=lambda: now)


def raw(obj: dict[str, object]) -> bytes:
    return orjson.dumps(obj)


def refused(v: CommandVerifier, body: bytes) -> str:
    with pytest.raises(CommandRefused) as info:
        v.check(body)
    return info.value.reason


def test_valid_command_is_accepted(tmp_path: Path) -> None:
    cmd = make_command(
        KEY, "hut-7", "geofences", {"resident_id": "r-1", "geofences": [{"type": "circle"}]}, now=NOW
    )
    checked = verifier(tmp_path).check(raw(cmd))
    assert checked.command.name == "geofences"
    assert checked.command.id == cmd["id"]


def test_unsigned_command_is_refused(tmp_path: Path) -> None:
    cmd = make_command(KEY, "hut-7", "ping", now=NOW)
    del cmd["signature"]
    assert refused(verifier(tmp_path), raw(cmd)).startswith("unsigned")


def test_bad_signature_is_refused(tmp_path: Path) -> None:
    other = Ed25519PrivateKey.from_private_bytes(bytes(32))
    assert refused(verifier(tmp_path), raw(make_command(other, "hut-7", "ping", now=NOW))).startswith(
        "bad signature"
    )


def test_tampered_command_is_refused(tmp_path: Path) -> None:
    cmd = make_command(KEY, "hut-7", "residents", {"residents": []}, now=NOW)
    cmd["args"] = {"residents": [{"id": "intruder"}]}
    assert refused(verifier(tmp_path), raw(cmd)).startswith("bad signature")


def test_expired_command_is_refused(tmp_path: Path) -> None:
    cmd = make_command(KEY, "hut-7", "ping", now=NOW - timedelta(hours=1), ttl_s=60)
    assert refused(verifier(tmp_path), raw(cmd)).startswith("expired")


def test_replayed_command_is_refused_even_after_a_restart(tmp_path: Path) -> None:
    body = raw(make_command(KEY, "hut-7", "ping", now=NOW))
    verifier(tmp_path).check(body)
    assert refused(verifier(tmp_path), body).startswith("replayed")  # a new verifier: the store was persisted


def test_replay_store_forgets_ids_after_their_expiry(tmp_path: Path) -> None:
    store = ReplayStore(tmp_path / "ids.json", clock=lambda: 100.0)
    store.remember("a", 150.0)
    store.remember("b", 500.0)
    later = ReplayStore(tmp_path / "ids.json", clock=lambda: 200.0)
    assert not later.seen("a") and later.seen("b")


@pytest.mark.parametrize(
    ("body", "start"),
    [
        (b"{not json", "malformed"),
        (b"[1,2]", "malformed"),
    ],
)
def test_malformed_bytes_are_refused(tmp_path: Path, body: bytes, start: str) -> None:
    assert refused(verifier(tmp_path), body).startswith(start)


def test_signed_but_malformed_commands_are_refused(tmp_path: Path) -> None:
    v = verifier(tmp_path)
    unknown = make_command(KEY, "hut-7", "reboot", now=NOW)
    assert refused(v, raw(unknown)).startswith("malformed: name")
    bad_args = make_command(KEY, "hut-7", "geofences", {"resident_id": 5}, now=NOW)
    assert refused(v, raw(bad_args)).startswith("malformed: args")


def test_command_for_another_gateway_is_refused(tmp_path: Path) -> None:
    assert refused(verifier(tmp_path), raw(make_command(KEY, "hut-8", "ping", now=NOW))).startswith(
        "wrong gateway"
    )


def test_expiry_far_ahead_is_refused(tmp_path: Path) -> None:
    cmd = make_command(KEY, "hut-7", "ping", now=NOW, ttl_s=365 * 86_400)
    assert refused(verifier(tmp_path), raw(cmd)).startswith("expiry too far ahead")


def test_canonical_form_is_independent_of_key_order() -> None:
    a = {"b": 1, "a": {"y": 2, "x": [1, 2]}, "signature": "zzz"}
    b = {"a": {"x": [1, 2], "y": 2}, "b": 1}
    assert canonical_bytes(a) == canonical_bytes(b) == b'{"a":{"x":[1,2],"y":2},"b":1}'


def test_public_key_accepts_base64_and_pem() -> None:
    from cryptography.hazmat.primitives import serialization

    pem = KEY.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert public_key_b64(load_public_key(pem.decode())) == public_key_b64(KEY)
    assert len(base64.b64decode(public_key_b64(KEY))) == 32


_JSONISH = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=8)),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(st.one_of(st.binary(max_size=120), _JSONISH.map(orjson.dumps)))
def test_random_input_is_refused_never_raises_anything_else(body: bytes) -> None:
    store = ReplayStore(None, clock=lambda: NOW.timestamp())
    v = CommandVerifier(load_public_key(public_key_b64(KEY)), "hut-7", store, clock=lambda: NOW)
    with pytest.raises(CommandRefused):
        v.check(body)


@given(
    st.dictionaries(st.sampled_from(["id", "name", "args", "gateway_id", "expires_at", "schema"]), _JSONISH)
)
def test_signed_garbage_is_refused_with_a_reason(fields: dict[str, object]) -> None:
    body = {**make_command(KEY, "hut-7", "ping", now=NOW), **fields}
    body.pop("signature")
    body["signature"] = base64.b64encode(KEY.sign(canonical_bytes(body))).decode()
    store = ReplayStore(None, clock=lambda: NOW.timestamp())
    v = CommandVerifier(load_public_key(public_key_b64(KEY)), "hut-7", store, clock=lambda: NOW)
    try:
        v.check(orjson.dumps(body))
    except CommandRefused as e:
        assert e.reason


def test_command_issued_in_the_future_beyond_the_skew_is_refused(tmp_path: Path) -> None:
    ahead = make_command(KEY, "hut-7", "ping", now=NOW + timedelta(minutes=10), ttl_s=600)
    assert refused(verifier(tmp_path), raw(ahead)).startswith("issued in the future")
    slightly = make_command(KEY, "hut-7", "ping", now=NOW + timedelta(seconds=60), ttl_s=600)
    assert verifier(tmp_path).check(raw(slightly)).command.id == slightly["id"]


@pytest.mark.parametrize("spoil", [lambda s: s + "\n", lambda s: " " + s, lambda s: s[:40] + "\n" + s[40:]])
def test_signature_with_stray_whitespace_is_refused(tmp_path: Path, spoil: object) -> None:
    cmd = make_command(KEY, "hut-7", "ping", now=NOW)
    cmd["signature"] = spoil(cmd["signature"])  # type: ignore[operator]
    assert refused(verifier(tmp_path), raw(cmd)).startswith("bad signature")


def test_signature_in_non_canonical_base64_is_refused(tmp_path: Path) -> None:
    cmd = make_command(KEY, "hut-7", "ping", now=NOW)
    sig = base64.b64decode(cmd["signature"])
    # 64 bytes -> 88 characters ending "=="; the last data character carries 4 unused bits
    text = base64.b64encode(sig).decode()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    last = alphabet.index(text[-3])
    cmd["signature"] = text[:-3] + alphabet[last | 1] + "=="
    assert base64.b64decode(cmd["signature"]) == sig  # the same bytes, another spelling
    assert refused(verifier(tmp_path), raw(cmd)).startswith("bad signature")
