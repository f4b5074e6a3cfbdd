"""The benchmark: Casework beside its peers and references, in one run, as one table of ratios.

    python bench/run.py [--duration 8] [--only ROW,...] [--postgres URL] [--markdown FILE]

It starts every system itself on loopback, signs each request once with botocore (SigV4
allows a replay for 15 minutes, so each row is signed just before it runs), replays it with
wrk (one thread; 32 connections unless the row says otherwise) and reads the server's CPU time
and resident memory from /proc. See bench/README.md for the rows and the targets.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import boto3
import httpx
from botocore.config import Config

HERE = Path(__file__).resolve().parent
REGION = "us-east-1"
INSTANCE = "arn:aws:connect:us-east-1:000000000000:instance/bench"


# ----------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    endpoint: str
    database_url: str | None = None  # PostgreSQL: its backends' CPU is read too

    def database_pids(self) -> list[int]:
        """The PostgreSQL backend processes serving this server's database (none on SQLite)."""
        if not self.database_url:
            return []
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            return [pid for (pid,) in conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> "
                "pg_backend_pid()", (url.database,))]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def pids(self) -> list[int]:
        """The server process and all its descendants (``--workers`` children)."""
        found, frontier = [], [self.process.pid]
        while frontier:
            pid = frontier.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                with contextlib.suppress(OSError):
                    frontier += [int(c) for c in (task / "children").read_text().split()]
        return found


def start(name: str, command: list[str], health: str, env: dict | None = None,
          log: Path | None = None) -> Server:
    port = free_port()
    command = [part.replace("{port}", str(port)) for part in command]
    out = open(log, "wb") if log else subprocess.DEVNULL  # noqa: SIM115
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                               env={**os.environ, **(env or {})})
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited: {command}")
        with contextlib.suppress(httpx.HTTPError):
            httpx.request("GET" if health else "POST", endpoint + (health or "/"), timeout=1)
            return Server(name, process, endpoint)
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{name} did not start in 60 s")


def casework(tmp: Path, *extra: str, database_url: str | None = None) -> Server:
    data = tmp / f"casework-{uuid.uuid4().hex[:8]}"
    command = [sys.executable, "-m", "casework", "serve", "--port", "{port}",
               "--data-dir", str(data), "--log-level", "warning", *extra]
    if database_url:
        command += ["--database-url", database_url]
    server = start("casework", command, "/_casework/health", log=tmp / f"{data.name}.log")
    server.database_url = database_url
    return server


def peer(tmp: Path, mode: str) -> Server:
    return start(mode, [sys.executable, str(HERE / "peers.py"), mode, "--port", "{port}",
                        "--db", str(tmp / f"{mode}-{uuid.uuid4().hex[:8]}.db")], "")


def moto(tmp: Path) -> Server:
    return start("moto", [sys.executable, "-m", "moto.server", "-p", "{port}"], "/moto-api/",
                 log=tmp / "moto.log")


# ----------------------------------------------------------------------------- requests


class _Captured(Exception):
    def __init__(self, request):
        self.request = request


def client(endpoint: str, service: str):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"total_max_attempts": 1}))


def signed(endpoint: str, service: str, operation: str, **params) -> dict:
    """The exact request boto3 sends for ``operation``, signed, captured instead of sent.

    boto3 fills in an idempotency token (Connect Cases ``clientToken``) when none is given; a
    replayed token would make every replay return the first result, so it is left out here.
    """
    sdk = client(endpoint, service)

    def capture(request, **_):
        raise _Captured(request)

    def no_token(params, **_):
        if "clientToken" not in params_given:
            params.pop("clientToken", None)

    params_given = set(params)
    sdk.meta.events.register("before-parameter-build", no_token)
    sdk.meta.events.register("before-send", capture)
    try:
        getattr(sdk, operation)(**params)
    except _Captured as captured:
        request = captured.request
        body = request.body or b""
        return {"method": request.method, "url": request.url,
                "headers": {k: (v.decode() if isinstance(v, bytes) else v)
                            for k, v in request.headers.items()
                            if k.lower() not in ("host", "content-length")},
                "body": body.decode() if isinstance(body, bytes) else body}
    raise RuntimeError(f"{operation} was not sent")


