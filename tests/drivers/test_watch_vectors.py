"""Public conformance vectors for the watch protocol (copied into tests/vectors/watch.json)."""

from __future__ import annotations

from typing import Any

import pytest

from provisioning.commands.decode import decode_input
from tests.support.vectors import check_vector, load_vectors

VECTORS = load_vectors("watch.json", "watch.")


@pytest.mark.parametrize("vector", VECTORS, ids=[v["id"] for v in VECTORS])
def test_vector_through_hutgw_decode(vector: dict[str, Any]) -> None:
    check_vector(vector, lambda: decode_input(vector["protocol"], input_text=vector["input_text"]))


def test_vector_file_covers_both_protocols() -> None:
    assert {v["protocol"] for v in VECTORS} == {"watch.tcp", "watch.stream"}
    assert all(v["source"] for v in VECTORS)
