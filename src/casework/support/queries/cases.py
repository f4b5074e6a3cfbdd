"""The SQL of AWS Support: every read and write the handlers need, named for what it does."""

from __future__ import annotations

import functools

import orjson
from sqlalchemy import (
    BigInteger,
    Connection,
    String,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)

from ...store.prepared import Later, Prepared
from ...store.sql import concurrent_writers, dialect_insert, one_statement_writes, upsert
from ...store.tables import accounts as store_accounts
from ...store.tables import counters
from ..tables import (
    account_plans,
    attachment_sets,
    attachments,
    cases,
    communications,
    display_ids,
)

RECENT_COMMUNICATIONS = 5  # CaseDetails.recentCommunications holds the five newest


def _bump_counter(dialect: str):
    # One upsert: concurrent first uses from several processes cannot both insert the row,
    # and concurrent bumps queue on its row lock, so every caller gets a number of its own.
    statement = dialect_insert(dialect, counters).values(
        account_id=bindparam("account_id"), name=bindparam("name"), value=1)
    return statement.on_conflict_do_update(
        index_elements=[counters.c.account_id, counters.c.name],
        set_={"value": counters.c.value + 1}).returning(counters.c.value)


_BUMP_COUNTER = Prepared(_bump_counter)
_NEXT_DISPLAY_NUMBER = Prepared(select(display_ids.next_value()))


def next_counter(conn: Connection, account_id: str, name: str) -> int:
    """Bump and return a per-account counter (1, 2, 3, ...), in the caller's transaction:
    the counter's row stays locked until it ends."""
    return _BUMP_COUNTER.scalar(conn, {"account_id": account_id, "name": name})


def next_display_number(conn: Connection, account_id: str) -> int:
    """The number of a new display id: unique within the account, and greater than the
    account's earlier ones.

    SQLite: the account's counter (1, 2, 3, ...), whose writers run one at a time anyway.
    PostgreSQL: one sequence shared by all accounts (an account's numbers increase, not one
    by one), which hands numbers to concurrent transactions without a lock: with the
    counter's row lock, every CreateCase of an account waited for the previous one's
    commit. A number taken by a transaction that rolls back stays unused.
    """
    if concurrent_writers(conn):
        return _NEXT_DISPLAY_NUMBER.scalar(conn)
    return next_counter(conn, account_id, "display_id")


_INSERT_CASE = Prepared(insert(cases).values(
    {c.name: bindparam(c.name) for c in cases.c if c.name not in ("seq", "resolved_at")}
).returning(cases.c.seq))


# PostgreSQL: a new case, its display id and its first communication in one statement
# (data-modifying WITH), which can travel with the COMMIT (``Prepared.defer``).
_COMMUNICATION_COLUMNS = ["case_seq", "body", "submitted_by", "cc_email_addresses",
                          "created_at"]


def _new_case_statement():
    display_id = cast(bindparam("display_base", type_=BigInteger) + display_ids.next_value(),
                      String)
    case = insert(cases).values(
        {c.name: display_id if c.name == "display_id" else bindparam(c.name)
         for c in cases.c if c.name not in ("seq", "resolved_at")}
    ).returning(cases.c.seq).cte("new_case")
    return insert(communications).from_select(_COMMUNICATION_COLUMNS, select(
        case.c.seq,
        *(bindparam(f"communication_{name}", type_=communications.c[name].type)
          for name in _COMMUNICATION_COLUMNS[1:])).select_from(case))


_NEW_CASE = Prepared(_new_case_statement())


def insert_new_case(conn: Connection, row: dict, display_base: int,
                    communication: dict) -> None:
    """Store a new case (``row`` without its display id: ``display_base`` plus
    :func:`next_display_number`) and its first ``communication`` (``body``,
    ``submitted_by``, ``cc``, ``created_at``), for a request that reads none of their
    numbers back: on PostgreSQL in one statement, sent with the transaction's next statement
    or its COMMIT."""
    if not one_statement_writes(conn):
        number = next_display_number(conn, row["account_id"])
        case_seq = insert_case(conn, {**row, "display_id": str(display_base + number)})
        insert_communication(conn, case_seq, **communication)
        return
    _NEW_CASE.defer(conn, {
        **row, "display_base": display_base,
        "cc_email_addresses": orjson.dumps(row["cc_email_addresses"]).decode(),
        "communication_body": communication["body"],
        "communication_submitted_by": communication["submitted_by"],
        "communication_cc_email_addresses": orjson.dumps(communication["cc"]).decode(),
        "communication_created_at": communication["created_at"]})


