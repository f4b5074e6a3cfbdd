"""Related items of cases, and the contact links that ListCasesForContact reads."""

from __future__ import annotations

import orjson
from sqlalchemy import Connection, Integer, Select, bindparam, delete, func, insert, select, update

from ...store.prepared import Inserter, Prepared
from ..tables import cases, contact_links, related_items
from .search import search_key


def _row(row) -> dict:
    return {"seq": row.seq, "id": row.related_item_id, "type": row.type,
            "content": orjson.loads(row.content),
            "created_by": orjson.loads(row.created_by) if row.created_by else None,
            "last_updated_user": (orjson.loads(row.last_updated_user)
                                  if row.last_updated_user else None),
            "association_time": row.association_time}


def for_case(conn: Connection, case_seq: int) -> list[dict]:
    """Every related item of a case, newest first (a case holds at most a few hundred)."""
    rows = conn.execute(select(related_items).where(related_items.c.case_seq == case_seq)
                        .order_by(related_items.c.seq.desc()))
    return [_row(row) for row in rows]


def find(conn: Connection, case_seq: int, related_item_id: str) -> dict | None:
    """One related item of a case, or None."""
    row = conn.execute(select(related_items).where(
        related_items.c.case_seq == case_seq,
        related_items.c.related_item_id == related_item_id)).first()
    return _row(row) if row else None


# By the case's domain and id rather than its seq, so that the count can travel with the
# statement that locks the case (CreateRelatedItem): it runs after the lock, on a snapshot of
# its own, and sees every item the lock waited for. For the types with a quota of their own;
# the case's row counts all its items (``related_item_count``).
_COUNT_OF_TYPE = Prepared(
    select(func.count())
    .select_from(related_items.join(cases, cases.c.seq == related_items.c.case_seq))
    .where(cases.c.domain_id == bindparam("domain_id"), cases.c.case_id == bindparam("case_id"),
           related_items.c.type == bindparam("type")))


def count_of_type(conn: Connection, domain_id: str, case_id: str, item_type: str) -> int:
    """How many related items of ``item_type`` a case has."""
    return _COUNT_OF_TYPE.scalar(conn, {"domain_id": domain_id, "case_id": case_id,
                                        "type": item_type})


_INSERT_ITEM = Inserter(related_items, returning=related_items.c.seq)
_COUNT_ITEMS = Prepared(update(cases).where(cases.c.seq == bindparam("case_seq")).values(
    related_item_count=cases.c.related_item_count + bindparam("added", type_=Integer)))


def _count(conn: Connection, case_seq: int, added: int) -> None:
    """Keep the case's ``related_item_count`` (with the next statement: nothing reads it)."""
    _COUNT_ITEMS.defer(conn, {"case_seq": case_seq, "added": added})


def insert_item(conn: Connection, row: dict, *, number: bool = True) -> int | None:
    """Store a new related item; returns its sequence number, or, when ``number`` is False,
    nothing: on PostgreSQL the INSERT then travels with the next statement or the COMMIT."""
    row = {**row, "content": orjson.dumps(row["content"]).decode(),
           "search_key": search_key(row["type"], row["content"]),
           "created_by": orjson.dumps(row["created_by"]).decode() if row["created_by"] else None}
    _count(conn, row["case_seq"], 1)
    if not number:
        _INSERT_ITEM.defer(conn, row)
        return None
    return _INSERT_ITEM(conn, row)


def move_item(conn: Connection, item_seq: int, from_case_seq: int, to_case_seq: int) -> None:
    """Give a related item to another case of the domain."""
    _count(conn, from_case_seq, -1)
    _count(conn, to_case_seq, 1)
    conn.execute(update(related_items).where(related_items.c.seq == item_seq)
                 .values(case_seq=to_case_seq))


def save_content(conn: Connection, seq: int, content: dict, user: dict | None) -> None:
    """Replace an item's content and its last updater."""
    conn.execute(update(related_items).where(related_items.c.seq == seq).values(
        content=orjson.dumps(content).decode(),
        last_updated_user=orjson.dumps(user).decode() if user else None))


def delete_item(conn: Connection, seq: int, case_seq: int) -> None:
    """Remove a related item of the case ``case_seq``."""
    _count(conn, case_seq, -1)
    conn.execute(delete(related_items).where(related_items.c.seq == seq))


def link_contact(conn: Connection, domain_id: str, contact_arn: str, case_seq: int,
                 link_seq: int) -> None:
    """Record that ``case_seq`` is (newest) linked to the contact by related item ``link_seq``."""
    conn.execute(delete(contact_links).where(
        contact_links.c.domain_id == domain_id, contact_links.c.contact_arn == contact_arn,
        contact_links.c.case_seq == case_seq))
    conn.execute(insert(contact_links).values(domain_id=domain_id, contact_arn=contact_arn,
                                              case_seq=case_seq, link_seq=link_seq))


def unlink_contact(conn: Connection, domain_id: str, contact_arn: str, case_seq: int,
                   remaining_seq: int | None) -> None:
    """After a Contact item is deleted: point the link at the newest remaining one, or drop it."""
    if remaining_seq is None:
        conn.execute(delete(contact_links).where(
            contact_links.c.domain_id == domain_id, contact_links.c.contact_arn == contact_arn,
            contact_links.c.case_seq == case_seq))
    else:
        link_contact(conn, domain_id, contact_arn, case_seq, remaining_seq)


def cases_for_contact_query() -> Select:
    """The listing statement (kept apart so that a test can check its query plan).

    Parameters: ``domain_id``, ``contact_arn``, ``before_link`` (the keyset cursor; the first
    page passes a bound above every link) and ``limit``.
    """
    return (select(contact_links.c.link_seq, cases.c.case_id, cases.c.template_id)
            .join(cases, cases.c.seq == contact_links.c.case_seq)
            .where(contact_links.c.domain_id == bindparam("domain_id"),
                   contact_links.c.contact_arn == bindparam("contact_arn"),
                   contact_links.c.link_seq < bindparam("before_link", type_=Integer))
            .order_by(contact_links.c.link_seq.desc()).limit(bindparam("limit", type_=Integer)))


_CASES_FOR_CONTACT = Prepared(cases_for_contact_query())


def cases_for_contact(conn: Connection, domain_id: str, contact_arn: str,
                      before_link: int | None, limit: int) -> list:
    """Cases linked to the contact, most recent link first: one index range scan."""
    return _CASES_FOR_CONTACT.all(conn, {
        "domain_id": domain_id, "contact_arn": contact_arn, "limit": limit,
        "before_link": 2**31 - 1 if before_link is None else before_link})  # INTEGER column
