"""Conformance vectors: load the copies under ``tests/vectors/`` and compare by the brief's rules.

Comparison rules (protocol brief, section 0): only the keys listed in ``expected`` are checked;
``None`` means absent (the decoder returns ``None`` or omits the key); numbers compare with an
absolute tolerance of 1e-6; nested objects recurse; lists compare element-wise with equal
length; special values are plain strings and compare exactly.  ``{"error": category}``
vectors are not compared here: check the raised ``DecodeError.category`` instead.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from drivers.errors import DecodeError

VECTORS_DIR = Path(__file__).resolve().parent.parent / "vectors"
TOLERANCE = 1e-6
_MISSING = object()


def load_vectors(path: str | Path, protocol_prefix: str = "") -> list[dict[str, Any]]:
    """Vectors from ``path`` (absolute, or relative to ``tests/vectors/``) whose protocol starts
    with ``protocol_prefix``. The file is a JSON list of vector objects."""
    p = Path(path)
    if not p.is_absolute():
        p = VECTORS_DIR / p
    items = json.loads(p.read_text(encoding="utf-8"))
    if not isinstance(items, list):
        raise ValueError(f"{p}: expected a JSON list of vectors")
    return [v for v in items if str(v.get("protocol", "")).startswith(protocol_prefix)]


def is_error_vector(vector: Mapping[str, Any]) -> bool:
    exp = vector.get("expected")
    return isinstance(exp, Mapping) and set(exp) == {"error"}


def mismatches(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Every difference between ``expected`` and ``actual`` under the section-0 rules."""
    if expected is None:
        return (
            [] if actual is None or actual is _MISSING else [f"{path}: expected absent/None, got {actual!r}"]
        )
    if actual is _MISSING:
        return [f"{path}: missing (expected {expected!r})"]
    if isinstance(expected, bool) or isinstance(actual, bool):
        if type(expected) is not type(actual) or expected != actual:
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        return []
    if isinstance(expected, int | float):
        if not isinstance(actual, int | float):
            return [f"{path}: expected number {expected!r}, got {actual!r}"]
        if abs(float(expected) - float(actual)) > TOLERANCE:
            return [f"{path}: expected {expected!r}, got {actual!r}"]
        return []
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return [f"{path}: expected an object, got {actual!r}"]
        out: list[str] = []
        for key, value in expected.items():
            out.extend(mismatches(value, actual.get(key, _MISSING), f"{path}.{key}"))
        return out
    if isinstance(expected, Sequence) and not isinstance(expected, str):
        if not isinstance(actual, Sequence) or isinstance(actual, str | bytes):
            return [f"{path}: expected a list, got {actual!r}"]
        if len(expected) != len(actual):
            return [f"{path}: expected {len(expected)} items, got {len(actual)}: {actual!r}"]
        out = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out.extend(mismatches(e, a, f"{path}[{i}]"))
        return out
    if expected != actual:
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def assert_matches(expected: Any, actual: Any) -> None:
    """Fail with every difference listed when ``actual`` does not satisfy ``expected``."""
    found = mismatches(expected, actual)
    if found:
        raise AssertionError("decoded value does not match the vector:\n  " + "\n  ".join(found))


def check_vector(vector: Mapping[str, Any], decode: Callable[[], Any]) -> Any:
    """Run ``decode`` on one vector: an error vector must raise a ``DecodeError`` of its
    category, any other must match ``expected``. Returns what was decoded (None on an error)."""
    if is_error_vector(vector):
        with pytest.raises(DecodeError) as err:
            decode()
        assert err.value.category == vector["expected"]["error"]
        return None
    actual = decode()
    assert_matches(vector["expected"], actual)
    return actual
