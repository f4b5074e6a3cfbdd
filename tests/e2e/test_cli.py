"""The casework command as a new user meets it: bad settings, missing stores, ports, help."""

from __future__ import annotations

import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner
from conftest import error_of, start_server
from sqlalchemy.engine import make_url


def clean_env() -> dict:
    """The environment without CASEWORK_* settings, as on a new user's machine."""
    return {k: v for k, v in os.environ.items() if not k.startswith("CASEWORK_")}


def casework(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "casework", *args], capture_output=True,
                          text=True, cwd=cwd, env=clean_env(), timeout=120)


def one_line_error(done: subprocess.CompletedProcess) -> str:
    """The single line a failed command printed (and nothing else)."""
    assert done.returncode != 0, done.stdout
    lines = (done.stdout + done.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("Error: ")
    return lines[0]


# --- management commands need an existing store ---------------------------------------------

def test_a_management_command_away_from_the_store_says_where_it_looked(tmp_path):
    line = one_line_error(casework("keys", "create", "--account", "111122223333", cwd=tmp_path))
    assert f"no Casework store in {tmp_path / 'casework-data'}" in line
    assert "--data-dir" in line and "CASEWORK_DATA_DIR" in line and "--database-url" in line
    assert not (tmp_path / "casework-data").exists()  # nothing created
    missing = tmp_path / "elsewhere.db"
    for command in (["keys", "list"], ["accounts", "list"], ["agent", "token"]):
        line = one_line_error(casework(*command, "--database-url", f"sqlite:///{missing}"))
        assert "no Casework store in the database" in line
    assert not missing.exists()
    # A database that exists but holds no Casework schema is no store either.
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE unrelated (x)")
    line = one_line_error(casework("keys", "list", "--database-url", f"sqlite:///{other}"))
    assert f"no Casework store in the database sqlite:///{other}" in line


def test_init_creates_a_store_that_the_other_commands_and_the_server_use(tmp_path):
    data = tmp_path / "data"
    assert casework("init", "--data-dir", str(data)).returncode == 0
    created = casework("keys", "create", "--account", "111122223333", "--data-dir", str(data))
    assert created.returncode == 0
    values = dict(line.split("=", 1) for line in created.stdout.splitlines() if "=" in line)
    running = start_server(tmp_path, env={"CASEWORK_DATABASE_URL": f"sqlite:///{data}/casework.db"})
    try:
        support = running.client("support", key=values["AWS_ACCESS_KEY_ID"],
                                 secret=values["AWS_SECRET_ACCESS_KEY"])
        assert support.describe_cases()["cases"] == []
    finally:
        running.stop()


def test_the_server_log_names_the_store_an_unknown_key_was_looked_up_in(tmp_path):
    running = start_server(tmp_path)
    try:
        support = running.client("support", key="AKIANOSUCHKEY0000000", secret="x")
        error = error_of(support.describe_cases)
        assert error["Error"]["Code"] == "UnrecognizedClientException"
        error_of(support.describe_cases)
    finally:
        running.stop()
    log = (tmp_path / "server.log").read_text()
    lines = [line for line in log.splitlines() if "unknown access key id" in line]
    assert len(lines) == 1, log  # once per key id, not once per request
    assert "'AKIANOSUCHKEY0000000'" in lines[0]
    assert make_url(running.database_url).database in lines[0]
    assert "casework keys create" in lines[0]


# --- serve: ports, banner, bad settings ----------------------------------------------------

def read_banner(process: subprocess.Popen) -> dict:
    """The banner's "name: value" lines, read as the server prints them."""
    banner: dict = {}
    while "console" not in banner:
        line = process.stdout.readline()
        assert line, "the server exited before printing its banner"
        name, _, value = line.strip().partition(":")
        banner[name] = value.strip()
    return banner


def test_port_zero_serves_on_a_free_port_the_banner_names(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "casework", "serve", "--port", "0", "--ephemeral"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=clean_env())
    try:
        banner = read_banner(process)
        endpoint = banner["endpoint"].split()[0]
        port = int(endpoint.rsplit(":", 1)[1])
        assert endpoint == f"http://127.0.0.1:{port}" and port != 0
        assert banner["console"].split()[0] == f"{endpoint}/console"
        data_dir = Path(re.fullmatch(r"sqlite:///(.*)/casework\.db", banner["database"])[1])
        assert data_dir.is_dir()
        deadline = time.monotonic() + 30
        while True:  # the port is bound and listening before the banner; startup follows
            try:
                assert httpx.get(f"{endpoint}/_casework/health").status_code == 200
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.05)
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
    assert not data_dir.exists()  # --ephemeral removes its data at exit