def lua(requests: list[dict]) -> str:
    """A wrk script that sends the given requests in turn, byte for byte."""
    lines = ["requests = {}"]
    for i, request in enumerate(requests, 1):
        parts = urlsplit(request["url"])
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {"Host": parts.netloc, **request["headers"]}
        table = ", ".join(f"[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items())
        lines.append(f"requests[{i}] = wrk.format({json.dumps(request['method'])}, "
                     f"{json.dumps(path)}, {{{table}}}, {json.dumps(request['body'])})")
    lines += ["local n = 0", "function request()", "  n = n % #requests + 1",
              "  return requests[n]", "end"]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- measuring


@dataclass
class Result:
    row: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    rss_mb: float
    errors: int
    connections: int
    extra: dict = field(default_factory=dict)
    others: float = 0.0  # cores used by every other process on the machine during the row
    steal: float = 0.0  # cores the virtual machine's host took from it during the row
    db_us: float | None = None  # PostgreSQL backends' CPU per request


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _cpu(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _machine_cpu() -> tuple[float, float]:
    """CPU seconds the whole machine has spent busy (every core, every process), and those
    its host took from it (steal: a virtual machine's cores running something else)."""
    fields = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def _own_cpu() -> float:
    """CPU seconds of this script and the children it has waited for (wrk)."""
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(
        resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            found = re.search(r"VmRSS:\s+(\d+)", Path(f"/proc/{pid}/status").read_text())
            if found is not None:  # an exited process (a zombie) has no resident set
                total += int(found[1])
    return total / 1024


def wrk(server: Server, requests: list[dict], row: str, duration: int, connections: int,
        tmp: Path) -> Result:
    script = tmp / f"{uuid.uuid4().hex}.lua"
    script.write_text(lua(requests))
    pids = server.pids()
    peak = [0.0]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.2):
            peak[0] = max(peak[0], _rss_mb(pids))

    sampler = threading.Thread(target=sample, daemon=True)
    db_pids = server.database_pids()
    db_before = {pid: _cpu([pid]) for pid in db_pids}
    cpu_before, machine_before, own_before = _cpu(pids), _machine_cpu(), _own_cpu()
    started = time.monotonic()
    sampler.start()
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency",
                          "-s", str(script), requests[0]["url"]], capture_output=True,
                         text=True)
    done.set()
    sampler.join()
    cpu = _cpu(pids) - cpu_before
    # Backends opened during the row count from zero; ones closed during it are not seen.
    db_cpu = sum(_cpu([pid]) - db_before.get(pid, 0.0)
                 for pid in set(server.database_pids()) | set(db_pids)) if db_pids else None
    # What the rest of the machine used meanwhile, in cores: the row shares the cores with it.
    machine_after, elapsed = _machine_cpu(), time.monotonic() - started
    others = (machine_after[0] - machine_before[0] - cpu - (db_cpu or 0.0)
              - (_own_cpu() - own_before)) / elapsed
    steal = (machine_after[1] - machine_before[1]) / elapsed
    text = out.stdout
    total = int(re.search(r"(\d+) requests in", text)[1])
    errors = int(m[1]) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", text)) else 0
    errors += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", text))
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", text, re.M))
    return Result(row, float(re.search(r"Requests/sec:\s+([\d.]+)", text)[1]),
                  _ms(latency["50"]), _ms(latency["99"]), cpu / max(total, 1) * 1e6,
                  peak[0], errors, connections, others=max(others, 0.0), steal=steal,
                  db_us=None if db_cpu is None else db_cpu / max(total, 1) * 1e6)


# ----------------------------------------------------------------------------- scenarios


@dataclass
class Bench:
    tmp: Path
    duration: int
    only: set[str] | None
    results: list[Result] = field(default_factory=list)

    def wanted(self, row: str) -> bool:
        return self.only is None or any(part in row for part in self.only)

    def run(self, server: Server, row: str, request: Callable[[], dict | list[dict]],
            connections: int = 32) -> None:
        if not self.wanted(row):
            return
        requests = request()
        requests = requests if isinstance(requests, list) else [requests]
        result = wrk(server, requests, row, self.duration, connections, self.tmp)
        self.results.append(result)
        print(_line(result), flush=True)


