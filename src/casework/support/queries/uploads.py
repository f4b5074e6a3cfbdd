"""The SQL of large-file uploads: every read and write of uploads and their parts."""

from __future__ import annotations

from sqlalchemy import Connection, delete, func, insert, select, update

from ...store.tables import access_keys, server_secrets
from ..tables import attachment_sets, attachments, upload_parts, uploads


def server_secret(conn: Connection, name: str) -> str | None:
    """A server secret made at start-up by ``Store.secret``, read in the caller's transaction."""
    return conn.scalar(select(server_secrets.c.value).where(server_secrets.c.name == name))


def key_account(conn: Connection, access_key_id: str) -> str | None:
    """The account of an access key; None once the key is deleted (presigned URLs die too)."""
    return conn.scalar(select(access_keys.c.account_id)
                       .where(access_keys.c.access_key_id == access_key_id))


def insert_upload(conn: Connection, row: dict) -> None:
    """Store a new upload and one empty row per part, to be filled by PUTs and reports."""
    conn.execute(insert(uploads).values(**row))
    conn.execute(insert(upload_parts), [
        {"upload_id": row["upload_id"], "part_index": index}
        for index in range(1, row["total_parts"] + 1)
    ])


def _locked(query, lock: bool):
    # Row locks serialize a part's PUT with the completion check on PostgreSQL; SQLite
    # ignores FOR UPDATE because its write transactions are serialized already.
    return query.with_for_update() if lock else query


def find_upload(conn: Connection, account_id: str, upload_id: str, *, lock: bool = False):
    """The account's upload row, or None; ``lock`` holds it until the transaction ends."""
    return conn.execute(_locked(
        select(uploads).where(uploads.c.upload_id == upload_id, uploads.c.account_id == account_id),
        lock)).first()


def find_upload_any_account(conn: Connection, upload_id: str, *, lock: bool = False):
    """The upload row whoever owns it (presigned URLs carry their own authorization)."""
    return conn.execute(_locked(select(uploads).where(uploads.c.upload_id == upload_id),
                                lock)).first()


def find_uploads(conn: Connection, account_id: str, upload_ids: list[str]) -> dict:
    """``{upload id: row}`` for those of ``upload_ids`` the account owns, each locked until
    the transaction ends (in one fixed order, so that two requests attaching the same uploads
    wait for each other rather than deadlock; the second then finds them attached)."""
    rows = conn.execute(
        select(uploads).where(uploads.c.account_id == account_id,
                              uploads.c.upload_id.in_(upload_ids))
        .order_by(uploads.c.upload_id).with_for_update(key_share=True))
    return {row.upload_id: row for row in rows}


def parts_of(conn: Connection, upload_id: str) -> list:
    """Every part row of the upload, in part order."""
    return conn.execute(
        select(upload_parts).where(upload_parts.c.upload_id == upload_id)
        .order_by(upload_parts.c.part_index)
    ).fetchall()


def first_part_not_uploaded(conn: Connection, upload_id: str) -> int | None:
    """The lowest part index that has not been PUT yet, or None when all have."""
    return conn.scalar(
        select(func.min(upload_parts.c.part_index))
        .where(upload_parts.c.upload_id == upload_id, upload_parts.c.etag.is_(None)))


def report_parts(conn: Connection, upload_id: str, reported: dict[int, str]) -> None:
    """Record the ETags a client reports for parts (CompleteAttachmentUpload)."""
    for index, etag in reported.items():
        conn.execute(update(upload_parts)
                     .where(upload_parts.c.upload_id == upload_id,
                            upload_parts.c.part_index == index)
                     .values(reported_etag=etag))


def count_reported_parts(conn: Connection, upload_id: str) -> int:
    return conn.scalar(
        select(func.count()).select_from(upload_parts)
        .where(upload_parts.c.upload_id == upload_id, upload_parts.c.reported_etag.is_not(None)))


