"""Shared fixtures: a real ``casework serve`` process and boto3 clients pointed at it.

Every server gets a database of its own: SQLite in its data directory, or, when
``CASEWORK_TEST_POSTGRES_URL`` names a PostgreSQL server (``scripts/test`` sets it for its
second run), a fresh database created on that server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REGION = "us-east-1"
POSTGRES_URL = os.environ.get("CASEWORK_TEST_POSTGRES_URL")


CREATED_DATABASES: list[str] = []


def postgres_admin(statement: str):
    """Run ``statement`` on the PostgreSQL server as the tests' user, outside any transaction;
    returns the first value it answers, if any."""
    admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        result = conn.execute(text(statement))
        value = result.scalar() if result.returns_rows else None
    admin.dispose()
    return value


def pytest_sessionfinish(session, exitstatus) -> None:
    """Drop the PostgreSQL databases this run created (servers may still hold connections)."""
    for name in CREATED_DATABASES:
        postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def fresh_database_url(data_dir: Path) -> str:
    """A database no other server uses: SQLite in ``data_dir`` or a new PostgreSQL database."""
    if not POSTGRES_URL:
        return f"sqlite:///{data_dir / 'casework.db'}"
    remembered = data_dir / "database-url"  # a restarted server finds its data again
    if remembered.exists():
        return remembered.read_text()
    name = f"casework_test_{uuid.uuid4().hex[:12]}"
    postgres_admin(f'CREATE DATABASE "{name}"')
    CREATED_DATABASES.append(name)
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    remembered.write_text(url)
    return url


def seed(root: Path, *args: str) -> str:
    """Run ``casework seed`` with ``args`` into a fresh store in ``root``'s data directory,
    the one ``start_server(root)`` then serves; its output."""
    data_dir = root / "data"
    data_dir.mkdir(exist_ok=True)
    return subprocess.run(
        [sys.executable, "-m", "casework", "seed", "--data-dir", str(data_dir),
         "--database-url", fresh_database_url(data_dir), *args],
        capture_output=True, text=True, check=True).stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def error_of(call, **params) -> dict:
    """The parsed error response of a call that must fail."""
    try:
        call(**params)
    except ClientError as error:
        return error.response
    raise AssertionError(f"{call.__name__} succeeded but should have failed")


@dataclass
class Server:
    """A running ``casework serve`` process on a free loopback port with its own data dir."""

    process: subprocess.Popen
    endpoint: str
    data_dir: Path
    env: dict
    database_url: str

    def client(self, service: str, key: str = "test", secret: str = "test",
               region: str = REGION, **config) -> object:
        """A boto3 client for ``service`` signed with the given key for ``region``; it makes
        one attempt (botocore's ``max_attempts`` counts retries, ``total_max_attempts`` the
        first try too), so every error is seen."""
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=region,
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=Config(retries={"total_max_attempts": 1}, **config),
        )

    def casework(self, *args: str) -> subprocess.CompletedProcess:
        """Run a ``casework`` sub-command against this server's database."""
        return subprocess.run(
            [sys.executable, "-m", "casework", *args, "--data-dir", str(self.data_dir),
             "--database-url", self.database_url],
            capture_output=True, text=True, env=self.env, check=True,
        )

    def new_account(self, account_id: str) -> tuple[str, str]:
        """Create an access key for a new account; returns (key id, secret)."""
        out = self.casework("keys", "create", "--account", account_id).stdout
        values = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return values["AWS_ACCESS_KEY_ID"], values["AWS_SECRET_ACCESS_KEY"]

    def stop(self) -> int:
        self.process.terminate()
        return self.process.wait(timeout=30)


def downgrade_store(database_url: str, revision: str, then: tuple[str, ...] = ()) -> None:
    """Take a stopped server's store back to ``revision`` (its next start upgrades it
    again), then run the SQL statements ``then`` in the same transaction."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    from casework.store.engine import MIGRATIONS

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    engine = create_engine(database_url)
    with engine.connect() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
        for statement in then:
            conn.execute(text(statement))
        conn.commit()
    engine.dispose()


def start_server(tmp_path: Path, *args: str, env: dict | None = None) -> Server:
    """Start ``casework serve`` and wait until its health check answers."""
    port = free_port()
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    database_url = full_env.get("CASEWORK_DATABASE_URL") or fresh_database_url(data_dir)
    log = open(tmp_path / "server.log", "wb")  # noqa: SIM115  (closed with the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "casework", "serve", "--port", str(port),
         "--data-dir", str(data_dir), "--database-url", database_url, *args],
        stdout=log, stderr=subprocess.STDOUT, env=full_env,
    )
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90  # generous: a loaded CI machine starts slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError((tmp_path / "server.log").read_text())
        try:
            if httpx.get(f"{endpoint}/_casework/health", timeout=1).status_code == 200:
                return Server(process, endpoint, data_dir, full_env, database_url)
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    process.kill()
    raise RuntimeError("casework serve did not become healthy in 90 s")


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Iterator[Server]:
    """One server for the session; tests keep apart by creating their own data."""
    running = start_server(tmp_path_factory.mktemp("server"))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def support(server):
    return server.client("support")


@pytest.fixture(scope="session")
def connectcases(server):
    return server.client("connectcases")


# Connect Cases: each test module works in an account of its own (its ``ACCOUNT``), since the
# 5-domain quota is per account and the session server is shared. A module may override these.
@pytest.fixture(scope="module")
def keys(server, request) -> tuple[str, str]:
    """(key id, secret) of the test module's own account."""
    return server.new_account(request.module.ACCOUNT)


@pytest.fixture(scope="module")
def cc(server, keys):
    """A connectcases client of the test module's own account."""
    return server.client("connectcases", key=keys[0], secret=keys[1])


@pytest.fixture(scope="module")
def domain(cc) -> str:
    """A fresh domain of the module's account."""
    return cc.create_domain(name=f"d-{uuid.uuid4().hex[:12]}")["domainId"]


@pytest.fixture(scope="module")
def template(cc, domain) -> str:
    """A plain Active template with no required fields."""
    return cc.create_template(domainId=domain, name="Plain")["templateId"]