def test_a_busy_port_is_one_line_and_no_banner(tmp_path):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = casework("serve", "--port", str(port), "--data-dir", str(tmp_path / "d"))
    line = one_line_error(done)
    assert line == (f"Error: port {port} on 127.0.0.1 is already in use: stop what holds it, "
                    "or choose another with --port (0 picks a free one)")


def test_ports_out_of_range_are_refused(tmp_path):
    for port in ("99999", "-1", "65536"):
        done = casework("serve", "--port", port, "--data-dir", str(tmp_path / "d"))
        assert done.returncode == 2
        assert "is not in the range 0<=x<=65535" in done.stderr
        assert "serving" not in done.stdout


def test_bad_settings_are_one_line_errors(tmp_path):
    if os.geteuid() == 0:  # root writes through permission bits; sysfs is read-only to all
        read_only = Path("/sys")
    else:
        read_only = tmp_path / "read-only"
        read_only.mkdir(mode=0o555)
    cases = [
        (["--data-dir", str(tmp_path / "no" / "such")],
         f"Error: --data-dir: {tmp_path / 'no' / 'such'}: the parent directory "
         f"{tmp_path / 'no'} does not exist"),
        (["--data-dir", str(read_only)], f"Error: --data-dir: {read_only} is not writable"),
        (["--database-url", "sqlite://"],
         "Error: --database-url: an in-memory SQLite database cannot be shared"),
        (["--database-url", "not a url"], "Error: --database-url: not a database URL"),
        (["--database-url", "nosuchdb://x/y"], "Error: cannot use the database nosuchdb://x/y"),
        (["--database-url", "postgresql+psycopg://nobody@/nope?host=/nonexistent"],
         "Error: cannot open the database postgresql+psycopg://nobody@/nope"),
    ]
    for args, expected in cases:
        line = one_line_error(casework("serve", "--port", "0", *args))
        assert line.startswith(expected), (args, line)
    assert not (tmp_path / "no").exists()


# --- help ------------------------------------------------------------------------------------

def all_commands(command: click.Command, path: tuple = ()):
    yield path, command
    for name, sub in getattr(command, "commands", {}).items():
        yield from all_commands(sub, (*path, name))


def test_every_command_takes_dash_h_and_documents_every_option():
    from casework.cli import main

    runner = CliRunner()
    for path, command in all_commands(main):
        answer = runner.invoke(main, [*path, "-h"], prog_name="casework")
        assert answer.exit_code == 0, (path, answer.output)
        assert answer.output.startswith("Usage: casework "), path
        text = " ".join(answer.output.split())
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, (path, param.name)
                if param.envvar:
                    assert f"env var: {param.envvar}" in text, (path, param.name)


def test_serve_help_shows_the_environment_variables_and_the_attachments():
    done = casework("serve", "-h")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    for variable in ("CASEWORK_HOST", "CASEWORK_PORT", "CASEWORK_DATA_DIR",
                     "CASEWORK_DATABASE_URL", "CASEWORK_EPHEMERAL", "CASEWORK_ALLOW_RESET"):
        assert f"env var: {variable}" in text
    assert "large attachments" in text
    assert "0 picks a free one" in text


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_the_top_level_help(flag):
    done = casework(flag)
    assert done.returncode == 0
    assert "serve" in done.stdout and "keys" in done.stdout and "init" in done.stdout