def lock_account(conn: Connection, account_id: str) -> None:
    """Hold the account's row until the transaction ends, so that a count-based limit of the
    account (open cases, new attachment sets) is checked and used by one request at a time.
    On SQLite the clause is not rendered: its write transactions already run one at a time."""
    conn.execute(select(store_accounts.c.account_id)
                 .where(store_accounts.c.account_id == account_id)
                 .with_for_update(key_share=True)).first()



def insert_case(conn: Connection, row: dict) -> int:
    """Store a new case; returns its sequence number."""
    row = {**row, "cc_email_addresses": orjson.dumps(row["cc_email_addresses"]).decode()}
    return _INSERT_CASE.scalar(conn, row)


# The statements of the hottest paths are built and compiled once (store/prepared.py):
# constructing and executing a statement through SQLAlchemy costs more than running it.
_INSERT_COMMUNICATION = Prepared(insert(communications).values(
    case_seq=bindparam("case_seq"), body=bindparam("body"),
    submitted_by=bindparam("submitted_by"), cc_email_addresses=bindparam("cc_email_addresses"),
    created_at=bindparam("created_at")).returning(communications.c.seq))
# A case is read by its unique id alone and its account checked on the row: with the account in
# the WHERE clause too, PostgreSQL planning on a young table's statistics walked the account's
# index through every case of the account instead.
_FIND_CASE_QUERY = select(cases).where(cases.c.case_id == bindparam("case_id"))
_FIND_CASE = Prepared(_FIND_CASE_QUERY)
# Writers lock the case they change: its status is read, then written from what was read.
_FIND_CASE_LOCKED = Prepared(_FIND_CASE_QUERY.with_for_update(key_share=True))
# What DescribeCases shows of a case, and filters on: every column a row carries costs its
# conversion to Python, whether read or not (a page of ten: 22 -> 18 us).
_CASE_DETAILS = [cases.c[name] for name in (
    "seq", "case_id", "display_id", "subject", "status", "service_code", "category_code",
    "severity_code", "language", "submitted_by", "cc_email_addresses", "created_at")]
_CASES_BY_IDS = Prepared(select(*_CASE_DETAILS).where(
    cases.c.case_id.in_(bindparam("case_ids", expanding=True)),
    cases.c.account_id == bindparam("account_id")))
_SET_CASE_STATUS = Prepared(update(cases).where(cases.c.seq == bindparam("case_seq"))
                            .values(status=bindparam("new_status"),
                                    resolved_at=bindparam("new_resolved_at")))
# The caller's plan, checked before every operation (its e-mail comes with its key record).
_CALLER = Prepared(
    select(account_plans.c.plan)
    .select_from(store_accounts)
    .outerjoin(account_plans, account_plans.c.account_id == store_accounts.c.account_id)
    .where(store_accounts.c.account_id == bindparam("account_id")))
# The keyset bound of the first page of cases: sequence numbers are INTEGER columns
# (PostgreSQL: 32 bits).
_NO_UPPER_SEQ = 2**31 - 1
_ATTACHMENTS_OF = Prepared(
    select(attachment_sets.c.communication_seq, attachments.c.attachment_id,
           attachments.c.file_name, attachments.c.size)
    .join(attachments, attachments.c.attachment_set_id == attachment_sets.c.attachment_set_id)
    .where(attachment_sets.c.communication_seq.in_(bindparam("seqs", expanding=True)))
    .order_by(attachments.c.position))


def insert_communication(conn: Connection, case_seq: int, body: str, submitted_by: str,
                         cc: list[str], created_at: int, *, number: bool = True) -> int | None:
    """Store a communication; returns its sequence number, or, when ``number`` is False,
    nothing: on PostgreSQL the INSERT then travels with the next statement or the COMMIT."""
    row = {"case_seq": case_seq, "body": body, "submitted_by": submitted_by,
           "cc_email_addresses": orjson.dumps(cc).decode(), "created_at": created_at}
    if not number:
        _INSERT_COMMUNICATION.defer(conn, row)
        return None
    return _INSERT_COMMUNICATION.scalar(conn, row)


# A reply that changes nothing but the thread, in one statement: the case found by its id, in
# the caller's account, in a status the reply keeps, and the account on a plan with API access
# (the statement tests it itself: see reply_keeping_status), gets the communication; any other
# case gets nothing.
_PLAN_OF_CALLER = (select(account_plans.c.plan)
                   .where(account_plans.c.account_id == bindparam("account_id"))
                   .scalar_subquery())
