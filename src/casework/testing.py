"""A throwaway Casework server for test suites: ``running_server()`` and the pytest plugin.

    from casework.testing import running_server

    with running_server() as casework:
        support = casework.client("support")
        support.create_case(subject="Printer on fire", communicationBody="Help")
        casework.reset()  # back to an empty store

The server is ``casework serve --ephemeral --port 0 --allow-reset``: SQLite in a temporary
directory removed when it stops, on a free loopback port, in a process of its own. With pytest,
``pip install 'casework[pytest]'`` registers the ``casework`` fixture (``casework.pytest_plugin``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REGION = "us-east-1"
ACCESS_KEY_ID = "test"  # the key every new store has (account 000000000000)
SECRET_ACCESS_KEY = "test"
_ENDPOINT = re.compile(r"^\s*endpoint:\s+(http://\S+)", re.MULTILINE)
_DATABASE = re.compile(r"^\s*database:\s+sqlite:///(\S+)/casework\.db\s*$", re.MULTILINE)


class RunningServer:
    """A running ``casework serve``: its endpoint, boto3 clients for it, and reset."""

    def __init__(self, process: subprocess.Popen, endpoint_url: str, data_dir: Path, log: Path):
        self.process = process
        self.endpoint_url = endpoint_url
        self.data_dir = data_dir  # for `casework keys create --data-dir ...` and the like
        self.log = log

    def client(self, service_name: str, **kwargs):
        """A boto3 client for ``service_name`` ("support", "connectcases") on this server,
        signed with the default key unless ``aws_access_key_id``/``aws_secret_access_key``
        are given; other keyword arguments go to ``boto3.client``."""
        try:
            import boto3
        except ImportError:
            raise RuntimeError("boto3 is not installed: pip install 'casework[pytest]'") from None
        kwargs.setdefault("region_name", REGION)
        kwargs.setdefault("aws_access_key_id", ACCESS_KEY_ID)
        kwargs.setdefault("aws_secret_access_key", SECRET_ACCESS_KEY)
        return boto3.client(service_name, endpoint_url=self.endpoint_url, **kwargs)

    def reset(self) -> None:
        """Delete every case, domain, account and key but the default ones (needs
        ``--allow-reset``, which :func:`running_server` passes unless told not to)."""
        request = urllib.request.Request(f"{self.endpoint_url}/_casework/reset", data=b"",
                                         method="POST")
        try:
            with urllib.request.urlopen(request, timeout=60) as answer:
                answer.read()
        except urllib.error.HTTPError as error:
            message = json.loads(error.read() or b"{}").get("message", error.reason)
            raise RuntimeError(f"reset refused: {message}") from None

    def stop(self) -> int:
        """Stop the server (in-flight requests finish) and return its exit status."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


@contextmanager
def running_server(*args: str, allow_reset: bool = True, env: dict | None = None,
                   timeout: float = 60.0) -> Iterator[RunningServer]:
    """Start an ephemeral server on a free port, yield it once healthy, stop it at the end.

    ``args`` are more ``casework serve`` options (e.g. ``"--attachment-set-ttl", "5"``);
    ``env`` adds environment variables for the server process.
    """
    command = [sys.executable, "-m", "casework", "serve", "--ephemeral", "--port", "0",
               *(["--allow-reset"] if allow_reset else []), *args]
    with tempfile.TemporaryDirectory(prefix="casework-test-") as scratch:
        log = Path(scratch) / "server.log"
        with open(log, "wb") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                       env={**os.environ, **(env or {})})
        server = None
        try:
            server = _wait_until_healthy(process, log, timeout)
            yield server
        finally:
            if server is not None:
                server.stop()
            elif process.poll() is None:
                process.kill()
                process.wait()


def _wait_until_healthy(process: subprocess.Popen, log: Path, timeout: float) -> RunningServer:
    deadline = time.monotonic() + timeout
    endpoint = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"casework serve exited with {process.returncode}:\n"
                               f"{log.read_text(errors='replace')}")
        text = log.read_text(errors="replace")
        if endpoint is None and (found := _ENDPOINT.search(text)):
            endpoint = found[1]
        if endpoint is not None:
            try:
                with urllib.request.urlopen(f"{endpoint}/_casework/health", timeout=2) as answer:
                    if answer.status == 200:
                        data_dir = _DATABASE.search(text)
                        return RunningServer(process, endpoint,
                                             Path(data_dir[1]) if data_dir else None, log)
            except OSError:
                pass
        time.sleep(0.05)
    process.kill()
    process.wait()
    raise RuntimeError(f"casework serve did not become healthy in {timeout:.0f} s:\n"
                       f"{log.read_text(errors='replace')}")