def references(bench: Bench) -> None:
    for mode, row in (("ceiling", "bare ASGI, fixed JSON (ceiling)"),
                      ("insert", "bare ASGI + one SQLite insert, FULL (write reference)"),
                      ("read", "bare ASGI + SigV4 + PK select + orjson (read floor)")):
        if not bench.wanted(row):
            continue
        server = peer(bench.tmp, mode)
        try:
            bench.run(server, row, lambda s=server: signed(
                s.endpoint, "support", "describe_cases", caseIdList=["case-1"]))
        finally:
            server.stop()


def moto_rows(bench: Bench) -> None:
    if not (bench.wanted("moto CreateCase") or bench.wanted("moto DescribeCases by id")):
        return
    server = moto(bench.tmp)
    try:
        sdk = client(server.endpoint, "support")
        case_id = sdk.create_case(subject="load", communicationBody="bench")["caseId"]
        bench.run(server, "moto CreateCase", lambda: signed(
            server.endpoint, "support", "create_case", subject="load",
            communicationBody="Since 10:00 UTC"))
        bench.run(server, "moto DescribeCases by id", lambda: signed(
            server.endpoint, "support", "describe_cases", caseIdList=[case_id]))
    finally:
        server.stop()


@dataclass
class Setup:
    """A Casework server to run the Casework rows on: its label, database and processes."""
    label: str
    database_url: str | None = None
    workers: int = 1


def casework_rows(bench: Bench, setups: list[Setup]) -> None:
    """The Casework rows on every setup, the servers running side by side: each scenario runs
    on one setup after the other before the next scenario, so that the rows compared in a
    ratio (PostgreSQL against SQLite) run within seconds of each other, under the same load."""
    servers: list[Server] = []
    try:
        plans = []
        for setup in setups:
            extra = ("--workers", str(setup.workers)) if setup.workers > 1 else ()
            servers.append(casework(bench.tmp, *extra, database_url=setup.database_url))
            plans.append(_casework_rows(servers[-1], setup.label, bench))
        for scenario in zip(*plans, strict=True):
            for server, (row, request, connections) in zip(servers, scenario, strict=True):
                if row is not None:
                    bench.run(server, row, request, connections)
    finally:
        for server in servers:
            server.stop()


def _casework_rows(server: Server, label: str, bench: Bench) -> list[tuple]:
    """Make the data the rows read, then the rows as ``(row, request, connections)``, in
    the same order for every label (``row`` None where a label has no such row)."""
    end = server.endpoint
    support = client(end, "support")
    case_id = support.create_case(subject="load", communicationBody="bench")["caseId"]
    for i in range(12):
        support.create_case(subject=f"case {i}", communicationBody="filler")
    for i in range(8):
        support.add_communication_to_case(caseId=case_id, communicationBody=f"reply {i}")
    cc = client(end, "connectcases")
    domain = cc.create_domain(name=f"bench-{uuid.uuid4().hex[:8]}")["domainId"]
    template = cc.create_template(domainId=domain, name="bench", status="Active")["templateId"]
    fields = [{"id": "title", "value": {"stringValue": "Printer on fire"}}]
    connect_case = cc.create_case(domainId=domain, templateId=template, fields=fields)["caseId"]
    comment_cases = [cc.create_case(domainId=domain, templateId=template, fields=fields)["caseId"]
                     for _ in range(40 * bench.duration)]
    contact = f"{INSTANCE}/contact/{uuid.uuid4()}"
    cc.create_related_item(domainId=domain, caseId=connect_case, type="Contact",
                           content={"contact": {"contactArn": contact}})
    by_id = lambda: signed(end, "support", "describe_cases", caseIdList=[case_id])  # noqa: E731
    rows = [
        ("CreateCase", lambda: signed(
            end, "support", "create_case", subject="Instance unreachable",
            communicationBody="Since 10:00 UTC")),
        ("AddCommunicationToCase", lambda: signed(
            end, "support", "add_communication_to_case", caseId=case_id,
            communicationBody="Logs attached", ccEmailAddresses=["ops@example.com"])),
        ("DescribeCases by id", by_id),
        ("DescribeCases page of 10", lambda: signed(
            end, "support", "describe_cases", maxResults=10, includeCommunications=False)),
        ("DescribeCommunications", lambda: signed(
            end, "support", "describe_communications", caseId=case_id, maxResults=10)),
        ("Connect CreateCase", lambda: signed(
            end, "connectcases", "create_case", domainId=domain, templateId=template,
            fields=fields)),
        ("Connect GetCase", lambda: signed(
            end, "connectcases", "get_case", domainId=domain, caseId=connect_case,
            fields=[{"id": "title"}, {"id": "status"}])),
        ("Connect ListCasesForContact", lambda: signed(
            end, "connectcases", "list_cases_for_contact", domainId=domain,
            contactArn=contact)),
        # A case holds at most 200 related items: spread the comments over enough cases.
        ("Connect CreateRelatedItem (Comment)", lambda: [signed(
            end, "connectcases", "create_related_item", domainId=domain, caseId=case,
            type="Comment",
            content={"comment": {"body": "Called back", "contentType": "Text/Plain"}})
            for case in comment_cases]),
    ]
    planned = [(label + row, request, 32) for row, request in rows]
    # Concurrency rows: one process on SQLite only.
    for connections in (1, 4, 128):
        row = f"DescribeCases by id, {connections} connections"
        planned.append((None if label else row, by_id, connections))
    return planned