_REPLY_KEEPING_STATUS = Prepared(insert(communications).from_select(
    ["case_seq", "body", "submitted_by", "cc_email_addresses", "created_at"],
    select(cases.c.seq, bindparam("body", type_=String), bindparam("submitted_by", type_=String),
           bindparam("cc_email_addresses", type_=String),
           bindparam("created_at", type_=BigInteger)).where(
        # The account is tested on the row found by id (as _FIND_CASE does), never through
        # the account's index: see there.
        cases.c.case_id == bindparam("case_id"),
        cases.c.account_id.concat("") == bindparam("account_id"),
        cases.c.status.not_in(bindparam("changing", expanding=True)),
        func.coalesce(_PLAN_OF_CALLER, bindparam("default_plan", type_=String)).in_(
            bindparam("api_plans", expanding=True)))))


def reply_keeping_status(conn: Connection, account_id: str, case_id: str, body: str,
                         submitted_by: str, cc: list[str], created_at: int, *,
                         changing: list[str], api_plans: list[str], default_plan: str) -> bool:
    """Add a communication to the account's case ``case_id`` unless the case is missing or in
    one of the ``changing`` statuses, or the account's plan (``default_plan`` if it has none)
    is not among ``api_plans``; whether it was added.

    When it is added, that is the whole of the request (``Prepared.run_alone``: on
    PostgreSQL, committed in the round trip that adds it, with the plan check queued before
    it), so the caller writes nothing more. The statement tests the plan itself because the
    check's verdict arrives only after the commit."""
    return _REPLY_KEEPING_STATUS.run_alone(conn, {
        "case_id": case_id, "account_id": account_id, "body": body,
        "submitted_by": submitted_by, "cc_email_addresses": orjson.dumps(cc).decode(),
        "created_at": created_at, "changing": changing, "api_plans": api_plans,
        "default_plan": default_plan}) > 0


def find_case(conn: Connection, account_id: str, case_id: str, *, lock: bool = False):
    """The case row, or None when the account has no such case; ``lock`` holds the row until
    the transaction ends (PostgreSQL; SQLite writers run one at a time anyway)."""
    row = (_FIND_CASE_LOCKED if lock else _FIND_CASE).first(conn, {"case_id": case_id})
    return row if row is not None and row.account_id == account_id else None


def cases_by_ids(conn: Connection, account_id: str, case_ids: list[str]) -> list:
    """The account's cases among ``case_ids``, in no particular order."""
    return _CASES_BY_IDS.all(conn, {"case_ids": case_ids, "account_id": account_id})


def set_case_status(conn: Connection, case_seq: int, status: str, resolved_at: int | None) -> None:
    _SET_CASE_STATUS.run(conn, {"case_seq": case_seq, "new_status": status,
                                "new_resolved_at": resolved_at})


@functools.cache
def _list_cases_statement(filters: frozenset[str]) -> Prepared:
    """The page query for one combination of filters (a few dozen at most, each built once)."""
    conditions = [cases.c.account_id == bindparam("account_id"),
                  cases.c.seq < bindparam("below_seq")]
    if "display_id" in filters:
        conditions.append(cases.c.display_id == bindparam("display_id"))
    if "after" in filters:
        conditions.append(cases.c.created_at >= bindparam("after"))
    if "before" in filters:
        conditions.append(cases.c.created_at <= bindparam("before"))
    if "open_only" in filters:
        conditions.append(cases.c.status != "resolved")
    if "language" in filters:
        conditions.append(cases.c.language == bindparam("language"))
    return Prepared(select(*_CASE_DETAILS).where(*conditions).order_by(cases.c.seq.desc())
                    .limit(bindparam("limit")))


def list_cases(conn: Connection, account_id: str, *, display_id: str | None, after: int | None,
               before: int | None, include_resolved: bool, language: str | None,
               below_seq: int | None, limit: int) -> list:
    """A page of the account's cases, newest first, that pass every given filter."""
    params = {"account_id": account_id, "display_id": display_id, "after": after,
              "before": before, "language": language, "limit": limit,
              "below_seq": _NO_UPPER_SEQ if below_seq is None else below_seq}
    filters = {name for name in ("display_id", "after", "before", "language")
               if params[name] is not None}
    if not include_resolved:
        filters.add("open_only")
    return _list_cases_statement(frozenset(filters)).all(conn, params)


