"""Client CPU of one primary-key SELECT on PostgreSQL: psycopg's execute against store/pg.py.

    python bench/pg_statement.py 'postgresql+psycopg://user@/postgres?host=/var/run/postgresql'

Runs each way N times on one connection (autocommit, blocking) and prints the process CPU time
and the wall time per statement. The server's work is the same both ways; what differs is the
client's: a cursor, placeholder parsing and prepare bookkeeping per call for psycopg, against a
statement prepared once and run with ``PQsendQueryPrepared`` and psycopg's C row loaders.
"""

from __future__ import annotations

import resource
import sys
import time

from sqlalchemy.engine import make_url

from casework.store import pg
from casework.store.green import GreenConnection

N = 20000


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure(name: str, call) -> None:
    for _ in range(200):
        call()
    cpu0, wall0 = cpu(), time.perf_counter()
    for _ in range(N):
        call()
    print(f"{name:40} CPU {(cpu() - cpu0) / N * 1e6:6.1f} us   "
          f"wall {(time.perf_counter() - wall0) / N * 1e6:6.1f} us")


def main() -> None:
    url = make_url(sys.argv[1]).set(drivername="postgresql")
    conn = GreenConnection.connect(url.render_as_string(hide_password=False), autocommit=True)
    measure("psycopg Connection.execute + fetchall",
            lambda: conn.execute("SELECT oid, datname FROM pg_database WHERE oid = %s",
                                 (1,)).fetchall())
    measure("store.pg.execute + fetchall",
            lambda: pg.execute(conn, b"SELECT oid, datname FROM pg_database WHERE oid = $1",
                               [1]).fetchall())


if __name__ == "__main__":
    main()
