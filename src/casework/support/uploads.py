"""Large-file attachments: GetAttachmentUploadLinks, CompleteAttachmentUpload,
DescribeAttachmentUploadStatus, GetAttachmentDownloadLink, and ``uploadIds`` on CreateCase and
AddCommunicationToCase.

The workflow is AWS's: start an upload (file name and size) and get presigned part URLs,
PUT each part and keep its ``ETag``, report the parts with CompleteAttachmentUpload, then
name the upload in ``uploadIds``. The URLs are Casework's own (see :mod:`.transfer`); the
handlers here only touch the database, so a dry run, which rolls the transaction back,
leaves nothing behind: no file is written or removed by any handler.

Choices where AWS is silent (each is a setting where a number is involved):

* **Parts**: ``partSizeBytes`` is ``--upload-part-size`` (10 MiB by default, at most the
  model's 100 MB), or the file size when the file is smaller; parts 1..n-1 must be exactly
  that size and the last one the rest, checked as each part arrives.
* **Expiry**: an upload that is not attached to a communication expires
  ``--upload-ttl`` seconds (24 h) after it starts; then every operation answers
  ``UploadIdNotFound`` and its files are deleted. Presigned URLs expire after
  ``--attachment-link-ttl`` seconds (1 h), upload URLs no later than their upload.
* **Default range**: without ``uploadRange``, URLs start at the first part not uploaded yet
  (so a client can resume), ten at most.
* **Completion**: reported parts are recorded as they come; once every part is reported the
  upload is checked at once (our "asynchronous processing" is immediate): each part must be
  uploaded and its reported ETag (quoted or not) must be the MD5 of what we stored, else the
  status becomes ``failed``, which is final (start a new upload). Reporting again after
  ``attachment-ready`` or ``failed`` changes nothing and answers the status.
* **Single use**: an upload is attached once, like an attachment set. Afterwards it can still
  be described (``attachment-ready``) but not continued, completed or attached again
  (``UploadIdNotFound``). ``GetAttachmentUploadLinks`` on an upload that is no longer in
  progress also answers ``UploadIdNotFound``, as S3 answers NoSuchUpload for part uploads to
  a finished multipart upload.
* **Not ready**: naming an upload in ``uploadIds`` before it is ``attachment-ready`` is a
  ``ValidationException``; an unknown, foreign, expired or used one is ``UploadIdNotFound``
  (400; the model lists that error only on the upload operations, but SDKs know it for the
  whole service).
* **Attachment sets**: an attached upload is an attachment of the communication's
  attachment set, after any small attachments it has, so it appears in ``attachments`` of
  DescribeCommunications and DescribeCases like any other, and in ``attachmentSet`` too
  when it is 5 MB or smaller (the model: ``attachmentSet`` leaves out larger files).
* **Upload ids** are ``upload-`` and 64 URL-safe characters (384 random bits).
* **Upload URLs** use the scheme and host the client used; the model's ``HttpsUrl`` pattern
  wants https and a domain name, which a local server on ``http://127.0.0.1`` cannot have.
"""

from __future__ import annotations

import math
import secrets

from ..handlers import Context
from ..wire.errors import ServiceError
from . import registry
from .attachments import new_attachment_id, new_set_id
from .blobs import new_storage_key
from .queries import cases as case_queries
from .queries import uploads as upload_queries
from .times import expiry
from .transfer import LINK_SECRET, attachment_path, current_origin, part_path, presign

MAX_URLS_PER_CALL = 10  # the model: at most 10 upload URLs per call
NOT_READY, READY, FAILED = "attachment-not-ready", "attachment-ready", "failed"


def _new_upload_id() -> str:
    return f"upload-{secrets.token_urlsafe(48)}"


def _validation(message: str) -> ServiceError:
    return ServiceError("ValidationException", f"1 validation error detected: {message}", 400)


def _upload_not_found(upload_id: str, why: str = "was not found") -> ServiceError:
    return ServiceError("UploadIdNotFound", f"Upload ID {upload_id} {why}.", 400)


def _load_upload(ctx: Context, upload_id: str, *, attached_ok: bool = False,
                 lock: bool = False):
    """The caller's upload if it is still known; ``UploadIdNotFound`` otherwise."""
    row = upload_queries.find_upload(ctx.conn, ctx.account_id, upload_id, lock=lock)
    if row is None or (row.attachment_id is None and row.expires_at <= ctx.now):
        raise _upload_not_found(upload_id)
    if row.attachment_id is not None and not attached_ok:
        raise _upload_not_found(upload_id, "was already attached to a case communication")
    return row


