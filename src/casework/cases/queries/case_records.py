"""Cases and their field values."""

from __future__ import annotations

from sqlalchemy import Connection, Sequence, bindparam, delete, func, select

from ...store.prepared import Inserter, Later, Prepared
from ...store.sql import RowsInserter
from ..tables import case_values, cases, contact_links, domains, related_items, tags
from . import domains as domain_queries
from . import search as search_queries

_COLUMN = {"stringValue": "string_value", "userArnValue": "string_value",
           "doubleValue": "double_value", "booleanValue": "boolean_value"}


_FIND_QUERY = select(cases).where(cases.c.domain_id == bindparam("domain_id"),
                                  cases.c.case_id == bindparam("case_id"))
_FIND = Prepared(_FIND_QUERY)
# FOR NO KEY UPDATE on PostgreSQL (SQLite renders no lock: its writers run one at a time).
_FIND_LOCKED = Prepared(_FIND_QUERY.with_for_update(key_share=True))
_FIND_BY_TOKEN = Prepared(select(cases).where(cases.c.domain_id == bindparam("domain_id"),
                                              cases.c.client_token == bindparam("client_token")))
_INSERT_CASE = Inserter(cases, returning=cases.c.seq)
# On PostgreSQL a new case is numbered before its insert, which then travels with the COMMIT.
_INSERT_NUMBERED_CASE = Inserter(cases)
# The sequence PostgreSQL made for the serial column (its own name for it: table_column_seq).
# Named, not looked up with pg_get_serial_sequence: that cost 7 µs a call, nextval 2.
_NEXT_SEQ = Prepared(select(Sequence("cases_cases_seq_seq").next_value()))
# A client token's own advisory lock (the two-key form: a key space apart from the domains').
_CLAIM_TOKEN = Prepared(select(func.pg_advisory_xact_lock(func.hashtext(bindparam("domain_id")),
                                                          func.hashtext(bindparam("token")))))
_VALUES = Prepared(select(case_values.c.field_id, case_values.c.kind, case_values.c.string_value,
                          case_values.c.double_value, case_values.c.boolean_value)
                   .where(case_values.c.case_seq == bindparam("case_seq")))
_VALUE_COLUMNS = ("case_seq", "field_id", "domain_id", "kind", "string_value", "double_value",
                  "boolean_value")


# All the values a request writes in one go (one round trip to PostgreSQL).
_INSERT_VALUES = RowsInserter(case_values, _VALUE_COLUMNS)


_DELETE_VALUES = Prepared(delete(case_values).where(
    case_values.c.case_seq == bindparam("case_seq"),
    case_values.c.field_id.in_(bindparam("field_ids", expanding=True))))


def find(conn: Connection, domain_id: str, case_id: str, *, lock: bool = False):
    """The case row, or None; ``lock`` holds it until the transaction ends.

    Every change to a case (its values, related items, merges, deletion) locks the case
    first, so that changes to one case run one at a time on PostgreSQL too (SQLite's write
    transactions already do): a quota counted, or a value read, is still true when written.
    FOR NO KEY UPDATE, so that rows referring to the case can still be added meanwhile.
    """
    return (_FIND_LOCKED if lock else _FIND).first(conn, {"domain_id": domain_id,
                                                          "case_id": case_id})


# The domain's row (what load_domain checks) with the case, if the domain has one of that id
# (what a request about one case uses of it).
_WITH_DOMAIN = (
    select(cases.c.seq, cases.c.case_id, cases.c.template_id, cases.c.created_at,
           cases.c.related_item_count, domains.c.region.label("domain_region"),
           domains.c.definitions_version.label("domain_definitions_version"))
    .where(domains.c.account_id == bindparam("account_id"),
           domains.c.domain_id == bindparam("domain_id")))
_CASE_OF_DOMAIN = ((cases.c.domain_id == domains.c.domain_id)
                   & (cases.c.case_id == bindparam("case_id")))
_FIND_WITH_DOMAIN = Prepared(_WITH_DOMAIN.select_from(domains).outerjoin(cases, _CASE_OF_DOMAIN))
# For a change to the case: the domain held as domains.WRITE holds it (``hold``, before), the
# case's row as find(lock=True) holds it. An inner join: PostgreSQL locks no row on the
# nullable side of an outer join (SQLite renders no lock: its writers run one at a time).
_FIND_WITH_DOMAIN_LOCKED = Prepared(
    _WITH_DOMAIN.select_from(domains).join(cases, _CASE_OF_DOMAIN)
    .suffix_with("FOR NO KEY UPDATE OF cases_cases", dialect="postgresql"))


def find_with_domain(conn: Connection, account_id: str, domain_id: str, case_id: str, *,
                     lock: bool = False):
    """The account's domain and its case in one row: the case's ``seq``, ``case_id``,
    ``template_id`` and ``created_at``, the domain's ``region`` and ``definitions_version``
    prefixed ``domain_``. Without the domain, None; without the case, the case's columns are
    None, or, with ``lock`` (both held until the transaction ends), None."""
    return _find_with_domain(conn, domain_id, lock).first(
        conn, {"account_id": account_id, "domain_id": domain_id, "case_id": case_id})