def recent_communications(conn: Connection, case_seqs: list[int]) -> tuple[dict, dict]:
    """Up to six newest communications per case (five to show, one to know there are more),
    and their attachments: ``({case seq: [rows]}, attachments as attachments_of)``.

    One index seek per case: pages hold at most 100 cases, and a seek costs microseconds.
    The attachments of all of them are read in one statement.
    """
    recent = {seq: _communications_page(conn, seq, after=None, before=None, below_seq=None,
                                        limit=RECENT_COMMUNICATIONS + 1)
              for seq in case_seqs}
    return recent, _attachments_of_rows(conn, [row for rows in recent.values() for row in rows])


@functools.cache
def _communications_statement(filters: frozenset[str]) -> Prepared:
    """A page of one case's communications, newest first, each with the id of its attachment
    set (a communication has at most one), for one combination of filters.

    The rows come straight off the (case_seq, seq) index, the set by its own index; the
    attachments themselves are read only for the few communications that have any
    (:func:`_attachments_of_rows`). Joined in as well, one row per attachment, the page had to
    be sorted again after the join, which cost more than the page itself.

    Only the filters given are in the statement: PostgreSQL plans a prepared statement once
    for all parameter values (its generic plan), guessing that a range on unknown values keeps
    0.5% of the rows. With open ends given as sentinel bounds, it expected a handful of a
    case's communications to match, chose to read them all and sort them, and every request
    then read the whole thread of a long case (bench/RESULTS.md, "PostgreSQL statements").
    """
    conditions = [communications.c.case_seq == bindparam("case_seq")]
    if "below" in filters:
        conditions.append(communications.c.seq < bindparam("below_seq"))
    if "after" in filters:
        conditions.append(communications.c.created_at >= bindparam("after"))
    if "before" in filters:
        conditions.append(communications.c.created_at <= bindparam("before"))
    return Prepared(
        select(communications.c.seq, communications.c.body, communications.c.submitted_by,
               communications.c.created_at, attachment_sets.c.attachment_set_id)
        .outerjoin(attachment_sets, attachment_sets.c.communication_seq == communications.c.seq)
        .where(*conditions).order_by(communications.c.seq.desc()).limit(bindparam("limit")))


def list_communications(conn: Connection, case_seq: int, *, after: int | None,
                        before: int | None, below_seq: int | None,
                        limit: int) -> tuple[list, dict]:
    """A page of the case's communications, newest first, and their attachments (as
    :func:`attachments_of` returns them)."""
    rows = _communications_page(conn, case_seq, after=after, before=before,
                                below_seq=below_seq, limit=limit)
    return rows, _attachments_of_rows(conn, rows)


def _communications_page(conn: Connection, case_seq: int, *, after: int | None,
                         before: int | None, below_seq: int | None, limit: int) -> list:
    params = {"case_seq": case_seq, "after": after, "before": before, "below_seq": below_seq,
              "limit": limit}
    filters = frozenset(name for name, key in (("below", "below_seq"), ("after", "after"),
                                               ("before", "before"))
                        if params[key] is not None)
    return _communications_statement(filters).all(conn, params)


def _attachments_of_rows(conn: Connection, rows: list) -> dict[int, list]:
    """:func:`attachments_of` the communication rows that have an attachment set (most have
    none, and then nothing is read)."""
    return attachments_of(conn, [row.seq for row in rows if row.attachment_set_id is not None])


def attachments_of(conn: Connection, communication_seqs: list[int]) -> dict[int, list]:
    """``{communication seq: [(attachment details, size in bytes), ...]}`` in upload order."""
    if not communication_seqs:
        return {}
    found: dict[int, list] = {}
    for row in _ATTACHMENTS_OF.all(conn, {"seqs": communication_seqs}):
        found.setdefault(row.communication_seq, []).append(
            ({"attachmentId": row.attachment_id, "fileName": row.file_name}, row.size))
    return found


def find_attachment_set(conn: Connection, account_id: str, set_id: str, *, lock: bool = False):
    """The account's attachment set, or None; ``lock`` holds its row until the transaction
    ends, so that adding to a set, and using it, happen one request at a time."""
    query = select(attachment_sets).where(attachment_sets.c.attachment_set_id == set_id,
                                          attachment_sets.c.account_id == account_id)
    return conn.execute(query.with_for_update(key_share=True) if lock else query).first()


def insert_attachment_set(conn: Connection, account_id: str, set_id: str, created_at: int,
                          expires_at: int) -> None:
    conn.execute(insert(attachment_sets).values(
        attachment_set_id=set_id, account_id=account_id, created_at=created_at,
        expires_at=expires_at))


def count_attachments(conn: Connection, set_id: str) -> int:
    return conn.scalar(
        select(func.count()).select_from(attachments)
        .where(attachments.c.attachment_set_id == set_id)
    )


