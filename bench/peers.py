"""Reference servers for the benchmark: what the stack itself can do, with no Casework in it.

    python bench/peers.py ceiling|insert|read --port 8001 [--db PATH]

All three are bare ASGI apps on the same uvicorn/httptools/uvloop stack Casework uses:

* ``ceiling``: answers every request with a fixed JSON body: the most this stack can serve;
* ``insert``: one SQLite INSERT and COMMIT per request (WAL, ``synchronous=FULL``): what a
  durable write costs when nothing else is done;
* ``read``: verifies the request's SigV4 signature with ``hmac``/``hashlib`` (signing key
  cached), reads one row by primary key from SQLite (WAL) and answers with orjson: the floor of
  a signed read.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import sqlite3
from urllib.parse import quote

import orjson
import uvicorn

FIXED = orjson.dumps({"cases": [], "nextToken": None})
HEADERS = [(b"content-type", b"application/x-amz-json-1.1"),
           (b"content-length", str(len(FIXED)).encode())]


async def _body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send, body: bytes, status: int = 200) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/x-amz-json-1.1"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def ceiling_app():
    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        await _body(receive)
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": FIXED})
    return app


def insert_app(db: str):
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE IF NOT EXISTS items (id INTEGER PRIMARY KEY, body BLOB)")

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = await _body(receive)
        conn.execute("BEGIN IMMEDIATE")
        rowid = conn.execute("INSERT INTO items (body) VALUES (?)", (body,)).lastrowid
        conn.execute("COMMIT")
        await _answer(send, orjson.dumps({"id": rowid}))
    return app


def read_app(db: str):
    conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE IF NOT EXISTS cases (id TEXT PRIMARY KEY, subject TEXT, "
                 "status TEXT, created INTEGER)")
    conn.execute("INSERT OR IGNORE INTO cases VALUES ('case-1', 'load', 'opened', 0)")
    keys: dict[tuple[str, str, str, str], bytes] = {}
    secrets = {"test": "test"}

    def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
        cached = keys.get((secret, date, region, service))
        if cached is None:
            k = hmac.digest(("AWS4" + secret).encode(), date.encode(), "sha256")
            for part in (region, service, "aws4_request"):
                k = hmac.digest(k, part.encode(), "sha256")
            cached = keys[(secret, date, region, service)] = k
        return cached

    def verify(scope, body: bytes) -> bool:
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            name = k.decode("latin-1")
            value = " ".join(v.decode("latin-1").split())
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        auth = headers.get("authorization", "")
        try:
            credential, signed, signature = (p.split("=", 1)[1] for p in auth[17:].split(", "))
            key_id, date, region, service, _ = credential.split("/")
        except ValueError:
            return False
        names = signed.split(";")
        canonical = "\n".join([
            scope["method"], quote(scope["path"], safe="/~"), scope["query_string"].decode(),
            "".join(f"{n}:{headers.get(n, '')}\n" for n in names), signed,
            hashlib.sha256(body).hexdigest()])
        amz_date = headers.get("x-amz-date", "")
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date,
                             f"{date}/{region}/{service}/aws4_request",
                             hashlib.sha256(canonical.encode()).hexdigest()])
        key = signing_key(secrets.get(key_id, ""), date, region, service)
        expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
        return hmac.compare_digest(expected, signature)

    async def app(scope, receive, send):
        if scope["type"] != "http":
            return
        body = await _body(receive)
        if not verify(scope, body):
            await _answer(send, b'{"__type":"InvalidSignatureException"}', 400)
            return
        case_id = orjson.loads(body)["caseIdList"][0]
        row = conn.execute("SELECT id, subject, status, created FROM cases WHERE id = ?",
                           (case_id,)).fetchone()
        await _answer(send, orjson.dumps({"cases": [
            {"caseId": row[0], "subject": row[1], "status": row[2], "timeCreated": row[3]}]}))
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["ceiling", "insert", "read"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--db", default=":memory:")
    args = parser.parse_args()
    app = {"ceiling": ceiling_app, "insert": lambda: insert_app(args.db),
           "read": lambda: read_app(args.db)}[args.mode]()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False,
                http="httptools", loop="uvloop")


if __name__ == "__main__":
    main()
