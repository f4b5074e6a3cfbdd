"""Attachment sets: AddAttachmentsToSet, DescribeAttachment, and their use by communications."""

from __future__ import annotations

import secrets

from ..handlers import Context
from ..wire.errors import ServiceError
from . import registry
from .blobs import blob_store
from .limits import check_attachment_set_creation
from .queries import cases as case_queries
from .queries import uploads as upload_queries
from .times import expiry

MAX_ATTACHMENTS_PER_SET = 3
MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024
STALE_AFTER_MS = 24 * 3600 * 1000  # expired, unused sets are forgotten a day after expiry


def new_set_id() -> str:
    # Shaped like AWS's ids (``as-<hex>-mu-<url-safe tail>``) and as unguessable.
    return f"as-{secrets.token_hex(9)[:17]}-mu-{secrets.token_urlsafe(36)}"


def new_attachment_id() -> str:
    return f"attachment-{secrets.token_urlsafe(96)}"


def open_attachment_set(ctx: Context, set_id: str):
    """The caller's unused, unexpired attachment set, or the AWS error saying why not.

    The set's row stays locked until the request ends: of two requests adding to the set, or
    using it, the second waits and then sees what the first did.
    """
    found = case_queries.find_attachment_set(ctx.conn, ctx.account_id, set_id, lock=True)
    if found is None or found.communication_seq is not None:
        raise ServiceError("AttachmentSetIdNotFound",
                           f"An attachment set with the id {set_id} was not found.")
    if found.expires_at <= ctx.now:
        raise ServiceError("AttachmentSetExpired",
                           f"The attachment set {set_id} expired at {expiry(found.expires_at)}.")
    return found


@registry.operation("AddAttachmentsToSet", writes=True)
def add_attachments_to_set(ctx: Context, params: dict) -> dict:
    new = params["attachments"]
    for item in new:
        if item.get("fileName") is None:
            raise ServiceError(
                "ValidationException",
                "1 validation error detected: Value null at 'attachments.member.fileName' "
                "failed to satisfy constraint: Member must not be null", 400)
        if len(item.get("data", b"")) > MAX_ATTACHMENT_BYTES:
            raise ServiceError(
                "AttachmentSetSizeLimitExceeded",
                f"The attachment {item['fileName']} is larger than the 5 MB an attachment may be.")
    set_id = params.get("attachmentSetId")
    if set_id is not None:
        found = open_attachment_set(ctx, set_id)
        expires_at = found.expires_at
        present = case_queries.count_attachments(ctx.conn, set_id)
    else:
        check_attachment_set_creation(ctx)
        case_queries.delete_stale_attachment_sets(ctx.conn, ctx.now - STALE_AFTER_MS)
        set_id = new_set_id()
        expires_at = ctx.now + ctx.settings.attachment_set_ttl * 1000
        case_queries.insert_attachment_set(ctx.conn, ctx.account_id, set_id, ctx.now, expires_at)
        present = 0
    if present + len(new) > MAX_ATTACHMENTS_PER_SET:
        raise ServiceError(
            "AttachmentSetSizeLimitExceeded",
            f"An attachment set holds at most {MAX_ATTACHMENTS_PER_SET} attachments; "
            f"this one would hold {present + len(new)}.")
    for position, item in enumerate(new, present):
        data = item.get("data", b"")
        case_queries.insert_attachment(ctx.conn, {
            "attachment_id": new_attachment_id(),
            "attachment_set_id": set_id,
            "account_id": ctx.account_id,
            "position": position,
            "file_name": item["fileName"],
            "size": len(data),
            "data": data,
        })
    return {"attachmentSetId": set_id, "expiryTime": expiry(expires_at)}


@registry.operation("DescribeAttachment", writes=False)
def describe_attachment(ctx: Context, params: dict) -> dict:
    attachment_id = params["attachmentId"]  # calls are counted first (casework.limits)
    file_name, data = attachment_file(ctx.conn, ctx.settings, ctx.account_id, attachment_id)
    return {"attachment": {"fileName": file_name, "data": data}}


def attachment_file(conn, settings, account_id: str, attachment_id: str) -> tuple[str, bytes]:
    """``(file name, bytes)`` of one of the account's attachments of at most 5 MB, or the AWS
    error (DescribeAttachment, and the agent console's downloads)."""
    found = case_queries.find_attachment(conn, account_id, attachment_id)
    if found is None:
        raise ServiceError("AttachmentIdNotFound",
                           f"An attachment with the id {attachment_id} was not found.")
    data = found.data
    large = upload_queries.find_attachment_meta(conn, account_id, attachment_id)
    if large.upload_id is not None:
        # Uploaded with GetAttachmentUploadLinks: the bytes are in part files on disk, and, as
        # the model documents, DescribeAttachment refuses files over 5 MB
        # (GetAttachmentDownloadLink serves any size).
        if large.size > MAX_ATTACHMENT_BYTES:
            raise ServiceError(
                "InvalidParameterValueException",
                f"The attachment {attachment_id} is larger than 5 MB. Use "
                "GetAttachmentDownloadLink to download it.", 400)
        data = blob_store(settings.data_dir).read_all(
            large.storage_key, upload_queries.part_files(conn, large.upload_id))
    return found.file_name, data