def _link(ctx: Context, method: str, path: str, expires_at: int) -> str:
    secret = upload_queries.server_secret(ctx.conn, LINK_SECRET)
    return presign(secret, current_origin(ctx), method, path, expires_at,
                   ctx.access_key_id)


def _new_upload(ctx: Context, params: dict):
    size = params.get("fileSizeBytes")
    if size is None:
        raise _validation("Value null at 'fileSizeBytes' failed to satisfy constraint: Member "
                          "must not be null when uploadId is not provided")
    if not params["fileName"]:
        raise _validation("Value '' at 'fileName' failed to satisfy constraint: Member must "
                          "have length greater than or equal to 1")
    part_size = min(ctx.settings.upload_part_size, size)
    row = {
        "upload_id": _new_upload_id(),
        "account_id": ctx.account_id,
        "file_name": params["fileName"],
        "size": size,
        "part_size": part_size,
        "total_parts": math.ceil(size / part_size),
        "status": NOT_READY,
        "storage_key": new_storage_key(),
        "created_at": ctx.now,
        "expires_at": ctx.now + ctx.settings.upload_ttl * 1000,
        "attachment_id": None,
    }
    upload_queries.insert_upload(ctx.conn, row)
    return upload_queries.find_upload(ctx.conn, ctx.account_id, row["upload_id"])


def _part_range(ctx: Context, row, params: dict, resumed: bool) -> tuple[int, int]:
    """The half-open range of part indexes to sign URLs for."""
    total = row.total_parts
    wanted = params.get("uploadRange")
    if wanted is None:
        start = (upload_queries.first_part_not_uploaded(ctx.conn, row.upload_id) or 1) \
            if resumed else 1
        return start, min(start + MAX_URLS_PER_CALL, total + 1)
    start = wanted["startIndex"]
    if start > total:
        raise _validation(f"Value '{start}' at 'uploadRange.startIndex' failed to satisfy "
                          f"constraint: Member must be less than or equal to {total}, the "
                          "upload's totalParts")
    end = wanted.get("endIndex")
    if end is None:
        return start, min(start + MAX_URLS_PER_CALL, total + 1)
    if end <= start:
        raise _validation(f"Value '{end}' at 'uploadRange.endIndex' failed to satisfy "
                          "constraint: Member must be greater than startIndex")
    if end - start > MAX_URLS_PER_CALL:
        raise _validation(f"Value '{end}' at 'uploadRange.endIndex' failed to satisfy "
                          f"constraint: endIndex - startIndex must be at most {MAX_URLS_PER_CALL}")
    return start, min(end, total + 1)


@registry.operation("GetAttachmentUploadLinks", writes=True)
def get_attachment_upload_links(ctx: Context, params: dict) -> dict:
    """Start an upload (``fileName`` + ``fileSizeBytes``) or continue one (``uploadId``)."""
    upload_id = params.get("uploadId")
    if upload_id is None:
        row = _new_upload(ctx, params)
    else:
        row = _load_upload(ctx, upload_id)
        if row.status != NOT_READY:
            raise _upload_not_found(upload_id, f"is no longer in progress (it is {row.status})")
        size = params.get("fileSizeBytes")
        if size is not None and size != row.size:
            raise _validation(f"Value '{size}' at 'fileSizeBytes' failed to satisfy constraint: "
                              f"Member must equal the size the upload started with, {row.size}")
    start, end = _part_range(ctx, row, params, resumed=upload_id is not None)
    expires_at = min(ctx.now + ctx.settings.attachment_link_ttl * 1000, row.expires_at)
    result = {
        "uploadId": row.upload_id,
        "partSizeBytes": row.part_size,
        "totalParts": row.total_parts,
        "uploadUrls": [
            {"url": _link(ctx, "PUT", part_path(row.upload_id, index), expires_at),
             "partIndex": index, "expiryDate": expiry(expires_at)}
            for index in range(start, end)
        ],
    }
    if end <= row.total_parts:
        result["nextIndex"] = end
    return result


def _plain_etag(etag: str) -> str:
    # S3 clients keep the ETag header as sent, quotes included; accept it either way.
    return etag.strip().strip('"').lower()


