"""Casework's own presigned URLs for AWS Support attachments: part uploads and downloads.

AWS hands out presigned Amazon S3 URLs; Casework serves the same workflow itself, under
``/_casework/support/``:

* ``PUT /_casework/support/uploads/<upload id>/parts/<n>?<signature>`` stores part *n* and
  answers ``ETag: "<md5 hex>"`` as S3 does;
* ``GET /_casework/support/attachments/<attachment id>?<signature>`` streams an attachment of
  any size,

where ``<signature>`` is ``X-Casework-Expires=<epoch ms>&X-Casework-Key=<access key id>&
X-Casework-Signature=<hex>``.

A URL is single-purpose: its HMAC-SHA256 signature (key: a server secret) covers the method,
the path, the expiry time and the access key that asked for it, so it cannot be turned into
another part, another file or another verb, nor used after it expires, nor once its access key
is deleted (S3 refuses a presigned URL of a deleted key with ``InvalidAccessKeyId`` too).
Bodies are streamed in 1 MiB pieces both ways; memory per transfer stays about that size,
whatever the file size. Errors are S3-style XML
with S3's codes, since clients treat these URLs as S3 URLs.

The URLs name the host the API client used (its ``Host`` header, the request's origin in the
handler's context), so they work through whatever address reaches the server.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import mimetypes
import re
import threading
from base64 import b64decode
from binascii import Error as BinasciiError
from pathlib import PurePosixPath
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from anyio import to_thread
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ..config import Settings
from ..datadir import sweep_temporary_parts
from ..handlers import Context
from ..store import Store
from ..store.engine import now_ms
from .blobs import CHUNK, blob_store
from .queries import uploads as upload_queries

log = logging.getLogger("casework.support.transfer")

LINK_SECRET = "support-attachment-links"
PREFIX = "/_casework/support"
TRANSFER_PATHS = (PREFIX + "/uploads/", PREFIX + "/attachments/")  # presigned URLs live here
EXPIRES, KEY, SIGNATURE = "X-Casework-Expires", "X-Casework-Key", "X-Casework-Signature"
# ASCII digits only: str.isdigit() admits "²", and int() refuses more than 4,300 digits.
_EXPIRES = re.compile(r"[0-9]{1,15}")
_PART = re.compile(r"[0-9]{1,9}")
_KEY_ID = re.compile(r"[\x21-\x7e]{1,128}")
_SIGNATURE = re.compile(r"[0-9a-f]{64}")
NOT_READY = "attachment-not-ready"
SWEEP_BATCH = 100

def current_origin(ctx: Context) -> str:
    """Where the client reached us; the configured listen address when unknown."""
    return ctx.origin or f"http://{ctx.settings.host}:{ctx.settings.port}"


def part_path(upload_id: str, part_index: int) -> str:
    return f"{PREFIX}/uploads/{upload_id}/parts/{part_index}"


def attachment_path(attachment_id: str) -> str:
    return f"{PREFIX}/attachments/{attachment_id}"


def _signature(secret: str, method: str, path: str, expires_at: int, key_id: str) -> str:
    message = f"{method}\n{path}\n{expires_at}\n{key_id}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def presign(secret: str, origin: str, method: str, path: str, expires_at: int,
            key_id: str) -> str:
    """A URL that allows ``method`` on ``path`` until ``expires_at`` (epoch ms) while the
    access key ``key_id`` exists, nothing else."""
    query = urlencode({EXPIRES: expires_at, KEY: key_id,
                       SIGNATURE: _signature(secret, method, path, expires_at, key_id)})
    return f"{origin}{path}?{query}"


def _media_type(file_name: str) -> str:
    """A download's Content-Type, from the file name's extensions alone: ``guess_type`` reads
    a name such as ``data:text/x,y`` as a data URL and returns what it says, any text."""
    extensions = "".join(PurePosixPath(file_name).suffixes)
    return mimetypes.guess_type("attachment" + extensions)[0] or "application/octet-stream"


def _s3_error(status: int, code: str, message: str) -> Response:
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
            f"<Message>{escape(message)}</Message></Error>")
    return Response(body, status_code=status, media_type="application/xml")


def _key_gone() -> Response:
    return _s3_error(403, "InvalidAccessKeyId", "The AWS Access Key Id you provided does not "
                     "exist in our records.")


def _no_such_upload() -> Response:
    return _s3_error(404, "NoSuchUpload", "The specified upload does not exist, has expired "
                     "or is no longer accepting parts.")


class Transfers:
    """The presigned-URL endpoints, and the sweeper that deletes expired uploads' files."""

    def __init__(self, settings: Settings, store: Store):
        self.settings = settings
        self.store = store
        self.blobs = blob_store(settings.data_dir)
        self.secret = store.secret(LINK_SECRET)
        # Temporary part files of uploads cut short by a crash or SIGKILL.
        swept = sweep_temporary_parts(self.blobs.root)
        if swept:
            log.info("removed %d abandoned temporary part file(s)", swept)
        self._stop = threading.Event()
        # Expired uploads are noticed by the handlers at once; the sweeper only reclaims
        # disk, often enough that short test lifetimes are seen to clean up too.
        self.sweep_interval = max(1.0, min(60.0, settings.upload_ttl / 2))
        self._sweeper = threading.Thread(target=self._sweep_forever, name="upload-sweeper",
                                         daemon=True)
        self._sweeper.start()

    @staticmethod
    def refusal(status: int, method: str) -> Response:
        """The S3-shaped answer to a transfer URL no route matches (404) or a method it does
        not take (405)."""
        if status == 405:
            return _s3_error(405, "MethodNotAllowed",
                             f"The specified method is not allowed against this resource: "
                             f"{method}.")
        return _s3_error(404, "NoSuchKey", "The specified key does not exist.")

    def routes(self) -> list[Route]:
        """The Starlette routes to mount next to ``/_casework/health``."""
        return [
            Route(PREFIX + "/uploads/{upload_id}/parts/{part_index}", self.put_part,
                  methods=["PUT"]),
            Route(PREFIX + "/attachments/{attachment_id}", self.get_attachment,
                  methods=["GET"]),
        ]

    def close(self) -> None:
        """Stop the sweeper."""
        self._stop.set()

    def _check_signature(self, request: Request) -> Response | str:
        """The refusal of a URL that is not one we signed (or has expired); else its key id."""
        expires = request.query_params.get(EXPIRES, "")
        key_id = request.query_params.get(KEY, "")
        signature = request.query_params.get(SIGNATURE, "")
        if not (_EXPIRES.fullmatch(expires) and _KEY_ID.fullmatch(key_id)
                and _SIGNATURE.fullmatch(signature)):
            return _s3_error(403, "AccessDenied", "Query-string authentication requires the "
                             f"{EXPIRES}, {KEY} and {SIGNATURE} parameters.")
        expected = _signature(self.secret, request.method, request.url.path, int(expires),
                              key_id)
        if not hmac.compare_digest(expected, signature):
            return _s3_error(403, "SignatureDoesNotMatch", "The request signature we calculated "
                             "does not match the signature you provided.")
        if int(expires) <= now_ms():
            return _s3_error(403, "AccessDenied", "Request has expired")
        return key_id

    # --- PUT of one part -------------------------------------------------------------------

    def _open_upload(self, upload_id: str, part_index: int, key_id: str):
        """The upload if it still takes parts, as ``(row, expected part size)``; else None;
        the refusal if the key that signed the URL is gone."""
        with self.store.transaction(write=False) as conn:
            account_id = upload_queries.key_account(conn, key_id)
            row = upload_queries.find_upload_any_account(conn, upload_id)
        if account_id is None:
            return _key_gone()
        if (row is None or row.account_id != account_id or row.status != NOT_READY
                or row.attachment_id is not None or row.expires_at <= now_ms()
                or not 1 <= part_index <= row.total_parts):
            return None
        last = row.size - row.part_size * (row.total_parts - 1)
        return row, (row.part_size if part_index < row.total_parts else last)

    def _commit_part(self, upload_id: str, part_index: int, file_name: str, size: int,
                     etag: str) -> bool:
        """Point the part at its new file, if the upload still takes parts."""
        with self.store.transaction() as conn:
            row = upload_queries.find_upload_any_account(conn, upload_id, lock=True)
            now = now_ms()
            if (row is None or row.status != NOT_READY or row.attachment_id is not None
                    or row.expires_at <= now):
                return False
            previous = upload_queries.record_part(conn, upload_id, part_index, size=size,
                                                  etag=etag, file_name=file_name, now=now)
        if previous:
            # Only after the commit: until then the old file was the part of record.
            self.blobs.remove_file(row.storage_key, previous)
        return True

    async def put_part(self, request: Request) -> Response:
        """Store one part, streamed to disk; answer its quoted MD5 as ``ETag``."""
        key_id = self._check_signature(request)
        if isinstance(key_id, Response):
            return key_id
        upload_id = request.path_params["upload_id"]
        if not _PART.fullmatch(request.path_params["part_index"]):
            return _s3_error(400, "InvalidArgument", "Part number must be an integer.")
        part_index = int(request.path_params["part_index"])
        found = await to_thread.run_sync(self._open_upload, upload_id, part_index, key_id)
        if found is None:
            return _no_such_upload()
        if isinstance(found, Response):
            return found
        row, expected = found
        declared = request.headers.get("content-length")
        if declared is not None and declared != str(expected):
            code = "EntityTooLarge" if declared.isdigit() and int(declared) > expected \
                else "EntityTooSmall"
            return _s3_error(400, code, f"Part {part_index} must be exactly {expected} bytes; "
                             f"the request declares {declared}.")
        content_md5 = request.headers.get("content-md5")
        writer = await to_thread.run_sync(self.blobs.part_writer, row.storage_key, part_index)
        try:
            buffer = bytearray()
            async for chunk in request.stream():
                if writer.size + len(buffer) + len(chunk) > expected:
                    await to_thread.run_sync(writer.abort)
                    return _s3_error(400, "EntityTooLarge",
                                     f"Part {part_index} must be exactly {expected} bytes.")
                buffer += chunk
                if len(buffer) >= CHUNK:
                    data, buffer = buffer, bytearray()
                    await to_thread.run_sync(writer.write, data)
            if buffer:
                await to_thread.run_sync(writer.write, buffer)
            if writer.size != expected:
                await to_thread.run_sync(writer.abort)
                return _s3_error(400, "IncompleteBody", f"Part {part_index} must be exactly "
                                 f"{expected} bytes; {writer.size} were sent.")
            etag = await to_thread.run_sync(writer.finish)
        except ClientDisconnect:
            await to_thread.run_sync(writer.abort)
            return _s3_error(400, "IncompleteBody", "The client went away mid-part.")
        except BaseException:
            await to_thread.run_sync(writer.abort)
            raise
        if content_md5 is not None and not _md5_matches(content_md5, etag):
            await to_thread.run_sync(self.blobs.remove_file, row.storage_key, writer.name)
            return _s3_error(400, "BadDigest", "The Content-MD5 you specified did not match "
                             "what we received.")
        stored = await to_thread.run_sync(self._commit_part, upload_id, part_index,
                                          writer.name, writer.size, etag)
        if not stored:
            await to_thread.run_sync(self.blobs.remove_file, row.storage_key, writer.name)
            return _no_such_upload()
        return Response(status_code=200, headers={"ETag": f'"{etag}"'})

    # --- GET of an attachment --------------------------------------------------------------

    def _find_attachment(self, attachment_id: str, key_id: str):
        with self.store.transaction(write=False) as conn:
            account_id = upload_queries.key_account(conn, key_id)
            if account_id is None:
                return _key_gone(), None
            meta = upload_queries.find_attachment_meta(conn, account_id, attachment_id)
            if meta is None:
                return None, None
            if meta.upload_id is None:
                return meta, upload_queries.attachment_data(conn, attachment_id)
            return meta, upload_queries.part_files(conn, meta.upload_id)

    async def get_attachment(self, request: Request) -> Response:
        """Stream an attachment: a large one from its part files, a small one from the database."""
        key_id = self._check_signature(request)
        if isinstance(key_id, Response):
            return key_id
        meta, content = await to_thread.run_sync(
            self._find_attachment, request.path_params["attachment_id"], key_id)
        if isinstance(meta, Response):
            return meta
        if meta is None:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        headers = {
            "Content-Length": str(meta.size),
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(meta.file_name)}",
        }
        media_type = _media_type(meta.file_name)
        if meta.upload_id is None:
            return Response(content, headers=headers, media_type=media_type)
        # A sync iterator: Starlette pulls each 1 MiB chunk in a worker thread.
        chunks = self.blobs.read_chunks(meta.storage_key, content)
        return StreamingResponse(chunks, headers=headers, media_type=media_type)

    # --- reclaiming disk -------------------------------------------------------------------

    def sweep(self) -> int:
        """Delete expired, unattached uploads and their files; returns how many went."""
        gone = 0
        while True:
            # Look first without the write lock: most sweeps find nothing to do.
            with self.store.transaction(write=False) as conn:
                if not upload_queries.expired_uploads(conn, now_ms(), 1):
                    return gone
            with self.store.transaction() as conn:
                rows = upload_queries.expired_uploads(conn, now_ms(), SWEEP_BATCH)
                upload_queries.delete_uploads(conn, [row.upload_id for row in rows])
            # Files go after the commit: a crash in between leaves files without rows (found
            # by the orphan scan at start-up), never rows without files.
            for row in rows:
                self.blobs.remove_upload(row.storage_key)
            gone += len(rows)
            if len(rows) < SWEEP_BATCH:
                return gone

    def remove_orphans(self) -> int:
        """Delete upload directories that no upload row names (left by a crash mid-sweep)."""
        root = self.blobs.root
        if not root.is_dir():
            return 0
        names = [path.name for path in root.iterdir() if path.is_dir()]
        removed = 0
        for start in range(0, len(names), 500):
            batch = names[start:start + 500]
            with self.store.transaction(write=False) as conn:
                known = upload_queries.known_storage_keys(conn, batch)
            for name in batch:
                if name not in known:
                    try:
                        self.blobs.remove_upload(name)
                        removed += 1
                    except ValueError:
                        log.warning("ignoring unexpected directory %s", root / name)
        return removed

    def _sweep_forever(self) -> None:
        try:
            self.remove_orphans()
        except Exception:
            log.exception("orphan scan failed")
        while True:
            try:
                self.sweep()
            except Exception:
                log.exception("upload sweep failed; retrying later")
            if self._stop.wait(self.sweep_interval):
                return


def _md5_matches(content_md5: str, etag: str) -> bool:
    try:
        return b64decode(content_md5, validate=True).hex() == etag
    except (BinasciiError, ValueError):
        return False


def expires_ms(now: int, seconds: int, cap: int | None = None) -> int:
    """``now`` plus ``seconds``, no later than ``cap`` (all epoch ms)."""
    at = now + seconds * 1000
    return at if cap is None else min(at, cap)
