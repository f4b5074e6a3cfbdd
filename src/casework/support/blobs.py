"""The bytes of large-file uploads: one file per uploaded part under ``<data dir>/attachments``.

Layout: ``attachments/<storage key>/<part index>-<random>.part``. A part is written to a
temporary file, fsynced, renamed into place and its directory fsynced before the database
row points at it, so an acknowledged part survives a crash. A part that is uploaded again
gets a new file name: the old file stays valid until the database says otherwise, so a
concurrent reader never sees a half-replaced part. Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from ..datadir import lock_file

CHUNK = 1024 * 1024  # read and write granularity: memory per transfer stays about this size
_SAFE = re.compile(r"^[0-9a-f]{16,64}$")
_SAFE_FILE = re.compile(r"^[0-9]{5}-[0-9a-f]{16}\.part$")


def new_storage_key() -> str:
    """A fresh, random directory name for one upload."""
    return secrets.token_hex(16)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class PartWriter:
    """Writes one part to a temporary file; :meth:`finish` makes it durable under its name."""

    def __init__(self, directory: Path, part_index: int):
        self.directory = directory
        self.name = f"{part_index:05d}-{secrets.token_hex(8)}.part"
        self._temp = directory / f".{self.name}.tmp"
        # 0600 whatever the umask; locked while written, so that the sweep of abandoned
        # temporary files at start leaves a part in flight alone (see casework.datadir).
        fd = os.open(self._temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        lock_file(fd)
        self._file = os.fdopen(fd, "wb")
        self._md5 = hashlib.md5(usedforsecurity=False)
        self.size = 0

    def write(self, data: bytes) -> None:
        self._md5.update(data)
        self._file.write(data)
        self.size += len(data)

    def finish(self) -> str:
        """Make the part durable under its final name; returns its MD5 hex (the ETag)."""
        self._file.flush()
        os.fsync(self._file.fileno())
        # Renamed while still open (and locked): never an unlocked temporary file.
        os.replace(self._temp, self.directory / self.name)
        self._file.close()
        _fsync_dir(self.directory)
        return self._md5.hexdigest()

    def abort(self) -> None:
        """Throw the partial part away."""
        self._temp.unlink(missing_ok=True)
        self._file.close()


class BlobStore:
    """Part files of every upload, under one root directory."""

    def __init__(self, root: Path):
        self.root = root

    def _dir(self, storage_key: str) -> Path:
        # Keys and names come from our own database, but a path is never built from anything
        # that could climb out of the root.
        if not _SAFE.match(storage_key):
            raise ValueError(f"bad storage key {storage_key!r}")
        return self.root / storage_key

    def _file(self, storage_key: str, file_name: str) -> Path:
        if not _SAFE_FILE.match(file_name):
            raise ValueError(f"bad part file name {file_name!r}")
        return self._dir(storage_key) / file_name

    def part_writer(self, storage_key: str, part_index: int) -> PartWriter:
        """A writer for a new copy of one part (the directory is created durably if new)."""
        directory = self._dir(storage_key)
        if not directory.is_dir():
            self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
            directory.mkdir(exist_ok=True, mode=0o700)
            _fsync_dir(self.root)
        return PartWriter(directory, part_index)

    def read_chunks(self, storage_key: str, file_names: list[str]) -> Iterator[bytes]:
        """The concatenated parts, :data:`CHUNK` bytes at a time."""
        for name in file_names:
            with open(self._file(storage_key, name), "rb") as part:
                while chunk := part.read(CHUNK):
                    yield chunk

    def read_all(self, storage_key: str, file_names: list[str]) -> bytes:
        """The whole file at once: only for files small enough for DescribeAttachment."""
        return b"".join(self.read_chunks(storage_key, file_names))

    def remove_file(self, storage_key: str, file_name: str) -> None:
        self._file(storage_key, file_name).unlink(missing_ok=True)

    def remove_upload(self, storage_key: str) -> None:
        """Delete every file of an upload."""
        shutil.rmtree(self._dir(storage_key), ignore_errors=True)


def blob_store(data_dir: Path) -> BlobStore:
    """The part files of a server whose data directory is ``data_dir``."""
    return BlobStore(Path(data_dir) / "attachments")
