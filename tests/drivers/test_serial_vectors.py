"""Public conformance vectors for the serial protocols (copied into tests/vectors/serial.json)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from drivers import registry
from drivers.frames import RawFrame
from provisioning.commands.decode import decode_input
from tests.support.vectors import check_vector, load_vectors

VECTORS = load_vectors("serial.json")


def _decode(vector: dict[str, Any]) -> Any:
    profile = registry.get(vector["protocol"])
    frame = RawFrame(
        "serial", "test", vector["input_text"].encode("latin-1"), datetime(2026, 1, 1, tzinfo=UTC)
    )
    return profile.decode(frame).fields


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector(vector: dict[str, Any]) -> None:
    check_vector(vector, lambda: _decode(vector))


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_through_hutgw_decode(vector: dict[str, Any]) -> None:
    """The same vectors through the code path of `hutgw decode`."""
    check_vector(vector, lambda: decode_input(vector["protocol"], input_text=vector["input_text"]))


def test_vector_file_covers_both_protocols() -> None:
    assert {v["protocol"] for v in VECTORS} == {"tanita.serial", "nmea"}
    assert all(v["source"] for v in VECTORS)