def insert_attachment(conn: Connection, row: dict) -> None:
    conn.execute(insert(attachments).values(**row))


def consume_attachment_set(conn: Connection, set_id: str, communication_seq: int) -> bool:
    """Give an unused set to a communication; False if another request used it first."""
    return conn.execute(update(attachment_sets)
                        .where(attachment_sets.c.attachment_set_id == set_id,
                               attachment_sets.c.communication_seq.is_(None))
                        .values(communication_seq=communication_seq)).rowcount == 1


def delete_stale_attachment_sets(conn: Connection, older_than: int) -> None:
    """Forget unused sets that expired before ``older_than`` (their attachments go with them)."""
    stale = select(attachment_sets.c.attachment_set_id).where(
        attachment_sets.c.communication_seq.is_(None), attachment_sets.c.expires_at < older_than)
    conn.execute(delete(attachments).where(attachments.c.attachment_set_id.in_(stale)))
    conn.execute(delete(attachment_sets).where(
        attachment_sets.c.communication_seq.is_(None), attachment_sets.c.expires_at < older_than))


def find_attachment(conn: Connection, account_id: str, attachment_id: str):
    return conn.execute(
        select(attachments.c.file_name, attachments.c.data)
        .where(attachments.c.attachment_id == attachment_id,
               attachments.c.account_id == account_id)
    ).first()


# --- support plans -------------------------------------------------------------------------

def caller_later(conn: Connection, account_id: str, check) -> Later:
    """``check(row)`` of the account's ``(plan,)`` row (plan None: the default; no row:
    None), read with the next statement (``Prepared.first_later``)."""
    return _CALLER.first_later(conn, {"account_id": account_id}, check)


def account_exists(conn: Connection, account_id: str) -> bool:
    return conn.scalar(
        select(store_accounts.c.account_id).where(store_accounts.c.account_id == account_id)
    ) is not None


def account_created_at(conn: Connection, account_id: str) -> int:
    return conn.scalar(
        select(store_accounts.c.created_at).where(store_accounts.c.account_id == account_id))


def set_account_plan(conn: Connection, account_id: str, plan: str, now: int) -> None:
    """Store the account's plan, replacing any earlier one."""
    upsert(conn, account_plans, {"account_id": account_id, "plan": plan, "updated_at": now},
           ["account_id"], {"plan": plan, "updated_at": now})


def list_account_plans(conn: Connection) -> list:
    """Every account with its stored plan (None: the default)."""
    return conn.execute(
        select(store_accounts.c.account_id, store_accounts.c.email, account_plans.c.plan)
        .outerjoin(account_plans, account_plans.c.account_id == store_accounts.c.account_id)
        .order_by(store_accounts.c.account_id)
    ).fetchall()


# --- limits ----------------------------------------------------------------------------------

def count_open_cases(conn: Connection, account_id: str) -> int:
    return conn.scalar(select(func.count()).select_from(cases).where(
        cases.c.account_id == account_id, cases.c.status != "resolved"))


def count_attachment_sets_since(conn: Connection, account_id: str, since: int) -> int:
    return conn.scalar(select(func.count()).select_from(attachment_sets).where(
        attachment_sets.c.account_id == account_id, attachment_sets.c.created_at >= since))


# --- the support side (agent API) ------------------------------------------------------------

def find_case_any_account(conn: Connection, case_id: str, *, lock: bool = False):
    """The case row whatever its account (the support side sees every account's cases);
    ``lock`` holds it until the transaction ends (a status is read, then written)."""
    query = select(cases).where(cases.c.case_id == case_id)
    return conn.execute(query.with_for_update(key_share=True) if lock else query).first()


def list_cases_any_account(conn: Connection, *, statuses: list[str], account_id: str | None,
                           since: int | None, below_seq: int | None, limit: int) -> list:
    """A page of every account's cases, newest first, that pass the given filters."""
    conditions = []
    if statuses:
        conditions.append(cases.c.status.in_(statuses))
    if account_id is not None:
        conditions.append(cases.c.account_id == account_id)
    if since is not None:
        conditions.append(cases.c.created_at >= since)
    if below_seq is not None:
        conditions.append(cases.c.seq < below_seq)
    query = select(cases).where(and_(True, *conditions)).order_by(cases.c.seq.desc()).limit(limit)
    return conn.execute(query).fetchall()


def whole_thread(conn: Connection, case_seq: int) -> list:
    """Every communication of a case, oldest first."""
    return conn.execute(select(communications).where(communications.c.case_seq == case_seq)
                        .order_by(communications.c.seq)).fetchall()
