"""SearchCases, SearchAllRelatedItems and friends at two store sizes, side by side.

Seeds one store per size with ``casework seed`` (or reuses a store seeded earlier), starts
``casework serve`` on every store at once, times single boto3 calls (median of ``--repeat``,
after one warm-up call each; the stores take turns call by call, and every store is searched
for the same words) and prints two Markdown tables of the sizes side by side with the ratio
of the last to the first: the median wall time of a call as the client sees it, and the
server's CPU time per call (all its threads, from /proc), which waiting for a core on a
loaded machine does not inflate; then what each search found at each size.

    python bench/search.py --sizes 10000,1000000 --work-dir /tmp/casework-search-bench

With ``--postgres URL`` the stores are databases on that PostgreSQL server instead
(``casework_search_<size>``, created when missing and reused like the data dirs).

Searches timed (the domain is the one ``casework seed`` fills, named ``seed``):

* SearchCases without a filter (the first page, newest updated first, with totalCount);
* SearchCases with ``customer_id`` equalTo one customer (a customer holds about four cases);
* SearchCases with ``Tier`` equalTo ``gold`` (a quarter of the cases);
* SearchCases with a searchTerm of one word of the title vocabulary, of two words, of one
  letter (``a``: the start of many words and of many parts of ids), and of a case id (one
  match);
* SearchCases with ``title`` contains one word of the title vocabulary (about 1.5% of the
  cases hold it), and contains a fragment no case holds;
* SearchAllRelatedItems by contact ARN; GetCase and DescribeCases by id for reference.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

ACCOUNT = "000000000000"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def casework(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "casework", *args], check=True)


def postgres_store(url: str, size: int) -> list[str]:
    """The ``--database-url`` option naming the size's database on the server of ``url``
    (created when missing)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"casework_search_{size}"
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :name"),
                       {"name": name}) is None:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return ["--database-url", make_url(url).set(database=name).render_as_string(
        hide_password=False)]


