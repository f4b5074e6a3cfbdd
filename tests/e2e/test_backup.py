"""``casework backup``: an online, consistent copy of a live SQLite data directory that is
itself a data directory ``casework serve`` serves."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading

import httpx
from conftest import POSTGRES_URL, start_server

MIB = 1024 * 1024


def backup(server, dest) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "casework", "backup", "--data-dir", str(server.data_dir),
         "--database-url", server.database_url, str(dest)],
        capture_output=True, text=True, env=server.env)


def upload(support, name: str, data: bytes) -> str:
    started = support.get_attachment_upload_links(fileName=name, fileSizeBytes=len(data))
    size, upload_id = started["partSizeBytes"], started["uploadId"]
    links = {u["partIndex"]: u["url"] for u in started["uploadUrls"]}
    reported = []
    for index, url in sorted(links.items()):
        answer = httpx.put(url, content=data[(index - 1) * size:index * size], timeout=60)
        assert answer.status_code == 200
        reported.append({"partIndex": index, "eTag": answer.headers["ETag"]})
    support.complete_attachment_upload(uploadId=upload_id, completedUploads=reported)
    return upload_id


def test_backup_while_a_writer_runs_then_serve_the_copy(tmp_path):
    (tmp_path / "live").mkdir()
    server = start_server(tmp_path / "live", "--upload-part-size", str(MIB))
    try:
        key_id, secret = server.new_account("888800000001")
        support = server.client("support", key=key_id, secret=secret)
        data = os.urandom(3 * MIB + 123)
        upload_id = upload(support, "core.dump", data)
        big_case = support.create_case(subject="big", communicationBody="attached",
                                       uploadIds=[upload_id])["caseId"]
        acknowledged: list[str] = []
        stop = threading.Event()

        def writer():
            client = server.client("support", key=key_id, secret=secret)
            while not stop.is_set():
                acknowledged.append(client.create_case(subject=f"w{len(acknowledged)}",
                                                       communicationBody="x")["caseId"])

        thread = threading.Thread(target=writer)
        thread.start()
        while len(acknowledged) < 20:
            threading.Event().wait(0.05)
        before = len(acknowledged)
        (tmp_path / "copy").mkdir()
        dest = tmp_path / "copy" / "data"
        done = backup(server, dest)
        after = len(acknowledged)
        threading.Event().wait(0.3)
        stop.set()
        thread.join(timeout=60)
        if POSTGRES_URL:
            assert done.returncode != 0 and "pg_dump" in done.stderr
            return
        assert done.returncode == 0, done.stderr
        assert "1 attachment part file" not in done.stdout  # 4 parts: 3 MiB and a bit
        assert "4 attachment part file(s)" in done.stdout and "master key" in done.stdout
        assert oct(dest.stat().st_mode & 0o777) == "0o700"
        for path in dest.rglob("*"):
            assert path.stat().st_mode & 0o077 == 0, path
        check = sqlite3.connect(dest / "casework.db")
        assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        check.close()
        # Refuses to overwrite.
        again = backup(server, dest)
        assert again.returncode != 0 and "not empty" in again.stderr
    finally:
        if server.process.poll() is None:
            server.stop()
    copy = start_server(tmp_path / "copy")
    try:
        support = copy.client("support", key=key_id, secret=secret)
        cases = []
        page = support.describe_cases(includeCommunications=False)
        cases += page["cases"]
        while "nextToken" in page:
            page = support.describe_cases(includeCommunications=False,
                                          nextToken=page["nextToken"])
            cases += page["cases"]
        copied = {c["caseId"] for c in cases}
        # Every case acknowledged before the backup began is there; none is half there.
        assert set(acknowledged[:before]) | {big_case} <= copied
        assert len(copied) <= after + 1 + 1
        for case in cases:
            assert support.describe_communications(caseId=case["caseId"])["communications"]
        attachment = support.describe_communications(caseId=big_case)["communications"][0][
            "attachmentSet"][0]
        link = support.get_attachment_download_link(attachmentId=attachment["attachmentId"])
        assert httpx.get(link["downloadUrl"]["url"], timeout=60).content == data
    finally:
        copy.stop()