@registry.operation("CompleteAttachmentUpload", writes=True)
def complete_attachment_upload(ctx: Context, params: dict) -> dict:
    """Record reported parts; once all are in, check them and settle the upload's status."""
    row = _load_upload(ctx, params["uploadId"], lock=True)
    reported: dict[int, str] = {}
    for position, item in enumerate(params["completedUploads"], 1):
        index = item["partIndex"]
        if not 1 <= index <= row.total_parts:
            raise _validation(
                f"Value '{index}' at 'completedUploads.{position}.member.partIndex' failed to "
                f"satisfy constraint: Member must be between 1 and {row.total_parts}, the "
                "upload's totalParts")
        reported[index] = item["eTag"]
    if row.status != NOT_READY:
        return {"uploadStatus": row.status}
    upload_queries.report_parts(ctx.conn, row.upload_id, reported)
    if upload_queries.count_reported_parts(ctx.conn, row.upload_id) < row.total_parts:
        return {"uploadStatus": NOT_READY}
    parts = upload_queries.parts_of(ctx.conn, row.upload_id)
    intact = all(part.etag is not None and _plain_etag(part.reported_etag) == part.etag
                 for part in parts)
    status = READY if intact else FAILED
    upload_queries.set_upload_status(ctx.conn, row.upload_id, status)
    return {"uploadStatus": status}


@registry.operation("DescribeAttachmentUploadStatus", writes=False)
def describe_attachment_upload_status(ctx: Context, params: dict) -> dict:
    """Status, file name and how many of the parts have been reported complete."""
    row = _load_upload(ctx, params["uploadId"], attached_ok=True)
    completed = (row.total_parts if row.status == READY
                 else upload_queries.count_reported_parts(ctx.conn, row.upload_id))
    return {
        "uploadStatus": row.status,
        "fileName": row.file_name,
        "uploadProgress": {"totalParts": row.total_parts, "completedPartsCount": completed},
    }


@registry.operation("GetAttachmentDownloadLink", writes=False)
def get_attachment_download_link(ctx: Context, params: dict) -> dict:
    """A presigned GET URL for any of the caller's attachments, small or large."""
    attachment_id = params["attachmentId"]
    found = upload_queries.find_attachment_meta(ctx.conn, ctx.account_id, attachment_id)
    if found is None:
        raise ServiceError("AttachmentIdNotFound",
                           f"An attachment with the id {attachment_id} was not found.")
    expires_at = ctx.now + ctx.settings.attachment_link_ttl * 1000
    return {
        "fileName": found.file_name,
        "downloadUrl": {"url": _link(ctx, "GET", attachment_path(attachment_id), expires_at),
                        "expiryDate": expiry(expires_at)},
    }


def ready_uploads(ctx: Context, upload_ids: list[str]) -> list:
    """The caller's uploads named in ``uploadIds``, each checked ready to attach.

    Called before a case or communication is written, so a bad id fails the request first.
    """
    wanted = list(dict.fromkeys(upload_ids))  # naming an upload twice attaches it once
    if not wanted:
        return []
    found = upload_queries.find_uploads(ctx.conn, ctx.account_id, wanted)
    rows = []
    for upload_id in wanted:
        row = found.get(upload_id)
        if row is None or (row.attachment_id is None and row.expires_at <= ctx.now):
            raise _upload_not_found(upload_id)
        if row.attachment_id is not None:
            raise _upload_not_found(upload_id, "was already attached to a case communication")
        if row.status != READY:
            advice = ("Start a new upload." if row.status == FAILED else
                      "Report every part with CompleteAttachmentUpload first.")
            raise ServiceError(
                "ValidationException",
                f"Upload ID {upload_id} is not ready to attach: its status is {row.status}. "
                f"{advice}", 400)
        rows.append(row)
    return rows


def attach_uploads(ctx: Context, rows: list, communication_seq: int) -> None:
    """Make each ready upload an attachment of the new communication."""
    if not rows:
        return
    existing = upload_queries.attachment_set_of_communication(ctx.conn, communication_seq)
    if existing is not None:
        set_id = existing.attachment_set_id
        position = upload_queries.next_attachment_position(ctx.conn, set_id)
    else:
        # A set made only to hold the uploads: it is used at once, so it never expires.
        set_id = new_set_id()
        case_queries.insert_attachment_set(ctx.conn, ctx.account_id, set_id, ctx.now, ctx.now)
        case_queries.consume_attachment_set(ctx.conn, set_id, communication_seq)
        position = 0
    for offset, row in enumerate(rows):
        attachment_id = new_attachment_id()
        case_queries.insert_attachment(ctx.conn, {
            "attachment_id": attachment_id,
            "attachment_set_id": set_id,
            "account_id": ctx.account_id,
            "position": position + offset,
            "file_name": row.file_name,
            "size": row.size,
            "data": b"",  # the bytes stay in the upload's part files
        })
        if not upload_queries.mark_attached(ctx.conn, row.upload_id, attachment_id):
            # A concurrent request attached it first (PostgreSQL; SQLite serializes writers).
            raise _upload_not_found(row.upload_id, "was already attached to a case communication")