# ----------------------------------------------------------------------------- report

HEAD = (f"{'row':66} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU us':>7} {'RSS MB':>7} "
        f"{'errors':>6} {'others':>6} {'steal':>6} {'DB us':>6}")


def _line(r: Result) -> str:
    return (f"{r.row:66} {r.rps:8.0f} {r.p50_ms:7.2f} {r.p99_ms:7.2f} {r.cpu_us:7.0f} "
            f"{r.rss_mb:7.1f} {r.errors:6d} {r.others:6.2f} {r.steal:6.2f}"
            + ("" if r.db_us is None else f" {r.db_us:6.0f}"))


def verdicts(results: list[Result]) -> list[tuple[str, str, bool | None]]:
    """(target, measured, met) for every target whose rows ran; ``met`` is None for a target
    that does not apply on this machine."""
    by = {r.row: r for r in results}
    out: list[tuple[str, str, bool | None]] = []

    def ratio(name: str, row: str, ref: str, at_least: float) -> None:
        if row in by and ref in by:
            value = by[row].rps / by[ref].rps
            out.append((f"{name}: {row} / {ref} >= {at_least:g}", f"{value:.2f}",
                        value >= at_least))

    ceiling = "bare ASGI, fixed JSON (ceiling)"
    insert = "bare ASGI + one SQLite insert, FULL (write reference)"
    floor = "bare ASGI + SigV4 + PK select + orjson (read floor)"
    reads = ["DescribeCases by id", "DescribeCases page of 10", "DescribeCommunications",
             "Connect GetCase", "Connect ListCasesForContact"]
    for row in reads:
        ratio("read vs ceiling", row, ceiling, 0.15)
        ratio("read vs floor", row, floor, 0.35)
    ratio("read vs moto", "DescribeCases by id", "moto DescribeCases by id", 10)
    for row in ("CreateCase", "AddCommunicationToCase"):
        ratio("write vs insert", row, insert, 0.75)
    ratio("write vs moto", "CreateCase", "moto CreateCase", 5)
    ratio("Connect write vs insert", "Connect CreateCase", insert, 0.5)
    # The targets hold for one process on SQLite: rows without a label ("2 workers: ...").
    single = [r for r in results if not r.row.startswith(("bare", "moto")) and ": " not in r.row]
    for r in single:
        if r.connections == 32:
            out.append((f"p99 <= 25 ms: {r.row}", f"{r.p99_ms:.1f} ms", r.p99_ms <= 25))
    at = {c: by.get(f"DescribeCases by id, {c} connections") for c in (1, 4, 128)}
    if at[4] and at[128]:
        out.append(("no collapse: 128 connections >= 4 connections",
                    f"{at[128].rps:.0f} vs {at[4].rps:.0f}", at[128].rps >= at[4].rps))
    if at[1] and "DescribeCases by id" in by:
        value = by["DescribeCases by id"].cpu_us / at[1].cpu_us
        out.append(("CPU/request at 32 connections <= 1.3x at 1", f"{value:.2f}x", value <= 1.3))
    if single:
        worst = max(r.rss_mb for r in single)
        out.append(("server RSS <= 150 MB under load (one process)", f"{worst:.0f} MB",
                    worst <= 150))
    # PostgreSQL (issue 15): each row at least 60% of the same row on SQLite, p99 <= 50 ms,
    # two processes at least 1.6x one on a read row.
    one, two = "PostgreSQL, 1 process(es): ", "PostgreSQL, 2 process(es): "
    for r in single:
        pg = by.get(one + r.row)
        if pg is not None and r.connections == 32:
            out.append((f"PostgreSQL >= 60% of SQLite: {r.row}", f"{pg.rps / r.rps:.2f}",
                        pg.rps / r.rps >= 0.6))
            out.append((f"PostgreSQL p99 <= 50 ms: {r.row}", f"{pg.p99_ms:.1f} ms",
                        pg.p99_ms <= 50))
    if one + "DescribeCases by id" in by and two + "DescribeCases by id" in by:
        alone = by[one + "DescribeCases by id"]
        value = by[two + "DescribeCases by id"].rps / alone.rps
        # The target holds when the machine has a core to spare: the cores the one-process
        # row left idle (its server and database CPU; the load generator's is not counted).
        busy = (alone.cpu_us + (alone.db_us or 0)) * alone.rps / 1e6
        spare = (os.cpu_count() or 1) - busy
        out.append((f"PostgreSQL 2 processes >= 1.6x one, DescribeCases by id "
                    f"({os.cpu_count()} cores, {spare:.1f} spare)", f"{value:.2f}x",
                    value >= 1.6 if spare >= 1 else None))
    return out


