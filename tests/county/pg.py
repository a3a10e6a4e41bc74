"""PostgreSQL for the county tests: the machine's server at 127.0.0.1:5432 when it answers (a private
database per session), else -- and always for tests that restart the server -- a private cluster in a
temporary folder (Debian's ``postgresql`` package: ``/usr/lib/postgresql/*/bin/initdb``, ``pg_ctl``),
run as the ``postgres`` user when the tests run as root."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.broker import free_port

SHARED_HOST, SHARED_PORT = "127.0.0.1", 5432


def answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


SHARED_ADMIN_URL = f"postgresql://postgres@{SHARED_HOST}:{SHARED_PORT}/test"


def shared_server_usable(url: str = SHARED_ADMIN_URL) -> bool:
    """The machine's server answers *and* lets us in without a password (trust), with a database
    ``test``: a freshly installed Debian server answers on 5432 but asks for a password."""
    if not answers(SHARED_HOST, SHARED_PORT):
        return False
    import asyncio

    import asyncpg

    async def probe() -> bool:
        try:
            con = await asyncpg.connect(url, timeout=3)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError):
            return False
        try:
            return bool(await con.fetchval("SELECT 1") == 1)
        finally:
            await con.close()

    return asyncio.run(probe())


def pg_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path:
        return path
    raise FileNotFoundError(f"{name} not found: apt-get install postgresql (make test does)")


def _as_owner(argv: list[str]) -> list[str]:
    """Run PostgreSQL's tools as ``postgres`` (initdb and the server refuse root)."""
    if os.geteuid() != 0:
        return argv
    return ["runuser", "-u", "postgres", "--", *argv]


@dataclass
class PrivateCluster:
    """A throw-away PostgreSQL cluster on a free port (trust authentication, fsync off)."""

    port: int = field(default_factory=free_port)
    root: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="hutgw-pg-")))

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        os.chmod(self.root, 0o777)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("postgres")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
        subprocess.run(
            _as_owner(
                [pg_bin("initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8"]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=120,
        )

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60"
        )
        subprocess.run(
            _as_owner(
                [
                    pg_bin("pg_ctl"),
                    "-D",
                    str(self.data),
                    "-o",
                    opts,
                    "-l",
                    str(self.root / "log"),
                    "-w",
                    "start",
                ]
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=60,
        )

    def stop(self, mode: str = "fast") -> None:
        subprocess.run(
            _as_owner([pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]),
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=60,
        )

    def restart(self, mode: str = "immediate") -> None:
        self.stop(mode)
        self.start()

    def close(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.close()


async def create_database(admin_url: str) -> tuple[str, str]:
    """A new empty database next to ``admin_url``'s: (its URL, its name)."""
    import asyncpg

    name = f"hutgw_test_{uuid.uuid4().hex[:12]}"
    con = await asyncpg.connect(admin_url, timeout=10)
    try:
        await con.execute(f'CREATE DATABASE "{name}"')
    finally:
        await con.close()
    return admin_url.rsplit("/", 1)[0] + "/" + name, name


async def drop_database(admin_url: str, name: str) -> None:
    import asyncpg

    con = await asyncpg.connect(admin_url, timeout=10)
    try:
        await con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await con.close()