def seed(data_dir: Path, store: list[str], size: int) -> None:
    """Fill the store once (``data_dir`` keeps the marker that it was)."""
    marker = data_dir / "seeded"
    if marker.exists():
        return
    casework("seed", *store, "--connect-cases", str(size), "--related-items-per-case", "1",
             "--support-cases", str(max(size // 10, 1)), "--communications-per-case", "2")
    marker.write_text(str(size))


def serve(data_dir: Path, store: list[str]):
    port = free_port()
    log = open(data_dir / "server.log", "ab")  # noqa: SIM115  (closed with the process)
    process = subprocess.Popen(
        [sys.executable, "-m", "casework", "serve", "--port", str(port), *store,
         "--threads", "4", "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    # A server migrates its store before it listens: minutes for a million cases.
    deadline = time.monotonic() + 900
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{endpoint}/_casework/health", timeout=1).status_code == 200:
                return process, endpoint
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("server did not start")


def server_cpu_ns(pid: int) -> int:
    """CPU time the server process has used, every thread (Linux: /proc/PID/task/*/schedstat)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a thread ended
            total += int((task / "schedstat").read_text().split()[0])
    return total


def timed(calls: list, pids: list[int], repeat: int) -> list[tuple[float, float, str]]:
    """(median wall ms, server CPU ms per call, what it found) of each of ``calls``, one per
    store, the server of each with its pid in ``pids``. The stores take turns, call by call,
    so that a burst of load on this machine falls on every size alike rather than on one
    size's run. On a loaded machine the wall time includes waiting for a core; the server's
    CPU time does not."""
    found = [answered(call()) for call in calls]  # warm-up
    samples = [[] for _ in calls]
    cpu = [0] * len(calls)
    for _ in range(repeat):
        for i, (call, pid) in enumerate(zip(calls, pids, strict=True)):
            before = server_cpu_ns(pid)
            began = time.perf_counter()
            call()
            samples[i].append((time.perf_counter() - began) * 1000)
            cpu[i] += server_cpu_ns(pid) - before
    return [(statistics.median(s), c / repeat / 1e6, f)
            for s, c, f in zip(samples, cpu, found, strict=True)]


def answered(response: dict) -> str:
    """What a search found: the items on its page, and its totalCount when it has one."""
    for key in ("cases", "relatedItems"):
        if key in response:
            total = response.get("totalCount")
            return str(len(response[key])) + ("" if total is None else f" of {total:,}")
    return ""


def client(endpoint: str, service: str):
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test",
                        config=Config(retries={"total_max_attempts": 1}))


def seed_domain(cc) -> str:
    """The id of the domain ``casework seed`` fills."""
    return next(d["domainId"] for d in cc.list_domains()["domains"] if d["name"] == "seed")


def title_words(endpoint: str) -> list[str]:
    """The words of the newest case's title in the store at ``endpoint``."""
    cc = client(endpoint, "connectcases")
    domain = seed_domain(cc)
    newest = cc.search_cases(domainId=domain, maxResults=1, fields=[{"id": "title"}])
    return newest["cases"][0]["fields"][0]["value"]["stringValue"].lower().split()


def calls(endpoint: str, words: list[str]) -> dict[str, object]:
    """The timed calls against the store at ``endpoint``, by name. ``words`` are the title
    words searched, the same at every size: the seed draws every store's titles from one
    vocabulary, so a word is as common at 10,000 cases as at a million. Ids, a customer and a
    contact are the store's own."""
    cc, support = client(endpoint, "connectcases"), client(endpoint, "support")
    domain = seed_domain(cc)
    fields = {f["name"]: f["fieldId"] for f in cc.list_fields(domainId=domain)["fields"]}
    newest = cc.search_cases(domainId=domain, maxResults=1, fields=[
        {"id": "customer_id"}])["cases"][0]
    customer = newest["fields"][0]["value"]["stringValue"]
    case_id = newest["caseId"]
    item = cc.search_all_related_items(domainId=domain, filters=[{"contact": {}}],
                                       maxResults=1)["relatedItems"][0]
    contact_arn = item["content"]["contact"]["contactArn"]
    support_case = support.describe_cases(maxResults=10)["cases"][0]["caseId"]

    return {
        "SearchCases, no filter (first page, totalCount)":
            lambda: cc.search_cases(domainId=domain),
        "SearchCases, customer_id equalTo (field filter)":
            lambda: cc.search_cases(domainId=domain, filter={"field": {"equalTo": {
                "id": "customer_id", "value": {"stringValue": customer}}}}),
        "SearchCases, Tier equalTo gold (a quarter of the cases)":
            lambda: cc.search_cases(domainId=domain, filter={"field": {"equalTo": {
                "id": fields["Tier"], "value": {"stringValue": "gold"}}}}),
        "SearchCases, searchTerm one word of a title":
            lambda: cc.search_cases(domainId=domain, searchTerm=words[0]),
        "SearchCases, searchTerm two words of a title":
            lambda: cc.search_cases(domainId=domain, searchTerm=" ".join(words[:2])),
        "SearchCases, searchTerm one letter (a)":
            lambda: cc.search_cases(domainId=domain, searchTerm="a"),
        "SearchCases, searchTerm a case id (one match)":
            lambda: cc.search_cases(domainId=domain, searchTerm=case_id),
        "SearchCases, title contains a word of a title":
            lambda: cc.search_cases(domainId=domain, filter={"field": {"contains": {
                "id": "title", "value": {"stringValue": words[0]}}}}),
        "SearchCases, title contains a fragment no case holds":
            lambda: cc.search_cases(domainId=domain, filter={"field": {"contains": {
                "id": "title", "value": {"stringValue": "qzxv"}}}}),
        "SearchAllRelatedItems, contact ARN":
            lambda: cc.search_all_related_items(domainId=domain, filters=[
                {"contact": {"contactArn": contact_arn}}]),
        "GetCase": lambda: cc.get_case(domainId=domain, caseId=case_id,
                                       fields=[{"id": "title"}]),
        "DescribeCases (AWS Support) by id":
            lambda: support.describe_cases(caseIdList=[support_case]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--work-dir", default="/tmp/casework-search-bench", type=Path)
    parser.add_argument("--repeat", default=15, type=int)
    parser.add_argument("--postgres", metavar="URL",
                        help="keep the stores on this PostgreSQL server instead of SQLite")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    servers = []
    try:
        for size in sizes:
            if args.postgres:
                data_dir = args.work_dir / f"postgres-cases-{size}"
                store = postgres_store(args.postgres, size)
            else:
                data_dir = args.work_dir / f"cases-{size}"
                store = ["--data-dir", str(data_dir)]
            data_dir.mkdir(parents=True, exist_ok=True)
            seed(data_dir, store, size)
            servers.append(serve(data_dir, store))
        words = title_words(servers[0][1])
        print(f"terms: {words[0]!r}, {' '.join(words[:2])!r}", file=sys.stderr)
        per_store = [calls(endpoint, words) for _, endpoint in servers]
        pids = [process.pid for process, _ in servers]
        names = list(per_store[0])
        results = {name: timed([c[name] for c in per_store], pids, args.repeat)
                   for name in names}
    finally:
        for process, _ in servers:
            process.terminate()
            process.wait(30)
    labels = [f"{s:,} cases" for s in sizes]
    for n, title in ((0, f"median wall time of {args.repeat} calls, ms"),
                     (1, "server CPU per call, ms")):
        print(f"\n| call ({title}) | " + " | ".join(labels) + " | ratio |")
        print("|---|" + "---|" * (len(sizes) + 1))
        for name in names:
            row = [timing[n] for timing in results[name]]
            print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in row)
                  + f" | {row[-1] / row[0]:.2f}x |")
    print("\n| call (items on the page, of totalCount) | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(sizes))
    for name in names:
        if results[name][0][2]:
            print(f"| {name} | " + " | ".join(timing[2] for timing in results[name]) + " |")
    print(f"\n{os.uname().nodename}: {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