def set_upload_status(conn: Connection, upload_id: str, status: str) -> None:
    conn.execute(update(uploads).where(uploads.c.upload_id == upload_id).values(status=status))


def record_part(conn: Connection, upload_id: str, part_index: int, *, size: int, etag: str,
                file_name: str, now: int) -> str | None:
    """Point a part at its newly written file; returns the file it replaces, if any."""
    previous = conn.scalar(
        select(upload_parts.c.file_name)
        .where(upload_parts.c.upload_id == upload_id, upload_parts.c.part_index == part_index))
    conn.execute(update(upload_parts)
                 .where(upload_parts.c.upload_id == upload_id,
                        upload_parts.c.part_index == part_index)
                 .values(size=size, etag=etag, file_name=file_name, uploaded_at=now))
    return previous


def attachment_set_of_communication(conn: Connection, communication_seq: int):
    """The attachment set a communication consumed, or None."""
    return conn.execute(
        select(attachment_sets.c.attachment_set_id)
        .where(attachment_sets.c.communication_seq == communication_seq)
    ).first()


def next_attachment_position(conn: Connection, set_id: str) -> int:
    return conn.scalar(
        select(func.coalesce(func.max(attachments.c.position) + 1, 0))
        .where(attachments.c.attachment_set_id == set_id))


def mark_attached(conn: Connection, upload_id: str, attachment_id: str) -> bool:
    """Tie the upload to its attachment; False if another request attached it first."""
    return conn.execute(
        update(uploads)
        .where(uploads.c.upload_id == upload_id, uploads.c.attachment_id.is_(None))
        .values(attachment_id=attachment_id)
    ).rowcount == 1


def find_attachment_meta(conn: Connection, account_id: str | None, attachment_id: str):
    """``(file_name, size, upload_id, storage_key)`` of an attachment; None if unknown.

    ``upload_id`` is None for attachments added with AddAttachmentsToSet (their bytes are in
    the database); ``account_id`` None means any account (presigned download URLs).
    """
    query = (
        select(attachments.c.file_name, attachments.c.size, uploads.c.upload_id,
               uploads.c.storage_key)
        .outerjoin(uploads, uploads.c.attachment_id == attachments.c.attachment_id)
        .where(attachments.c.attachment_id == attachment_id)
    )
    if account_id is not None:
        query = query.where(attachments.c.account_id == account_id)
    return conn.execute(query).first()


def attachment_data(conn: Connection, attachment_id: str) -> bytes:
    """The bytes of a small attachment (at most 5 MB, kept in the database)."""
    return conn.scalar(select(attachments.c.data)
                       .where(attachments.c.attachment_id == attachment_id))


def part_files(conn: Connection, upload_id: str) -> list[str]:
    """The file names of an upload's parts, in part order."""
    return list(conn.scalars(
        select(upload_parts.c.file_name).where(upload_parts.c.upload_id == upload_id)
        .order_by(upload_parts.c.part_index)))


def expired_uploads(conn: Connection, now: int, limit: int) -> list:
    """Unattached uploads whose time is up: ``(upload_id, storage_key)`` rows."""
    return conn.execute(
        select(uploads.c.upload_id, uploads.c.storage_key)
        .where(uploads.c.attachment_id.is_(None), uploads.c.expires_at <= now)
        .limit(limit)
    ).fetchall()


def delete_uploads(conn: Connection, upload_ids: list[str]) -> None:
    """Forget uploads and their parts (their files are removed after the commit)."""
    if not upload_ids:
        return
    conn.execute(delete(upload_parts).where(upload_parts.c.upload_id.in_(upload_ids)))
    conn.execute(delete(uploads).where(uploads.c.upload_id.in_(upload_ids)))


def known_storage_keys(conn: Connection, keys: list[str]) -> set[str]:
    """Those of ``keys`` that some upload row names."""
    return set(conn.scalars(select(uploads.c.storage_key).where(uploads.c.storage_key.in_(keys))))