def find_with_domain_later(conn: Connection, account_id: str, domain_id: str, case_id: str,
                           check, *, lock: bool = False) -> Later:
    """``check`` of :func:`find_with_domain`'s row, read with the next statement
    (``Prepared.first_later``)."""
    return _find_with_domain(conn, domain_id, lock).first_later(
        conn, {"account_id": account_id, "domain_id": domain_id, "case_id": case_id}, check)


def _find_with_domain(conn: Connection, domain_id: str, lock: bool) -> Prepared:
    """The statement that reads the domain and its case; with ``lock``, the domain's hold
    taken first (``queries.domains.hold``)."""
    if not lock:
        return _FIND_WITH_DOMAIN
    domain_queries.hold(conn, domain_id, domain_queries.WRITE)
    return _FIND_WITH_DOMAIN_LOCKED


def lock_many(conn: Connection, domain_id: str, case_ids: list[str]) -> None:
    """Lock the existing cases among ``case_ids`` in one go, in a fixed order (by seq), so
    that two requests locking overlapping cases never deadlock (batch operations)."""
    conn.execute(select(cases.c.seq).where(cases.c.domain_id == domain_id,
                                           cases.c.case_id.in_(case_ids))
                 .order_by(cases.c.seq).with_for_update(key_share=True)).all()


def claim_token_later(conn: Connection, domain_id: str, client_token: str) -> Later:
    """The case created with ``client_token`` in the domain, or None, read with the next
    statement (``Prepared.first_later``); the token stays claimed until the transaction ends.

    On PostgreSQL the claim is an advisory lock on the (domain, token) pair, taken by a
    statement of its own before the read: a concurrent request with the same token waits for
    this one to end, then reads its case (each statement reads a snapshot of its own). SQLite's
    write transactions already run one at a time."""
    if conn.dialect.name == "postgresql":
        _CLAIM_TOKEN.defer(conn, {"domain_id": domain_id, "token": client_token})
    return _FIND_BY_TOKEN.first_later(conn, {"domain_id": domain_id,
                                             "client_token": client_token})


def next_seq_later(conn: Connection) -> Later | None:
    """On PostgreSQL, a new case's sequence number, drawn with the next statement, for
    :func:`insert_case`; None on SQLite, where the insert numbers the case."""
    if conn.dialect.name != "postgresql":
        return None
    return _NEXT_SEQ.first_later(conn, {}, lambda row: row[0])


def insert_case(conn: Connection, row: dict) -> int:
    """Store a new case; returns its sequence number. A row numbered already (``seq``, from
    :func:`next_seq_later`) is sent with the transaction's next statement or its COMMIT.
    A ``client_token`` must have been claimed (:func:`claim_token_later`) and found free."""
    if "seq" in row:
        _INSERT_NUMBERED_CASE.defer(conn, row)
        return row["seq"]
    return _INSERT_CASE(conn, row)


def values(conn: Connection, case_seq: int) -> dict[str, dict]:
    """Every stored value of a case as ``{field id: FieldValueUnion dict}``."""
    found = {}
    for row in _VALUES.all(conn, {"case_seq": case_seq}):
        found[row.field_id] = {row.kind: getattr(row, _COLUMN[row.kind])}
    return found


def write_values(conn: Connection, domain_id: str, case_seq: int, changes: dict[str, dict],
                 field_seqs: dict[str, int], *, before: dict[str, dict] | None = None) -> None:
    """Set (or, for ``emptyValue``, remove) the given values, and bring the case's search
    documents up to date in the same transaction. ``field_seqs``: the definition seq of each
    changed field (:func:`common.field_seqs`). ``before``: every value the case holds before
    the write (:func:`values`); None for a new case, which has no values (nor documents)
    yet."""
    if not changes:
        return
    if before is not None:
        search_queries.forget_document(conn, case_seq, before)
        _DELETE_VALUES.run(conn, {"case_seq": case_seq, "field_ids": list(changes)})
    rows = []
    for field_id, union in changes.items():
        kind, value = next(iter(union.items()))
        if kind == "emptyValue":
            continue
        column = _COLUMN[kind]
        rows.append((case_seq, field_id, domain_id, kind,
                     value if column == "string_value" else None,
                     value if column == "double_value" else None,
                     value if column == "boolean_value" else None))
    _INSERT_VALUES(conn, rows)
    # An emptied value (emptyValue) holds no words.
    search_queries.write_document(conn, domain_id, case_seq, {**(before or {}), **changes})
    search_queries.write_substrings(conn, case_seq, field_seqs, before, changes)


def delete_case(conn: Connection, case_seq: int, arns: list[str]) -> None:
    """Remove a case, its values, related items, contact links and the tags of ``arns``."""
    conn.execute(delete(tags).where(tags.c.resource_arn.in_(arns)))
    search_queries.forget_cases(conn, [case_seq])
    for table in (case_values, contact_links, related_items):
        conn.execute(delete(table).where(table.c.case_seq == case_seq))
    conn.execute(delete(cases).where(cases.c.seq == case_seq))
