from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.county.pg import (
    SHARED_ADMIN_URL,
    create_database,
    drop_database,
    private_cluster,
    shared_server_usable,
)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[str]:
    """A PostgreSQL server to make databases on: the machine's at 127.0.0.1:5432 when it answers,
    else a private cluster started for this session."""
    if shared_server_usable():
        yield SHARED_ADMIN_URL
        return
    with private_cluster() as cluster:
        yield cluster.url


@pytest.fixture
def pg_url(pg_admin: str) -> Iterator[str]:
    """A private, empty database (``hutgw_test_<random>``), dropped afterwards."""
    url, name = asyncio.run(create_database(pg_admin))
    try:
        yield url
    finally:
        asyncio.run(drop_database(pg_admin, name))


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder the ``mosquitto`` user can read (pytest's tmp_path is root-only, 0700)."""
    d = Path(tempfile.mkdtemp(prefix="hutgw-county-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)
