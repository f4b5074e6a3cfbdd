"""``casework seed`` on SQLite is an offline bulk load (src/casework/store/bulk.py).

It refuses a store a server has open, and a seed cut short leaves a store that says so: the
server refuses it until ``casework seed`` has built the indexes the load had dropped. These are
SQLite behaviours, so the store here is SQLite whatever database the suite runs on.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

from conftest import free_port, start_server


def casework(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "casework", *args], capture_output=True,
                          text=True, env=env, timeout=600)


def sqlite_env(data_dir) -> dict:
    return {**os.environ, "CASEWORK_DATABASE_URL": f"sqlite:///{data_dir / 'casework.db'}"}


def indexes(db) -> set[str]:
    conn = sqlite3.connect(db)
    try:
        return {name for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL")}
    finally:
        conn.close()


def test_seed_refuses_a_store_a_server_has_open(tmp_path):
    data_dir = tmp_path / "data"
    server = start_server(tmp_path, env=sqlite_env(data_dir))
    try:
        done = casework("seed", "--data-dir", str(data_dir), "--connect-cases", "10",
                        env=sqlite_env(data_dir))
        assert done.returncode != 0
        assert "in use" in done.stderr and "stop it before seeding" in done.stderr
        cc = server.client("connectcases")
        assert cc.list_domains()["domains"] == []  # nothing was written
    finally:
        server.stop()


def test_a_seed_cut_short_is_refused_until_seed_finishes_it(tmp_path):
    data_dir = tmp_path / "data"
    env = sqlite_env(data_dir)
    db = data_dir / "casework.db"
    assert casework("seed", "--data-dir", str(data_dir), "--connect-cases", "50",
                    env=env).returncode == 0
    complete = indexes(db)
    # Kill a large seed once it has written rows (its indexes dropped).
    seeding = subprocess.Popen(
        [sys.executable, "-m", "casework", "seed", "--data-dir", str(data_dir),
         "--connect-cases", "2000000"], env=env, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL)
    size = db.stat().st_size
    deadline = time.monotonic() + 300
    while db.stat().st_size < size + 300_000_000 and seeding.poll() is None:
        assert time.monotonic() < deadline, "the seed wrote nothing"
        time.sleep(0.1)
    seeding.send_signal(signal.SIGKILL)
    seeding.wait()

    refused = subprocess.run(
        [sys.executable, "-m", "casework", "serve", "--data-dir", str(data_dir), "--port",
         str(free_port())], capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode != 0
    assert "did not finish" in refused.stderr and "casework seed" in refused.stderr

    finished = casework("seed", "--data-dir", str(data_dir), env=env)
    assert finished.returncode == 0, finished.stderr
    assert "built the indexes of a seed that was cut short" in finished.stdout
    assert indexes(db) == complete

    server = start_server(tmp_path, env=env)
    try:
        cc = server.client("connectcases")
        domain = next(d["domainId"] for d in cc.list_domains()["domains"] if d["name"] == "seed")
        first = cc.search_cases(domainId=domain, maxResults=1,
                                fields=[{"id": "title"}, {"id": "case_id"}])
        # The 50 seeded before, and the cases of any batch committed before the kill.
        assert first["totalCount"] >= 50
        case = first["cases"][0]
        title = next(f["value"]["stringValue"] for f in case["fields"] if f["id"] == "title")
        found = cc.search_cases(domainId=domain, searchTerm=title, maxResults=100)["cases"]
        assert case["caseId"] in [c["caseId"] for c in found]
        assert cc.get_case(domainId=domain, caseId=case["caseId"],
                           fields=[{"id": "title"}])["fields"][0]["value"]["stringValue"] == title
    finally:
        server.stop()


def test_a_small_seed_into_a_larger_store_keeps_its_indexes(tmp_path):
    """Few cases added to many go into the indexes as they are written (no rebuild)."""
    data_dir = tmp_path / "data"
    env = sqlite_env(data_dir)
    db = data_dir / "casework.db"
    assert casework("seed", "--data-dir", str(data_dir), "--connect-cases", "40",
                    env=env).returncode == 0
    complete = indexes(db)
    added = casework("seed", "--data-dir", str(data_dir), "--connect-cases", "5",
                     "--random-seed", "2", env=env)
    assert added.returncode == 0, added.stderr
    assert indexes(db) == complete
    server = start_server(tmp_path, env=env)
    try:
        cc = server.client("connectcases")
        domain = next(d["domainId"] for d in cc.list_domains()["domains"] if d["name"] == "seed")
        found = cc.search_cases(domainId=domain, maxResults=100, fields=[{"id": "title"}])
        assert found["totalCount"] == 45 and len(found["cases"]) == 45
        title = found["cases"][0]["fields"][0]["value"]["stringValue"]
        assert found["cases"][0]["caseId"] in [c["caseId"] for c in cc.search_cases(
            domainId=domain, searchTerm=title, maxResults=100)["cases"]]
    finally:
        server.stop()


def segments(db, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT count(DISTINCT segid) FROM {table}_idx").fetchone()[0]
    finally:
        conn.close()


def test_a_load_leaves_each_full_text_index_in_one_segment(tmp_path):
    """Each batch writes segments of its own, the first seed's stay: a load large enough to
    rebuild the indexes also merges the full-text tables, so that a search reads one."""
    data_dir = tmp_path / "data"
    env = sqlite_env(data_dir)
    for random_seed in ("1", "2"):
        done = casework("seed", "--data-dir", str(data_dir), "--connect-cases", "40",
                        "--random-seed", random_seed, env=env)
        assert done.returncode == 0, done.stderr
    for table in ("cases_search_terms", "cases_search_substrings"):
        assert segments(data_dir / "casework.db", table) == 1
