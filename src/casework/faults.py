"""Fault injection for users' own resilience tests (``--faults FILE`` / ``CASEWORK_FAULTS``).

The file holds a JSON list of rules::

    [{"service": "connectcases", "operation": "ListDomains", "error": "ThrottlingException",
      "rate": 0.5, "latencyMs": 0, "accessKeyIds": ["AKIA..."]}]

A call matches a rule when its service (``support``, ``connectcases`` or ``*``), operation
(a name of that service or ``*``) and, if the rule lists them, its access key match. A matching
call first waits ``latencyMs``, then, with probability ``rate``, fails with ``error``: a
modeled error of the service, answered with its real status and shape (so SDK retry logic
treats it as it would AWS's). Without ``error`` a rule only slows calls down. Every matching
rule applies, in order.

The file is read at start (a bad file stops the start) and again whenever it changes (a bad
edit is logged and the previous rules stay); ``/_casework/health`` reports the active rules.
Off when no file is given.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from pathlib import Path
from typing import Any

import botocore.session
import orjson

from .wire.errors import ServiceError

log = logging.getLogger("casework.faults")

SERVICES = ("support", "connectcases")
MAX_LATENCY_MS = 300_000
_KEYS = {"service", "operation", "error", "rate", "latencyMs", "accessKeyIds"}


class FaultsError(ValueError):
    """The faults file is not a valid list of rules."""


def _catalog() -> dict[str, tuple[set[str], set[str]]]:
    """Each service's operation names and modeled error names."""
    session = botocore.session.get_session()
    found = {}
    for name in SERVICES:
        model = session.get_service_model(name)
        found[name] = (set(model.operation_names), {shape.name for shape in model.error_shapes})
    return found


def parse_rules(data: Any, catalog: dict[str, tuple[set[str], set[str]]]) -> list[dict]:
    """Check the rules of a faults file; raises FaultsError naming the first problem."""
    if not isinstance(data, list):
        raise FaultsError("the faults file must hold a JSON list of rules")
    rules = []
    for number, rule in enumerate(data, 1):
        where = f"rule {number}"
        if not isinstance(rule, dict):
            raise FaultsError(f"{where}: must be an object")
        unknown = set(rule) - _KEYS
        if unknown:
            raise FaultsError(f"{where}: unknown member(s) {', '.join(sorted(unknown))}")
        service = rule.get("service", "*")
        if service != "*" and service not in catalog:
            raise FaultsError(f"{where}: service must be support, connectcases or *")
        services = list(catalog) if service == "*" else [service]
        operation = rule.get("operation", "*")
        if operation != "*" and not any(operation in catalog[s][0] for s in services):
            raise FaultsError(f"{where}: {service} has no operation {operation!r}")
        error = rule.get("error")
        if error is not None and not any(error in catalog[s][1] for s in services):
            raise FaultsError(f"{where}: {error!r} is not a modeled error of {service}")
        rate = rule.get("rate", 1.0 if error is not None else 0.0)
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise FaultsError(f"{where}: rate must be a number from 0.0 to 1.0")
        latency = rule.get("latencyMs", 0)
        if isinstance(latency, bool) or not isinstance(latency, int | float) \
                or not 0 <= latency <= MAX_LATENCY_MS:
            raise FaultsError(f"{where}: latencyMs must be 0 to {MAX_LATENCY_MS}")
        keys = rule.get("accessKeyIds")
        if keys is not None and (not isinstance(keys, list)
                                 or not all(isinstance(k, str) for k in keys)):
            raise FaultsError(f"{where}: accessKeyIds must be a list of access key ids")
        rules.append({"service": service, "operation": operation, "error": error,
                      "rate": float(rate), "latencyMs": latency,
                      "accessKeyIds": None if keys is None else list(keys)})
    return rules


class Faults:
    """The rules of one faults file, re-read when it changes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._catalog = _catalog()
        self._lock = threading.Lock()
        self._random = random.Random()
        self.error: str | None = None  # why the last re-read was refused
        self._stamp, self.rules = self._read()  # a bad file at start raises FaultsError

    def _read(self) -> tuple[tuple, list[dict]]:
        stamp = self._stat()
        try:
            data = orjson.loads(self.path.read_bytes())
        except (OSError, orjson.JSONDecodeError) as error:
            raise FaultsError(f"{self.path}: {error}") from None
        try:
            return stamp, parse_rules(data, self._catalog)
        except FaultsError as error:
            raise FaultsError(f"{self.path}: {error}") from None

    def _stat(self) -> tuple:
        try:
            info = os.stat(self.path)
        except OSError:
            return ()
        return (info.st_ino, info.st_mtime_ns, info.st_size)

    def current(self) -> list[dict]:
        """The active rules, re-reading the file if it changed since it was last read."""
        if self._stat() != self._stamp:
            with self._lock:
                if self._stat() != self._stamp:
                    try:
                        self._stamp, self.rules = self._read()
                        self.error = None
                        log.info("fault rules reloaded from %s: %d rule(s)", self.path,
                                 len(self.rules))
                    except FaultsError as error:
                        self._stamp = self._stat()  # report once per change, keep old rules
                        self.error = str(error)
                        log.error("keeping the previous fault rules: %s", error)
        return self.rules

    def plan(self, service: str, operation: str,
             access_key_id: str) -> tuple[float, ServiceError | None]:
        """What the matching rules do to one call: seconds to delay it, then the error to
        fail it with (None: let it run). The caller waits without blocking other requests."""
        delay = 0.0
        for rule in self.current():
            if rule["service"] not in ("*", service) or rule["operation"] not in ("*", operation):
                continue
            if rule["accessKeyIds"] is not None and access_key_id not in rule["accessKeyIds"]:
                continue
            delay += rule["latencyMs"] / 1000
            error = rule["error"]
            if error is None or error not in self._catalog[service][1]:
                continue
            if self._random.random() < rule["rate"]:
                return delay, ServiceError(error, f"Fault injected by Casework (--faults): {error}")
        return delay, None

    def report(self) -> dict:
        """What ``/_casework/health`` shows."""
        found = {"file": str(self.path), "rules": self.current()}
        if self.error:
            found["error"] = self.error
        return found