def _verdict(met: bool | None) -> str:
    return "not judged: no core to spare" if met is None else "yes" if met else "**no**"


def report(results: list[Result], command: str) -> str:
    lines = [f"$ {command}", f"cores: {os.cpu_count()}", "", "```", HEAD,
             *(_line(r) for r in results), "```", ""]
    checks = verdicts(results)
    if checks:
        lines += ["| target | measured | met |", "|---|---|---|"]
        lines += [f"| {t} | {m} | {_verdict(ok)} |" for t, m, ok in checks]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=8, help="seconds per row")
    parser.add_argument("--only", help="comma-separated substrings of the rows to run")
    parser.add_argument("--workers", type=int, default=2,
                        help="also run the read rows with this many server processes (0: skip)")
    parser.add_argument("--postgres", metavar="URL",
                        help="also run the Casework rows on this PostgreSQL server "
                             "(a fresh database is created on it for each server)")
    parser.add_argument("--markdown", type=Path, help="append the report to this file")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    only = set(args.only.split(",")) if args.only else None
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp), args.duration, only)
        print(HEAD, flush=True)
        references(bench)
        moto_rows(bench)
        setups = [Setup("")]
        if args.workers > 1:
            setups.append(Setup(f"{args.workers} workers: ", workers=args.workers))
        with contextlib.ExitStack() as databases:
            if args.postgres:
                setups += [Setup(f"PostgreSQL, {processes} process(es): ",
                                 databases.enter_context(_postgres_database(args.postgres)),
                                 processes) for processes in (1, 2)]
            casework_rows(bench, setups)
        # The report lists each setup's rows together, in the order above.
        rank = {setup.label: n for n, setup in enumerate(setups) if setup.label}
        bench.results.sort(key=lambda r: next(
            (n for label, n in rank.items() if r.row.startswith(label)), 0))
    text = report(bench.results, "python bench/run.py " + " ".join(sys.argv[1:]))
    print(text)
    if args.markdown:
        with args.markdown.open("a") as out:
            out.write(text)
    return 0


@contextlib.contextmanager
def _postgres_database(url: str) -> Iterator[str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"casework_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
