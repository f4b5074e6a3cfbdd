"""The data directory: private to the server's user, and backed up consistently.

Everything in it is a secret or holds secrets (the SQLite database with its keys, tokens and
cases, the master key, the attachment files), so the directory is 0700 and every file in it
0600, whatever the umask: new files are created so, and files of an older installation are
tightened at start. ``casework`` also runs with a umask of 077, so that files SQLite creates
beside the database (``-wal``, ``-shm``, ``-journal``) are private from their first byte.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import sqlite3
import stat
from pathlib import Path

from sqlalchemy.engine import make_url

log = logging.getLogger("casework.datadir")

DATABASE = "casework.db"
ATTACHMENTS = "attachments"
_SQLITE_SUFFIXES = ("", "-wal", "-shm", "-journal", "-writer")  # -writer: store/engine.py
_OURS = {DATABASE, ATTACHMENTS, "master.key", "database-url"}


def private_umask() -> None:
    """New files of this process are readable by its user only."""
    os.umask(0o077)


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases or in-memory SQLite)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database \
            or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _tighten(path: Path, mode: int) -> None:
    try:
        current = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(current.st_mode):
        return
    if stat.S_IMODE(current.st_mode) & 0o077:
        os.chmod(path, mode)


def prepare(data_dir: Path, database_url: str) -> None:
    """Create the data directory 0700 (tightening an existing one that holds only Casework's
    files), make the SQLite database and its companions 0600, and every attachment file
    0600 and directory 0700."""
    data_dir = Path(data_dir)
    if not data_dir.exists():
        data_dir.mkdir(parents=True, mode=0o700)
    if _only_ours(data_dir):
        os.chmod(data_dir, 0o700)
    else:
        _warn_if_open(data_dir)
    database = sqlite_path(database_url)
    if database is not None:
        if not database.exists():
            # Created empty, 0600, before SQLite opens it; SQLite gives -wal and -shm the
            # database file's permissions.
            os.close(os.open(database, os.O_WRONLY | os.O_CREAT, 0o600))
        for suffix in _SQLITE_SUFFIXES:
            _tighten(database.with_name(database.name + suffix), 0o600)
    for name in ("master.key", "database-url"):
        _tighten(data_dir / name, 0o600)
    attachments = data_dir / ATTACHMENTS
    if attachments.is_dir():
        _tighten(attachments, 0o700)
        for root, dirs, files in os.walk(attachments):
            for name in dirs:
                _tighten(Path(root) / name, 0o700)
            for name in files:
                _tighten(Path(root) / name, 0o600)


def _only_ours(data_dir: Path) -> bool:
    """Whether the directory holds nothing but Casework's files (so it is ours to chmod)."""
    for entry in data_dir.iterdir():
        name = entry.name
        if name not in _OURS and not any(name == DATABASE + s for s in _SQLITE_SUFFIXES):
            return False
    return True


def _warn_if_open(data_dir: Path) -> None:
    if stat.S_IMODE(data_dir.stat().st_mode) & 0o077:
        log.warning("data directory %s is readable by other users and holds other files; "
                    "make it private (chmod 700)", data_dir)


# --- temporary part files ------------------------------------------------------------------


def lock_file(fd: int) -> None:
    """Mark an open temporary file as in use (released when it is closed or the process dies)."""
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def sweep_temporary_parts(attachments: Path) -> int:
    """Delete ``.part.tmp`` files that no process is writing (left by a crash or SIGKILL).

    A writer holds a lock on its temporary file while it writes, so a file that can be locked
    here is abandoned; with several servers on a shared data directory, another server's part
    in flight is left alone.
    """
    removed = 0
    if not attachments.is_dir():
        return 0
    for directory in attachments.iterdir():
        if not directory.is_dir():
            continue
        for path in directory.glob(".*.part.tmp"):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # being written right now
                path.unlink(missing_ok=True)
                removed += 1
            finally:
                os.close(fd)
    return removed


# --- backups -------------------------------------------------------------------------------


class BackupError(Exception):
    """The backup cannot be taken (destination exists, not SQLite, ...)."""


def backup(data_dir: Path, database_url: str, dest: Path) -> dict:
    """Copy a live SQLite data directory into the new data directory ``dest``.

    The database is copied with SQLite's online backup API in one step, which reads one
    consistent snapshot while writers carry on (WAL mode). Then the attachment files that
    snapshot refers to are copied; part files are never changed once written, but one may
    be replaced or swept after the snapshot was read: such a part of an unfinished upload is
    dropped from the copy (its upload asks for that part again), so the copy never points at
    a file it does not have. The master key file comes too, if the server uses one.
    """
    source = sqlite_path(database_url)
    if source is None:
        raise BackupError("casework backup copies SQLite data directories; back up PostgreSQL "
                          "with pg_dump and copy the data directory's attachments/ (see README)")
    if not source.exists():
        raise BackupError(f"no database at {source}")
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} exists and is not empty; give a new directory")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(dest, 0o700)
    target = dest / DATABASE
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(target)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        src.backup(dst)  # pages=-1: the whole database from one read snapshot
        dst.execute("PRAGMA journal_mode=WAL")
    finally:
        src.close()
    try:
        copied, dropped = _copy_parts(Path(data_dir) / ATTACHMENTS, dest / ATTACHMENTS, dst)
        dst.commit()
    finally:
        dst.close()
    key = Path(data_dir) / "master.key"
    if key.exists():
        fd = os.open(dest / "master.key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key.read_bytes())
    _fsync_tree(dest)
    return {"database": str(target), "part_files": copied, "parts_dropped": dropped,
            "master_key": key.exists()}


def _copy_parts(source: Path, dest: Path, db: sqlite3.Connection) -> tuple[int, int]:
    """Copy the part files the copied database names; drop the rows of vanished ones."""
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "support_upload_parts" not in tables:
        return 0, 0
    rows = db.execute(
        "SELECT p.upload_id, p.part_index, p.file_name, u.storage_key, u.attachment_id "
        "FROM support_upload_parts p JOIN support_uploads u ON u.upload_id = p.upload_id "
        "WHERE p.file_name IS NOT NULL").fetchall()
    copied = dropped = 0
    for upload_id, part_index, file_name, storage_key, attachment_id in rows:
        origin = source / storage_key / file_name
        directory = dest / storage_key
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            with open(origin, "rb") as part:
                fd = os.open(directory / file_name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "wb") as out:
                    shutil.copyfileobj(part, out, 1024 * 1024)
            copied += 1
        except FileNotFoundError:
            if attachment_id is not None:
                log.error("attachment file %s of upload %s is missing", origin, upload_id)
            db.execute("UPDATE support_upload_parts SET size = NULL, etag = NULL, "
                       "file_name = NULL, uploaded_at = NULL "
                       "WHERE upload_id = ? AND part_index = ?", (upload_id, part_index))
            dropped += 1
    return copied, dropped


def _fsync_tree(root: Path) -> None:
    for directory, _dirs, files in os.walk(root):
        for name in files:
            fd = os.open(Path(directory) / name, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
