"""The SQL behind SearchCases and SearchAllRelatedItems, and the indexes it reads.

The handlers (``search.py``) check a request against the domain's fields and hand this module a
small, already-validated filter tree; this module turns it into SQL, so that the database, not
Python, decides which cases match:

* a field test is an ``EXISTS`` (or, for ``equalTo emptyValue``, a ``NOT EXISTS``) on
  ``cases_case_values`` correlated on the case (one primary-key probe per case tested);
* a tag test is an ``EXISTS`` on ``cases_tags`` by the case's ARN (its primary key);
* the search words test the search-term index (``cases_search_terms``);
* a ``contains`` test is answered by a trigram index: on SQLite the substring index
  (``cases_search_substrings``) answers a pattern of three to 14 characters exactly and names
  candidates of a longer one, each then tested (a pattern under three characters reads the
  field's documents one by one); on PostgreSQL ``pg_trgm``'s GIN index on the value table
  answers it whole;
* ``not`` / ``andAll`` / ``orAll`` are ``NOT`` / ``AND`` / ``OR`` of those.

Which cases are tested at all is :class:`CaseSearch`'s choice: the members of the top-level AND
that an index answers (search words; ``equalTo`` and range tests through the indexes on
``(domain_id, field_id, value, case_seq)``; contains tests through a trigram index) are
"drivers"; the narrowest is read whole when it is small, otherwise the first sort field's
index is walked in order (see ``search.py``).

Pages are keyset pages: the caller passes the sort key of the last row it returned and gets the
rows strictly after it, with NULLs (cases without a value for a sort field) after every value
in either direction, and the case's ``seq`` as the final tie-break. The search-term index is
the one dialect-specific structure (an FTS5 table on SQLite, a tsvector with a GIN index on
PostgreSQL); everything else is portable SQLAlchemy Core.

Filter tree nodes (tuples, built by ``search.py``):

``("field", test, field_id, member, value)``
    ``test`` is ``equalTo``/``contains``/``greaterThan``/``greaterThanOrEqualTo``/``lessThan``/
    ``lessThanOrEqualTo``; ``member`` the FieldValueUnion member (``emptyValue`` only with
    ``equalTo``, meaning "the case holds no value for the field").
``("tag", key or None, value or None)``
``("words", [word, ...])``: every word is a word, or the start of one, of some text value
    (words as :func:`words_of` splits them).
``("not", node)``, ``("and", [node, ...])``, ``("or", [node, ...])``

``CaseSearch`` turns words and the contains tests the substring index answers into nodes of
its own first (``indexed_tree``), and a contains test of a user field whose values are few into
``("values", field_id, [value, ...])``: the case holds one of those values.
"""

from __future__ import annotations

import functools
import hashlib
import re
import string
from collections.abc import Sequence
from datetime import date
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Index,
    Select,
    String,
    and_,
    bindparam,
    cast,
    column,
    delete,
    exists,
    false,
    func,
    literal,
    literal_column,
    not_,
    nulls_last,
    or_,
    select,
    table,
    text,
    true,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.sql.selectable import Alias

from ...store.bulk import copy_statement
from ...store.prepared import Prepared
from ...store.runner import at_batch_end
from ..tables import case_values, cases, definitions, related_items, tags

# Which typed column of cases_case_values holds each FieldValueUnion member.
COLUMN = {"stringValue": "string_value", "userArnValue": "string_value",
          "doubleValue": "double_value", "booleanValue": "boolean_value"}
# Members whose values the free-text search term looks into: text, not numbers or booleans.
TEXT_MEMBERS = ("stringValue", "userArnValue")
_COMPARE = {"greaterThan": "__gt__", "greaterThanOrEqualTo": "__ge__",
            "lessThan": "__lt__", "lessThanOrEqualTo": "__le__"}

# SearchAllRelatedItems reads the related items of one domain in association-time order; the
# table's own indexes all start with case_seq, so without this one every search would scan the
# related items of every domain. Declared here (next to the query that needs it) so that it is
# part of the metadata as well as of migration search_0001.
RELATED_ITEMS_BY_DOMAIN = Index("ix_cases_related_items_domain_time", related_items.c.domain_id,
                                related_items.c.association_time, related_items.c.seq)


# -- keyset paging, shared by both searches ------------------------------------------------------

class SortKey:
    """One ORDER BY term: an expression, its direction, and whether it can be NULL."""

    def __init__(self, expr: ColumnElement, descending: bool, nullable: bool):
        self.expr, self.descending, self.nullable = expr, descending, nullable

    def order(self) -> ColumnElement:
        ordered = self.expr.desc() if self.descending else self.expr.asc()
        return nulls_last(ordered) if self.nullable else ordered


def _after(keys: Sequence[SortKey], last: Sequence[Any], ranged: bool = False) -> ColumnElement:
    """Rows strictly after the row whose sort key is ``last``, in the order of ``keys``.

    Lexicographic: a row is after when its first differing key is beyond ``last``'s. With
    NULLs last, a NULL is beyond any value, and nothing is beyond a NULL but later keys.
    ``ranged``: the first key's range is stated on its own as well, for PostgreSQL.
    """
    clauses, equal = [], []
    for key, value in zip(keys, last, strict=True):
        if value is None:
            equal.append(key.expr.is_(None))
            continue
        # A bound parameter of the column's type: SQLAlchemy refuses < and > against a bare
        # Python True/False, and Boolean sort fields hold them.
        value = literal(value, key.expr.type)
        beyond = key.expr < value if key.descending else key.expr > value
        if key.nullable:
            beyond = or_(beyond, key.expr.is_(None))
        clauses.append(and_(*equal, beyond))
        equal.append(key.expr == value)
    if not clauses:
        return false()
    first, value = keys[0], last[0]
    if not ranged or value is None or first.nullable:
        return or_(*clauses)
    # The OR hides the first key's range from PostgreSQL: without it a later page read the
    # sort index from its start (1.3 s for a second page at a million cases, 50 ms with it).
    # SQLite finds the range itself, and the extra term led its planner astray (30 s).
    value = literal(value, first.expr.type)
    return and_(first.expr <= value if first.descending else first.expr >= value,
                or_(*clauses))


# -- SearchCases: the search-term index ----------------------------------------------------------

# A word of text is a run of letters and digits (anything else separates words), compared
# case-insensitively (Unicode case folding) and cut to its first TOKEN_MAX characters. The same
# function splits stored values and search terms, so both databases match alike.
_WORD = re.compile(r"[^\W_]+")
TOKEN_MAX = 100
# The search-term index: one document per case holding the distinct words of its text values.
# SQLite: an FTS5 table (rowid: see SEQ_BITS); PostgreSQL: a tsvector of the words with a GIN
# index (migration cases_0007_search_indexes creates either). Declared outside the shared
# metadata: its DDL differs by database.
#
# Each word is stored behind its domain's scope (``scope``: 20 hex digits and ``x``), so that a
# term's entries in the index are those of one domain: the index alone answers "how many cases
# of this domain hold the term" (SearchCases' totalCount) and hands over only the domain's cases
# (migration search_0003 scoped the documents written before).
_FTS = table("cases_search_terms", column("rowid"), column("terms"))
_TSV = table("cases_search_terms", column("case_seq"), column("terms"))


def words_of(text: str) -> list[str]:
    """The searchable words of a text, in order (see ``_WORD``)."""
    return [word[:TOKEN_MAX] for word in _WORD.findall(text.casefold())]


@functools.lru_cache(maxsize=4096)
def scope(domain_id: str) -> str:
    """What every word of the domain's documents starts with in the index: letters and digits
    only (one token for either database), the same for every word, and unlike any other
    domain's (an 80-bit digest of the domain id)."""
    return hashlib.blake2b(domain_id.encode(), digest_size=10).hexdigest() + "x"


def _is_sqlite(conn: Connection) -> bool:
    return conn.dialect.name == "sqlite"


# -- the term index's order (SQLite) -------------------------------------------------------------
#
# SQLite's term index keys each case's document by when the case was last updated: its rowid is
# the epoch second of ``last_updated_datetime`` above the case's seq (the low SEQ_BITS bits;
# seqs stay below 2^31), and every write of the case moves the document to its new key. A term's
# entries read from the end are then its cases most recently updated first, the order
# SearchCases lists by default: the first page of a search term is the first few entries of its
# posting lists, however many cases hold it (CaseSearch's "ordered" plan). PostgreSQL keys its
# documents by case seq.
SEQ_BITS = 31
SEQ_MASK = (1 << SEQ_BITS) - 1
LAST_UPDATED = "last_updated_datetime"
_EPOCH_DAY = date(1970, 1, 1).toordinal()


def updated_second(stamp: str | None) -> int:
    """The epoch second of a stored ``last_updated_datetime`` (``2026-11-23T05:40:01.361Z``);
    0 for a case without one."""
    if stamp is None:
        return 0
    return (_day_seconds(stamp[:10]) + int(stamp[11:13]) * 3600 + int(stamp[14:16]) * 60
            + int(stamp[17:19]))


@functools.lru_cache(maxsize=4096)
def _day_seconds(day: str) -> int:
    return (date.fromisoformat(day).toordinal() - _EPOCH_DAY) * 86_400


def document_key(seq: int, second: int) -> int:
    """The rowid in SQLite's term index of the document of a case last updated in epoch
    second ``second`` (see SEQ_BITS)."""
    return second << SEQ_BITS | seq


# The key of a document being deleted is read from the case's values (forget_cases).
_KEYED = (select(cases.c.seq, case_values.c.string_value)
          .select_from(cases.outerjoin(case_values, and_(case_values.c.case_seq == cases.c.seq,
                                                         case_values.c.field_id == LAST_UPDATED))))
_KEYS = Prepared(_KEYED.where(cases.c.seq.in_(bindparam("seqs", expanding=True))))
# Every case write rebuilds the case's document: these run on the driver (store/prepared.py).
_POSTGRES_FORGET = Prepared(delete(_TSV).where(
    _TSV.c.case_seq.in_(bindparam("seqs", expanding=True))))
_POSTGRES_WRITE_DOCUMENT = Prepared(text(
    "INSERT INTO cases_search_terms (case_seq, terms) VALUES (:key, CAST(:terms AS tsvector))"))
# SQLite's vocabulary of the term index (cases_search_words): every scoped word any document
# has held but those of hex digits alone, so that the completions of a search word holding
# another character are known before the index is read (see _fts_query). A word of hex digits
# only (ids, numbers) is left out: such words are mostly new with every case (case ids,
# reference numbers), and each would be a random insert into the vocabulary's B-tree; a word
# holding another character can complete to no such word. Words are added, never removed: a
# word no document holds any more costs an empty posting list in a query, nothing else; a
# domain's words go with the domain.
_HEX_ONLY = re.compile(r"[0-9a-f]+")
SQLITE_ADD_WORDS = "INSERT OR IGNORE INTO cases_search_words (term) VALUES (?)"
_ADD_WORDS = Prepared(text("INSERT OR IGNORE INTO cases_search_words (term) "
                           "SELECT value FROM json_each(:terms)"))
_FORGET_WORDS = Prepared(text("DELETE FROM cases_search_words "
                              "WHERE term >= :low AND term < :high"))


def words_of_values(held: dict[str, dict]) -> list[str]:
    """The document of a case holding ``held`` (``{field id: FieldValueUnion}``): the
    distinct words of its text values, sorted."""
    texts = [value for union in held.values() for member, value in union.items()
             if member in TEXT_MEMBERS and value is not None]
    # One pass over all of them: a space separates words as the ends of two values do.
    return sorted(set(words_of(" ".join(texts))))


def document(domain_id: str, words: list[str]) -> list[str]:
    """The index entries of a case of ``domain_id`` holding ``words``."""
    mark = scope(domain_id)
    return [mark + word for word in words]


# SQLite's index holds a document as one text of its entries (FTS5 splits it into tokens).
SQLITE_INSERT_DOCUMENT = "INSERT INTO cases_search_terms (rowid, terms) VALUES (?, ?)"
# The same text is PostgreSQL's ``tsvector`` input of those entries (letters and digits only,
# so each is one lexeme, as ``array_to_tsvector`` would make it): inserted with a cast, and
# copied as it is by a bulk load.
POSTGRES_COPY_DOCUMENTS = copy_statement("cases_search_terms", ("case_seq", "terms"))


def listed(words: list[str]) -> list[str]:
    """Those of a document's ``words`` (unscoped) that the vocabulary lists."""
    return [word for word in words if not _HEX_ONLY.fullmatch(word)]


def _last_updated(held: dict[str, dict]) -> str | None:
    return held.get(LAST_UPDATED, {}).get("stringValue")


def write_document(conn: Connection, domain_id: str, case_seq: int,
                   held: dict[str, dict]) -> None:
    """Insert the search-term document of a case of ``domain_id`` that has none, holding
    ``held`` (``{field id: FieldValueUnion}``), in the caller's transaction, so that the
    index changes exactly when the values do."""
    words = words_of_values(held)
    entries = document(domain_id, words)
    # The one text both databases take: FTS5 splits it into its entries, PostgreSQL reads it
    # as the tsvector of those entries (see POSTGRES_COPY_DOCUMENTS).
    terms = " ".join(entries)
    if not _is_sqlite(conn):  # nothing reads it back in the request: Prepared.defer
        _POSTGRES_WRITE_DOCUMENT.defer(conn, {"key": case_seq, "terms": terms})
        return
    vocabulary = document(domain_id, listed(words))
    if vocabulary:
        _ADD_WORDS.run(conn, {"terms": orjson.dumps(vocabulary).decode()})
    key = document_key(case_seq, updated_second(_last_updated(held)))
    _later(conn, SQLITE_INSERT_DOCUMENT, [(key, terms)])


_SQLITE_FORGET_DOCUMENT = "DELETE FROM cases_search_terms WHERE rowid = ?"


def forget_document(conn: Connection, case_seq: int, held: dict[str, dict]) -> None:
    """Drop the search-term document of a case holding ``held`` (its values before a write:
    on SQLite they give the document's key)."""
    if not _is_sqlite(conn):
        _POSTGRES_FORGET.defer(conn, {"seqs": [case_seq]})
        return
    _later(conn, _SQLITE_FORGET_DOCUMENT,
           [(document_key(case_seq, updated_second(_last_updated(held))),)])


def forget_cases(conn: Connection, case_seqs) -> None:
    """Drop the search documents of cases being deleted (a list, or a scalar subquery of
    seqs), before their values are: on SQLite they give the documents' keys."""
    if not _is_sqlite(conn):
        if isinstance(case_seqs, list):
            _POSTGRES_FORGET.defer(conn, {"seqs": case_seqs})
        else:
            conn.execute(delete(_TSV).where(_TSV.c.case_seq.in_(case_seqs)))
        return
    keyed = (_KEYS.all(conn, {"seqs": case_seqs}) if isinstance(case_seqs, list)
             else conn.execute(_KEYED.where(cases.c.seq.in_(case_seqs))).all())
    _later(conn, _SQLITE_FORGET_DOCUMENT,
           [(document_key(seq, updated_second(updated)),) for seq, updated in keyed])
    _forget_substrings(conn, case_seqs)


def _later(conn: Connection, statement: str, rows: list[tuple]) -> None:
    """Run a SQLite statement of the search indexes once per row of parameters: at the end of
    the group-commit batch (after what earlier jobs of the batch left there: in order), or now
    outside one."""
    later = at_batch_end(conn)
    if later is not None:
        later.extend((statement, row) for row in rows)
    elif rows:
        conn.exec_driver_sql(statement, rows)


def forget_domain_words(conn: Connection, domain_id: str) -> None:
    """Drop a deleted domain's words from SQLite's vocabulary."""
    if _is_sqlite(conn):
        mark = scope(domain_id)  # every word of the domain: from its scope to the next one
        _FORGET_WORDS.run(conn, {"low": mark, "high": mark[:-1] + "y"})


# -- contains: SQLite's substring index --------------------------------------------------------
#
# ``contains`` tests for a substring, which no B-tree answers. On SQLite the text values of cases
# are also kept in an FTS5 table with the trigram tokenizer (``cases_search_substrings``), one
# document per value, keyed by its field's definition (``cases_definitions.seq``, unique across
# domains) above the case's seq (the low SEQ_BITS bits): a field's values are one range of
# keys. The index keeps each trigram's positions (``detail=full``, migration search_0008), so a
# phrase query of a pattern finds exactly the documents holding it. The contains test is
# SQLite's LIKE, which ignores the case of ASCII letters only; so the documents hold their
# values with ASCII letters lowered (``indexed_substring``) and the tokenizer folds nothing
# (``case_sensitive 1``): a phrase of the pattern lowered as the test lowers it matches what the
# test matches, and the index alone answers and counts a pattern of up to PHRASE_CHARS
# characters. A longer one is looked up by TRIGRAMS_MAX of its trigrams, which name a superset
# of the cases matching, each then tested. The index holds the ``stringValue`` values people
# write, not those the service sets (ids, reference numbers, times: SERVICE_MAINTAINED), nor
# users (``userArnValue``). A contains test on a value the service sets reads a narrow index of
# such values instead (``_keys_holding``), one on users tests cases one by one, and one
# with a pattern under three characters reads the documents of its field one by one
# (``_substring_cases``).
#
# PostgreSQL keeps the same values in a GIN index of their trigrams (``pg_trgm``, migration
# search_0006), and the reference numbers in another (search_0009), which answer
# ``lower(value) LIKE '%pattern%'`` on the value table itself, rechecking each candidate: a
# contains test there is one more value index (``_drivers``). Its trigrams are those of the
# pattern's words (runs of letters and digits): a pattern without a run of three would read the
# whole index: the field's values are scanned instead (``_keys_holding``), as are users'.
#
# The values the service sets on every case and keeps (not writable through the API).
SERVICE_MAINTAINED = frozenset({"case_id", "reference_number", "created_datetime",
                                "last_updated_datetime", "last_closed_datetime",
                                "last_updated_user"})
# The texts among them (``last_updated_user`` is a user), each shorter than KEY_CHARS: a key of
# the value index is the whole value.
_WHOLE_KEYS = SERVICE_MAINTAINED - {"last_updated_user"}
SQLITE_INSERT_SUBSTRINGS = "INSERT INTO cases_search_substrings (rowid, text) VALUES (?, ?)"
_SQLITE_FORGET_SUBSTRINGS = "DELETE FROM cases_search_substrings WHERE rowid = ?"
_SUBSTRINGS = table("cases_search_substrings", column("rowid"), column("text"))
TRIGRAM = 3
# A long pattern is looked up by this many of its trigrams, spread along it: each more narrows
# the candidates less and costs a posting list more (a phrase of 40 common characters, every
# trigram's list read whole, cost 21 ms at a million titles).
TRIGRAMS_MAX = 12
# A pattern of up to this many characters (as many trigrams) is looked up whole, as a phrase.
PHRASE_CHARS = TRIGRAMS_MAX + TRIGRAM - 1
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# The keys of a case's documents: from its indexed values' fields (a delete's documents).
_SUBSTRING_KEYS = (
    select(case_values.c.case_seq, definitions.c.seq)
    .select_from(case_values.join(definitions, and_(
        definitions.c.domain_id == case_values.c.domain_id, definitions.c.kind == "field",
        definitions.c.item_id == case_values.c.field_id)))
    .where(case_values.c.kind == "stringValue",
           case_values.c.field_id.not_in(sorted(SERVICE_MAINTAINED))))


def substring_key(field_seq: int, case_seq: int) -> int:
    """The key of a value's document: its field's definition seq above the case's seq."""
    return field_seq << SEQ_BITS | case_seq


def indexed_substring(field_id: str, union: dict | None) -> str | None:
    """The text of a value the substring index holds, its ASCII letters lowered (None: it
    holds none for it)."""
    if union is None or field_id in SERVICE_MAINTAINED:
        return None
    value = union.get("stringValue")
    return value.translate(_ASCII_LOWER) if value else None


def write_substrings(conn: Connection, case_seq: int, field_seqs: dict[str, int],
                     before: dict[str, dict] | None, changes: dict[str, dict]) -> None:
    """Bring the substring index's documents of a case's ``changes`` up to date from the values
    ``before`` them (None for a new case); ``field_seqs``: the definition seq of each changed
    field the index holds values of."""
    if not _is_sqlite(conn):
        return
    before = before or {}
    for field_id, union in changes.items():
        old = indexed_substring(field_id, before.get(field_id))
        new = indexed_substring(field_id, union)
        if old == new:
            continue
        key = substring_key(field_seqs[field_id], case_seq)
        if old is not None:
            _later(conn, _SQLITE_FORGET_SUBSTRINGS, [(key,)])
        if new is not None:
            _later(conn, SQLITE_INSERT_SUBSTRINGS, [(key, new)])


def _forget_substrings(conn: Connection, case_seqs) -> None:
    """Drop the substring index's documents of cases being deleted, before their values are."""
    keys = conn.execute(_SUBSTRING_KEYS.where(case_values.c.case_seq.in_(case_seqs))).all()
    _later(conn, _SQLITE_FORGET_SUBSTRINGS,
           [(substring_key(field_seq, case_seq),) for case_seq, field_seq in keys])


def _phrase(text: str) -> str:
    """An FTS5 phrase of ``text``: every character literal."""
    return '"' + text.replace('"', '""') + '"'


def _substring_test(conn: Connection, field_seqs: dict[str, int], node: tuple) -> tuple:
    """A contains test the substring index answers, as ``("substring", field node, FTS5 query,
    lowest key, key above the highest, whether the query's answer is exact)``, the query None
    for a pattern under three characters (no trigram to look up: the field's documents are
    scanned); any other node as it is."""
    _, test, field_id, member, value = node
    if (test != "contains" or not _is_sqlite(conn) or member != "stringValue"
            or field_id in SERVICE_MAINTAINED or not value):
        return node
    pattern = value.lower()  # what the exact test looks for (_contains)
    query, exact = None, True
    if TRIGRAM <= len(pattern) <= PHRASE_CHARS:
        query = _phrase(pattern)
    elif len(pattern) >= TRIGRAM:
        trigrams = list(dict.fromkeys(pattern[n:n + TRIGRAM]
                                      for n in range(len(pattern) - TRIGRAM + 1)))
        trigrams = trigrams[::-(-len(trigrams) // TRIGRAMS_MAX)]
        query, exact = " AND ".join(map(_phrase, trigrams)), False
    field_seq = field_seqs[field_id]
    return ("substring", node, query, substring_key(field_seq, 0),
            substring_key(field_seq + 1, 0), exact)


# A pattern under three characters names no trigram: the field's values are read whole and
# tested, from the table FTS5 keeps the documents' text in (``<table>_content``: ``id`` the
# rowid, ``c0`` the text), by key range. That is a scan of one field's values (about 100 ms
# for a million titles), not of the domain's cases with a probe each (5 s).
_SUBSTRING_TEXTS = table("cases_search_substrings_content", column("id"), column("c0"))


def _substring_cases(node: tuple, exact: bool, seqs: tuple | None = None):
    """The seqs of the cases whose value in a ``substring`` node's field matches its query
    (the documents in the field's range; ``seqs``: of the cases from the first to the last seq
    of the pair, SQL expressions); ``exact``: of those whose value contains the pattern, a
    query that names a superset tested on the text the index keeps (the value), so that the
    index alone answers, and counts, the test. A node without a query (no trigram) reads the
    field's documents one by one, each tested (exact in any case)."""
    _, (_, _, _, _, value), query, low, high, query_exact = node
    if query is None:
        texts = _SUBSTRING_TEXTS
        return select(texts.c.id.op("&")(literal_column(str(SEQ_MASK))).label("seq")).where(
            texts.c.id >= low, texts.c.id < high, _contains(texts.c.c0, value))
    match = literal_column("cases_search_substrings").op("MATCH")(literal(query, String))
    first, last = (0, high - low - 1) if seqs is None else seqs
    where = [match, _SUBSTRINGS.c.rowid >= low + first, _SUBSTRINGS.c.rowid <= low + last]
    if exact and not query_exact:
        where.append(_contains(_SUBSTRINGS.c.text, value))
    return select(_SUBSTRINGS.c.rowid.op("&")(literal_column(str(SEQ_MASK))).label("seq")).where(
        *where)


def _scans_keys(conn: Connection, node: tuple) -> bool:
    """Whether a field node is a contains test answered by scanning keys or values
    (``_keys_holding``): on a text the service sets (but a reference number PostgreSQL's
    trigram index looks up), and on PostgreSQL on any value its trigram indexes cannot look
    up (users of many values included: see DISTINCT_MAX). SQLite's substring index answers the
    other texts; its users of many values are tested case by case (their index keys are not
    whole values: a user ARN runs to 500 characters)."""
    _, test, field_id, member, value = node
    if (test != "contains" or not value or member not in ("stringValue", "userArnValue")
            or _trigram_indexed(conn, node)):
        return False
    return field_id in _WHOLE_KEYS or not _is_sqlite(conn)


def _keys_holding(node: tuple):
    """The seqs of the cases whose value in a ``keys`` node's field contains its pattern, read
    from a narrow index instead of from each case: a case id from the domain's index of case
    ids, a reference number or time from the field's entries in the value index, whose key is
    the whole value (such texts are shorter than KEY_CHARS), and any other value from the
    field's rows of the value table. A scan of a million keys (on SQLite 0.14 s for case ids,
    0.24 s in the value index; on PostgreSQL 0.43 s for case ids, 1.5 s for the value table),
    where testing each case of the domain read its value from anywhere in the database (ten
    minutes for a rare part of a case id at a million cases on SQLite, cold; PostgreSQL had
    not answered after five)."""
    (_, _, field_id, _, value), domain_id = node[1], node[2]
    if field_id == "case_id":
        return select(cases.c.seq).where(cases.c.domain_id == domain_id,
                                         _contains(cases.c.case_id, value))
    held = case_values.alias()
    tested = text_key(held.c.string_value) if field_id in _WHOLE_KEYS else held.c.string_value
    return select(held.c.case_seq.label("seq")).where(
        *_index_entries(held, domain_id, field_id, "string_value"), _contains(tested, value))


# A user field holds the ARNs of a contact center's agents: few distinct values, however many
# cases hold them. A contains test of one reads them from the value index with one seek each
# (``_values_holding``), tests them, and becomes a test of the values that matched, which the
# index answers and counts like equalTo: testing case by case took 1.4 s at a million cases of
# 50 agents on SQLite (counting 10,000 matches), and scanning every value 1.3 s on PostgreSQL.
# A field of more distinct values than this is tested as before.
DISTINCT_MAX = 1000


def _values_holding(conn: Connection, domain_id: str, field_id: str,
                    pattern: str) -> list[str] | None:
    """The distinct values of a field of the domain that contain ``pattern`` (``_contains``),
    read from the value index, each found by one seek past the one before (a recursive loose
    scan); None when it holds more than DISTINCT_MAX of them, or a value as long as its key
    (the key would not be the whole value)."""

    def entries():  # (key, conditions) of the field's entries in the index, a new alias each
        held = case_values.alias()
        return text_key(held.c.string_value), _index_entries(held, domain_id, field_id,
                                                             "string_value")

    key, where = entries()
    found = select(func.min(key).label("key")).where(*where).cte("found", recursive=True)
    key, where = entries()
    found = found.union_all(select(select(func.min(key)).where(*where, key > found.c.key)
                                   .scalar_subquery()).where(found.c.key.is_not(None)))
    rows = conn.execute(select(found.c.key, _contains(found.c.key, pattern))
                        .where(found.c.key.is_not(None)).limit(DISTINCT_MAX + 1)).all()
    if len(rows) > DISTINCT_MAX or any(len(value) >= KEY_CHARS for value, _ in rows):
        return None
    return [value for value, matched in rows if matched]


_TRIGRAM_WORD = re.compile(r"[A-Za-z0-9]{3}")


def _trigram_field(held, field_id: str) -> list[ColumnElement]:
    """The test of a value's field in a lookup of a trigram index: the index's own predicate,
    so that the planner sees that it applies. The field of the values' index is written so
    that PostgreSQL cannot look it up in the primary key (case seq, field): it read every
    entry of it there to intersect them with the trigram index's candidates, since it takes a
    common trigram for a rare one (a product holding "384" at a million cases: 2 to 3.5 s;
    the candidates alone, 14,682 of them, take 5 ms, and testing them 0.1 s)."""
    if field_id == "reference_number":  # its own index, of that field alone
        return [held.c.field_id == field_id]
    return [held.c.field_id.concat("") == field_id,
            held.c.field_id.not_in(sorted(SERVICE_MAINTAINED))]


def _trigram_indexed(conn: Connection, node: tuple) -> bool:
    """Whether one of PostgreSQL's trigram indexes answers a field node (a contains test on the
    values it holds, with a pattern it can look up)."""
    _, test, field_id, member, value = node
    return (test == "contains" and member == "stringValue" and not _is_sqlite(conn)
            and (field_id not in SERVICE_MAINTAINED or field_id == "reference_number")
            and _TRIGRAM_WORD.search(value) is not None)


# A search word with at most this many completions in the vocabulary is searched as the OR of
# them (exact terms, which FTS5 reads lazily from either end: about 10 µs a term to open); one
# with more, or of hex digits only, as a prefix query (whose posting list SQLite's FTS5 builds
# whole before the first row: cheap for the rare words that ids are, 300 ms for a start of 18
# words of a million cases' titles).
COMPLETIONS_MAX = 64
# The term index also indexes every word's first character under its scope (FTS5's prefix
# index, migration search_0007): a prefix query of one character reads one posting list. Its
# length in characters: a scope (``scope``) and one more.
PREFIX_INDEXED = 22
_COMPLETIONS = Prepared(text("SELECT term FROM cases_search_words WHERE term >= :low "
                             "AND term < :high ORDER BY term LIMIT :n").columns(column("term")))


def _fts_query(conn: Connection, mark: str, words: list[str]) -> str | None:
    """The FTS5 query for search words scoped by ``mark``, or None when some word starts no
    word of the vocabulary (nothing matches)."""
    parts = []
    for word in (mark + word for word in words):
        if _HEX_ONLY.fullmatch(word, len(mark)):
            parts.append(f'"{word}"*')
            continue
        found = [row[0] for row in _COMPLETIONS.all(
            conn, {"low": word, "high": word + "\U0010ffff", "n": COMPLETIONS_MAX + 1})]
        if not found:
            return None
        if len(found) > COMPLETIONS_MAX or len(word) == PREFIX_INDEXED:
            parts.append(f'"{word}"*')
        else:
            parts.append("(" + " OR ".join(f'"{term}"' for term in found) + ")")
    return " AND ".join(parts)


def indexed_tree(conn: Connection, domain_id: str, field_seqs: dict[str, int],
                 node: tuple) -> tuple:
    """A filter tree whose search words look in ``domain_id``'s part of the term index:
    ``("words", scoped words, query)``, the query in the index's language (None: nothing
    matches); whose contains tests the substring index answers are ``substring`` nodes
    (``_substring_test``; ``field_seqs``: the definition seq of each field the tree tests but
    those the service sets); and whose contains tests are answered by a scan of keys or values
    are ``keys`` nodes (``_scans_keys``, ``_keys_holding``)."""
    kind = node[0]
    if kind == "field" and node[1] == "contains" and node[3] == "userArnValue":
        held = _values_holding(conn, domain_id, node[2], node[4])
        if held is not None:
            return ("values", node[2], held)
    if kind == "field" and _scans_keys(conn, node):
        return ("keys", node, domain_id)
    if kind == "field":
        return _substring_test(conn, field_seqs, node)
    if kind == "words":
        if not node[1]:
            return ("words", [], None)
        scoped = document(domain_id, node[1])
        if _is_sqlite(conn):
            return ("words", scoped, _fts_query(conn, scope(domain_id), node[1]))
        return ("words", scoped, " & ".join(f"'{word}':*" for word in scoped))
    if kind in ("and", "or"):
        return (kind, [indexed_tree(conn, domain_id, field_seqs, inner)
                       for inner in node[1]])
    if kind == "not":
        return ("not", indexed_tree(conn, domain_id, field_seqs, node[1]))
    return node


def _term_query(conn: Connection, query: str | None):
    """(case seq column, condition) selecting the cases holding a scoped search term, from its
    query (``indexed_tree``)."""
    if _is_sqlite(conn):
        seq = _FTS.c.rowid.op("&")(literal_column(str(SEQ_MASK)))
        match = literal_column("cases_search_terms").op("MATCH")(literal(query, String))
    else:
        seq = _TSV.c.case_seq
        match = _TSV.c.terms.op("@@")(cast(literal(query, String), TSQUERY))
    return seq, false() if query is None else match


# Entries of the term index read beyond a chunk's want (CaseSearch._ordered_page).
SPARE_ENTRIES = 8
_NEWEST_KEYS = Prepared(text(
    "SELECT rowid FROM cases_search_terms WHERE cases_search_terms MATCH :query "
    "AND rowid < :below ORDER BY rowid DESC LIMIT :n").columns(column("rowid")))
_KEYS_FROM = Prepared(text(
    "SELECT rowid FROM cases_search_terms WHERE cases_search_terms MATCH :query "
    "AND rowid >= :low AND rowid < :below").columns(column("rowid")))


def _term_test(conn: Connection, node: tuple) -> ColumnElement:
    """A per-case test of the search term."""
    if not node[1]:
        return true()
    seq, matched = _term_query(conn, node[2])
    if _is_sqlite(conn):
        # FTS5 answers "which rows match" (the set is built once per statement).
        return cases.c.seq.in_(select(seq).where(matched))
    return _probe(seq == cases.c.seq, matched)


# -- SearchCases: field values through the (domain, field, value) indexes -----------------------

# Text values are indexed (and sorted) by their first KEY_CHARS characters: PostgreSQL limits a
# B-tree entry to about 2.7 kB, and values reach 4,100 characters. Comparisons stay exact: the
# key narrows, the whole value decides. Literal arguments, so that the expression in a query is
# the indexed expression.
KEY_CHARS = 256


def text_key(column: ColumnElement) -> ColumnElement:
    return func.substr(column, literal_column("1"), literal_column(str(KEY_CHARS)))


# Partial: a row fills one typed column, and only that column's index holds it (migration
# search_0002); queries name ``<column> IS NOT NULL`` (``_held``) so that both databases see
# that the index applies.
VALUE_INDEXES = [
    Index(f"ix_cases_case_values_{name}", case_values.c.domain_id, case_values.c.field_id,
          key, case_values.c.case_seq,
          sqlite_where=case_values.c[f"{name}_value"].is_not(None),
          postgresql_where=case_values.c[f"{name}_value"].is_not(None))
    for name, key in (("string", text_key(case_values.c.string_value)),
                      ("double", case_values.c.double_value),
                      ("boolean", case_values.c.boolean_value))
]


def _held(held, column_name: str) -> ColumnElement:
    """The term that lets a query on ``held`` use the partial index of ``column_name``."""
    return held.c[column_name].is_not(None)


def _index_entries(held, domain, field_id: str, column_name: str) -> list[ColumnElement]:
    """The conditions that make ``held`` (an alias of the value table) the entries of one field
    of a domain (its id, or a column holding it) in the value index of ``column_name``
    (domain, field, key, case seq), read in order."""
    return [held.c.domain_id == domain, held.c.field_id == field_id, _held(held, column_name)]


# Fields every case holds a value for (the service sets them, or the API never lets them be
# emptied): a sort on one of them never reaches cases without a value.
ALWAYS_SET = frozenset({"case_id", "reference_number", "created_datetime",
                        "last_updated_datetime", "title"})


def sort_key(held, column_name: str) -> ColumnElement:
    """What a sort on a value column orders by (text: its indexed key)."""
    column = held.c[column_name]
    return text_key(column) if column_name == "string_value" else column


def _value_test(held, test: str, member: str, value: Any) -> ColumnElement:
    """The comparison of a held value with a filter operand, in a form the index can use."""
    column = held.c[COLUMN[member]]
    if test == "contains":
        return _contains(column, value)
    if COLUMN[member] != "string_value":
        return column == value if test == "equalTo" else getattr(column, _COMPARE[test])(value)
    key, cut = text_key(column), value[:KEY_CHARS]
    if test == "equalTo":
        return and_(key == cut, column == value)
    # For a prefix p of fixed length, a > b implies p(a) >= p(b) (and a < b, p(a) <= p(b)).
    narrowed = key >= cut if test.startswith("greater") else key <= cut
    return and_(narrowed, getattr(column, _COMPARE[test])(value))


class _Folded(GenericFunction):
    """``lower(text)`` where the comparison needs it: PostgreSQL's LIKE heeds case (and its
    trigram index is of ``lower(string_value)``); SQLite's ignores the case of ASCII letters,
    and its ``lower`` folds nothing else, so there the text is compared as it is (a scan of a
    million values took 96 ms instead of 278)."""

    name = "lower"
    inherit_cache = True
    _register = False  # func.lower stays SQLAlchemy's own


@compiles(_Folded, "sqlite")
def _folded_on_sqlite(element, compiler, **kw) -> str:
    return compiler.process(element.clauses, **kw)


def _contains(column: ColumnElement, value: str) -> ColumnElement:
    """The contains test: ``value`` within the text, ignoring case."""
    return _Folded(column).contains(value.lower(), autoescape=True)


def _all(parts: list[ColumnElement]) -> ColumnElement:
    return and_(*parts) if parts else true()


def _any(parts: list[ColumnElement]) -> ColumnElement:
    return or_(*parts) if parts else false()


def _probe(*where: ColumnElement) -> ColumnElement:
    """Whether a row satisfying ``where`` exists, tested case by case. Written as a scalar
    subquery rather than EXISTS: PostgreSQL turns an EXISTS into a semi-join it may answer by
    scanning the whole value table, where walking the sort index and probing each case by
    primary key finds a page after a few dozen probes."""
    return select(literal_column("1")).where(*where).limit(1).scalar_subquery().is_not(None)


class _ThroughIndex(Alias):
    """An alias of the value table that SQLite reads through one typed value index
    (``INDEXED BY``; other databases choose for themselves). One subclass per index, so that
    SQLAlchemy's statement cache tells them apart."""

    inherit_cache = True
    index = ""


# {typed column: its alias class}, one per value index.
_THROUGH = {index.name.removeprefix("ix_cases_case_values_") + "_value":
            type(f"_Through_{index.name}", (_ThroughIndex,),
                 {"index": index.name, "inherit_cache": True})
            for index in VALUE_INDEXES}


@compiles(_ThroughIndex, "sqlite")
def _through_index_on_sqlite(element, compiler, **kw) -> str:
    named = compiler.visit_alias(element, **kw)
    return f"{named} INDEXED BY {element.index}" if kw.get("asfrom") else named


def _field_test(test: str, field_id: str, member: str, value: Any,
                through_index: bool = False) -> ColumnElement:
    """The test of one field of a case; ``through_index``: on SQLite (``_ThroughIndex``)."""
    if through_index and test == "equalTo" and member != "emptyValue" and (
            COLUMN[member] != "string_value" or len(value) < KEY_CHARS):
        # Probed in the value index alone, (domain, field, value, case) all given: a text key
        # shorter than KEY_CHARS is the whole value, and a field's values are all of its
        # type's member. SQLite would pick the primary key, which also reads the row: counting
        # the cases of a search term that hold a value, or two values, took 1.5 times as long
        # at a million cases. (PostgreSQL, left to choose, came out no faster.)
        held = _THROUGH[COLUMN[member]]._construct(case_values)
        return _probe(*_index_entries(held, cases.c.domain_id, field_id, COLUMN[member]),
                      _index_key_test(held, test, member, value),
                      held.c.case_seq == cases.c.seq)
    held = case_values.alias()
    same_field = [held.c.case_seq == cases.c.seq, held.c.field_id == field_id]
    if member == "emptyValue":
        return not_(_probe(*same_field))
    return _probe(*same_field, held.c.kind == member, _value_test(held, test, member, value))


def _tag_test(case_arn_prefix: str, key: str | None, value: str | None) -> ColumnElement:
    case_arn = literal(case_arn_prefix, String) + cases.c.case_id
    where = [tags.c.resource_arn == case_arn]
    if key is not None:
        where.append(tags.c.key == key)
    if value is not None:
        where.append(tags.c.value == value)
    return exists().where(*where)


def condition(conn: Connection, node: tuple, case_arn_prefix: str) -> ColumnElement:
    """The SQL condition on ``cases_cases`` rows for a filter tree (see the module docstring)."""
    kind = node[0]
    if kind == "field":
        return _field_test(*node[1:], through_index=_is_sqlite(conn))
    if kind == "substring":
        if node[2] is None:  # no candidates short of a scan: each case tested
            return _field_test(*node[1][1:])
        if node[5]:  # the index's answer is exact
            return cases.c.seq.in_(_substring_cases(node, exact=True))
        # The index's candidates (cheap to build: once per statement), then each case tested,
        # which costs less than testing every candidate when a walk stops at a full page.
        return and_(cases.c.seq.in_(_substring_cases(node, exact=False)),
                    _field_test(*node[1][1:]))
    if kind == "keys":  # tested case by case, unless CaseSearch read its answer beforehand
        return _field_test(*node[1][1:])
    if kind == "values":
        if not node[2]:
            return false()
        held = (_THROUGH["string_value"]._construct(case_values) if _is_sqlite(conn)
                else case_values.alias())
        return _probe(*_index_entries(held, cases.c.domain_id, node[1], "string_value"),
                      text_key(held.c.string_value).in_(node[2]), held.c.case_seq == cases.c.seq)
    if kind == "tag":
        return _tag_test(case_arn_prefix, node[1], node[2])
    if kind == "words":
        return _term_test(conn, node)
    if kind == "seqs":  # the search term's answer, asked beforehand (CaseSearch)
        return cases.c.seq.in_(node[1])
    if kind == "not":
        return not_(condition(conn, node[1], case_arn_prefix))
    if kind == "and":
        return _all([condition(conn, inner, case_arn_prefix) for inner in node[1]])
    if kind == "or":
        return _any([condition(conn, inner, case_arn_prefix) for inner in node[1]])
    raise ValueError(f"unknown filter node {kind}")


def _tested(node: tuple) -> tuple:
    """A tree whose ``substring`` and ``keys`` nodes are their contains tests again (case by
    case)."""
    kind = node[0]
    if kind in ("substring", "keys"):
        return node[1]
    if kind in ("and", "or"):
        return (kind, [_tested(inner) for inner in node[1]])
    if kind == "not":
        return ("not", _tested(node[1]))
    return node


def _conjuncts(node: tuple) -> list[tuple]:
    """The members of a tree's top-level AND (nested ANDs flattened)."""
    if node[0] == "and":
        return [part for inner in node[1] for part in _conjuncts(inner)]
    return [node]


def _index_key_test(held, test: str, member: str, value: Any) -> ColumnElement:
    """The part of a value comparison the (domain, field, value) index answers on its own: the
    whole test for numbers and booleans, the indexed key of text (a superset of the matches)."""
    column = held.c[COLUMN[member]]
    if COLUMN[member] != "string_value":
        return column == value if test == "equalTo" else getattr(column, _COMPARE[test])(value)
    key, cut = text_key(column), value[:KEY_CHARS]
    if test == "equalTo":
        return key == cut
    return key >= cut if test.startswith("greater") else key <= cut


def _tagged_cases(domain_id: str, case_arn_prefix: str, key: str | None,
                  value: str | None):
    """The seqs of the domain's cases holding a tag (``key``, ``value``: None for any): the
    domain's tags (its index of them holds every tagged resource of the domain) joined to its
    index of case ids."""
    where = [tags.c.domain_id == domain_id,
             func.substr(tags.c.resource_arn, 1, len(case_arn_prefix)) == case_arn_prefix]
    if key is not None:
        where.append(tags.c.key == key)
    if value is not None:
        where.append(tags.c.value == value)
    case_id = func.substr(tags.c.resource_arn, len(case_arn_prefix) + 1)
    return (select(cases.c.seq).distinct()
            .select_from(tags.join(cases, and_(cases.c.domain_id == domain_id,
                                               cases.c.case_id == case_id)))
            .where(*where))


def _read_once(part: tuple, domain_id: str, case_arn_prefix: str):
    """The statement of a conjunct's exact answer that a search reads once, beforehand, rather
    than test case by case: a field's documents or its keys or values scanned (a ``substring``
    node without a query, a ``keys`` node), or the domain's tags; None for any other."""
    if part[0] == "substring" and part[2] is None:
        return _substring_cases(part, exact=True)
    if part[0] == "keys":
        return _keys_holding(part)
    if part[0] == "tag":
        return _tagged_cases(domain_id, case_arn_prefix, part[1], part[2])
    return None


def _drivers(conn: Connection, domain_id: str, case_arn_prefix: str,
             node: tuple) -> list[tuple]:
    """``(conjunct, statement, exact, index)`` per top-level conjunct an index answers
    (``_answer``)."""
    found = []
    for part in _conjuncts(node):
        answer = _answer(conn, domain_id, case_arn_prefix, part)
        if answer is not None:
            found.append((part, *answer))
    return found


def _answer(conn: Connection, domain_id: str, case_arn_prefix: str,
            node: tuple) -> tuple | None:
    """``(statement, exact, index)`` when indexes answer a node (search words; equalTo and
    range tests; contains tests, in ``substring`` nodes on SQLite, ``keys`` and ``values``
    nodes, and through the trigram index on PostgreSQL; tags; an ``or`` of such nodes, or of
    ``and`` nodes holding one), else None: the statement selects (a superset of) the seqs of
    the cases satisfying the node from indexes alone, exactly those when ``exact``.
    ``index`` is ``"words"`` (the term index), ``"substrings"``, ``"scan"`` (``_read_once``:
    a field's documents, keys or values read one by one, or the domain's tags), ``"values"``
    (a value index) or ``"union"`` (an ``or``); the node's own test of the first two already
    narrows to their answer (``condition``)."""
    kind = node[0]
    if kind == "words":
        if not node[1]:
            return None
        seq, matched = _term_query(conn, node[2])
        return select(seq.label("seq")).where(matched), False, "words"
    if kind == "substring":
        return (_substring_cases(node, exact=True), True,
                "substrings" if node[2] is not None else "scan")
    if kind in ("keys", "tag"):
        return _read_once(node, domain_id, case_arn_prefix), True, "scan"
    if kind == "values":
        held = case_values.alias()
        held_values = select(held.c.case_seq.label("seq")).where(
            *_index_entries(held, domain_id, node[1], "string_value"),
            text_key(held.c.string_value).in_(node[2]))
        return held_values, True, "values"
    if kind == "field" and _trigram_indexed(conn, node):
        _, _, field_id, member, value = node
        held = case_values.alias()
        return select(held.c.case_seq.label("seq")).where(
            held.c.domain_id == domain_id, *_trigram_field(held, field_id),
            held.c.kind == member, _contains(held.c.string_value, value)), True, "values"
    if kind == "field" and node[3] != "emptyValue" and node[1] != "contains":
        _, test, field_id, member, value = node
        held = case_values.alias()
        # A text key shorter than KEY_CHARS is the whole value: the key test is exact.
        exact = COLUMN[member] != "string_value" or (
            test == "equalTo" and len(value) < KEY_CHARS)
        in_range = select(held.c.case_seq.label("seq")).where(
            *_index_entries(held, domain_id, field_id, COLUMN[member]),
            _index_key_test(held, test, member, value))
        return in_range, exact, "values"
    if kind == "and":  # within an or: one member's answer, a superset unless it is the only one
        answers = (_answer(conn, domain_id, case_arn_prefix, inner) for inner in node[1])
        answer = next((answer for answer in answers if answer is not None), None)
        if answer is None:
            return None
        return answer[0], answer[1] and len(node[1]) == 1, answer[2]
    if kind == "or" and node[1]:
        # Each case of the domain tested against every member took 2.6 s on PostgreSQL for
        # the count of two contains tests at a million cases.
        answers = [_answer(conn, domain_id, case_arn_prefix, inner) for inner in node[1]]
        if any(answer is None for answer in answers):
            return None
        # A member's own union is read as a subquery: SQLite takes no nested compound select.
        first, *rest = (answer[0] if isinstance(answer[0], Select)
                        else select(answer[0].subquery().c.seq) for answer in answers)
        return first.union(*rest), all(answer[1] for answer in answers), "union"
    return None


def _trivial(node: tuple) -> bool:
    return node[0] == "words" and not node[1]


# -- SearchCases: the page and its count -----------------------------------------------------------

# A search whose narrowest index answer holds at most ``drive_limit`` cases reads those cases
# and sorts them; otherwise it walks the sort index and tests each case until the page is full.
# totalCount is exact up to ``total_cap`` matching cases and ``total_cap`` beyond (a lower bound,
# the way a search engine tracks hits), so that counting never walks a whole domain. Both come
# from the settings (--search-drive-limit, --search-total-cap).
#
# A search term in the default order (most recently updated first) on SQLite is read in that
# order from the term index instead (the "ordered" plan, see SEQ_BITS), unless another index
# answer is narrow enough to read whole: its newest entries, a chunk ending on a whole second
# (every case of the term outside the chunk was updated in an earlier second, so it sorts
# after every case of the chunk), are tested against the rest of the filter and sorted exactly;
# the next chunk is read only when they do not fill the page. A term alone is counted on the
# index (the domain's part of it) alone.
#
# A walk in one sort field's order, with a contains test the substring index answers by lookup,
# first reads PROBE_CASES entries of the sort index per case of the page and asks the substring
# index only for its documents of the cases between the lowest and the highest seq among them;
# the cases it holds are read and tested against the rest of the filter, and when they fill the
# page, that is the page. The cases updated last are mostly the ones created last, so that
# range is short, where the whole walk asks the index for every case of the field that holds
# the pattern (5.7 ms for the 20,000 titles holding "tablet" of a million). Otherwise the walk
# runs as above.
PROBE_CASES = 128


# A walk that has tested about ``walk_cases`` cases (--search-walk-cases) without filling its
# page is given up for the narrowest index answer, read whole and sorted, when that answer holds
# at most SORTED_PER_DRIVEN times the drive limit (sorting costs about 3 µs a case on SQLite
# here): the walk meets the matches last when they are the cases updated longest ago (cases
# created before a date, newest first, at a million cases: on SQLite 2 s walking, 0.3 s
# sorting 90,000; on PostgreSQL 5 to 11 s and 0.6 s). A larger answer is walked to the end. SQLite
# counts the steps of its virtual machine (a walk costs it about WALK_STEPS_PER_CASE a case);
# PostgreSQL walks the first ``walk_cases`` entries of the sort index, then counts them. Work
# is counted, not timed, so that a search takes the same plan under load.
WALK_STEPS_PER_CASE = 32
SORTED_PER_DRIVEN = 100
_STEPS_PER_TICK = 10_000


def _within_steps(conn: Connection, steps: int, read):
    """``read()``, or None when SQLite takes more than ``steps`` steps over it."""
    raw = conn.connection.driver_connection
    every = min(steps, _STEPS_PER_TICK)
    ticks = 0

    def tick() -> bool:
        nonlocal ticks
        ticks += 1
        return ticks > steps // every

    raw.set_progress_handler(tick, every)
    try:
        return read()
    except OperationalError:
        if ticks <= steps // every:
            raise
        return None
    finally:
        raw.set_progress_handler(None, 0)


class CaseSearch:
    """One SearchCases query: its filter, its sort keys and the plan chosen for it."""

    def __init__(self, conn: Connection, domain_id: str, tree: tuple, case_arn_prefix: str,
                 sorts: list[tuple[str, str, bool]], field_seqs: dict[str, int],
                 drive_limit: int, total_cap: int, walk_cases: int):
        self.conn, self.domain_id, self.sorts = conn, domain_id, sorts
        self.total_cap, self.walk_cases = total_cap, walk_cases
        self.sorted_max = SORTED_PER_DRIVEN * drive_limit
        tree = indexed_tree(conn, domain_id, field_seqs, tree)
        parts = [part for part in _conjuncts(tree) if not _trivial(part)]
        words = next((part for part in parts if part[0] == "words"), None)
        rest = [part for part in parts if part is not words]
        self.ordered = (words is not None and _is_sqlite(conn) and bool(sorts)
                        and sorts[0][0] == LAST_UPDATED and sorts[0][2])
        self.query = words[2] if words is not None else None
        # What the ordered plan tests its chunks against: the filter but the search term, each
        # contains test case by case (a chunk is a few cases; the substring index's candidates
        # could be many).
        self.rest = (condition(conn, ("and", [_tested(part) for part in rest]), case_arn_prefix)
                     if self.ordered else None)
        # Otherwise the search term asks the term index once, and a contains test that scans
        # its field's documents or keys, and a tag test, are run once: a small answer is kept
        # as a list of case seqs (the test becomes "seq in the list"), a large one stays a
        # subquery, known to hold more than the drive limit (``oversized``, by node).
        lists, kept, oversized = [], [], set()
        for part in parts:
            if part is words and not self.ordered:
                seq, matched = _term_query(conn, self.query)
                answer = select(seq).where(matched)
            else:
                answer = _read_once(part, domain_id, case_arn_prefix)
            if answer is None:
                kept.append(part)
                continue
            found = [row[0] for row in conn.execute(answer.limit(drive_limit + 1))]
            if len(found) <= drive_limit:
                lists.append(found)
                part = ("seqs", found)
            else:
                oversized.add(id(part))
            kept.append(part)
        tree = ("and", kept)
        self.where = condition(conn, tree, case_arn_prefix)
        # Comparisons of one field with a value: where that field is the one sorted by, a walk
        # starts and ends at the comparison in its index rather than testing every case of the
        # domain on the way (cases not updated since a date, newest first).
        self.compared = [part[1:] for part in kept if part[0] == "field"
                         and part[1] != "contains" and part[3] != "emptyValue"]
        # What a walk tries first (``_probe_page``): a contains test the substring index
        # answers by lookup, and the rest of the filter.
        probe = next((part for part in kept if part[0] == "substring" and part[2] is not None),
                     None)
        self.probe = None if probe is None or len(sorts) != 1 else (
            probe, ("and", [part for part in kept if part is not probe]), case_arn_prefix)
        # The narrowest index answer, and whether it is narrow enough to read whole;
        # ``in_filter``: the filter's own test of it narrows to its cases already (the substring
        # index, and SQLite's term index, hand over their whole answer at once; PostgreSQL's
        # term test probes each case, so a sort of its answer names the answer: a page of
        # `seat` with a contains test at a million cases tested every case, 2.1 s).
        self.driver, self.driven, best, self.in_filter = None, False, None, False
        driver_index = None
        # A search of one test whose whole answer was read: its size is the count.
        self.known_total = len(lists[0]) if lists and len(parts) == 1 else None
        if lists:
            self.driver, best, self.in_filter = select(cases.c.seq), min(map(len, lists)), True
        for part, driver, driver_exact, index in _drivers(conn, domain_id, case_arn_prefix,
                                                          tree):
            if index == "words" and self.ordered:
                continue  # read in order, never whole
            if driver_exact and len(parts) == 1:
                # The index answers the whole search: counted once, for the plan and the
                # count (PostgreSQL would build a trigram lookup's candidates twice).
                size = _capped_count(conn, driver, max(drive_limit, total_cap) + 1)
                self.known_total = min(size, total_cap)
            elif id(part) in oversized:
                size = drive_limit + 1
            else:
                size = _capped_count(conn, driver, drive_limit + 1)
            if best is None or size < best:
                self.driver, best, driver_index = driver, size, index
                self.in_filter = index == "substrings" or (index == "words"
                                                           and _is_sqlite(conn))
        if len(parts) == 1 and parts[0][0] == "field" and parts[0][3] == "emptyValue":
            # No index lists the cases without a value, so counting them tested every case of
            # the domain until the cap (none at a million cases: 2.1 s on SQLite with the walk
            # for the page, which a count of none now skips; 5.5 s on PostgreSQL).
            self.known_total = min(self._without_value(parts[0][2]), total_cap)
        self.driven = best is not None and best <= drive_limit
        # PostgreSQL tests a search term case by case (a walk tests a few cases), so a count
        # driven by the term reads its answer once and tests the rest of the filter on its
        # cases: counting the domain's cases tested the term on each of them (a word and a
        # tier at a million cases: 2.1 s).
        self.term_rest = (condition(conn, ("and", [part for part in kept if part[0] != "words"]),
                                    case_arn_prefix)
                          if driver_index == "words" and not self.driven
                          and not _is_sqlite(conn) else None)
        # A search of words alone is counted on the index (each document is one case of the
        # domain).
        self.counted_on_index = (len(parts) == 1 and parts[0][0] == "words"
                                 and not self.driven)
        if self.counted_on_index and self.ordered:
            seq, matched = _term_query(conn, self.query)
            self.driver = select(seq).where(matched)

    def page(self, after: list | None, limit: int) -> list:
        """Up to ``limit`` matching cases after the keyset cursor ``after``; each row is
        ``(seq, case_id, template_id, *sort keys)`` and ``[*sort keys, seq]`` its cursor."""
        if self.known_total == 0:
            return []
        if self.driven:
            return self._sorted_page(after, limit)
        if self.ordered:
            return self._ordered_page(after, limit)
        if self.driver is not None and self.walk_cases:
            rows = self._walk_within(after, limit)
            if rows is not None:
                return rows
            if _capped_count(self.conn, self.driver, self.sorted_max + 1) <= self.sorted_max:
                return self._sorted_page(after, limit)
        return self._walk(after, limit)

    def _sorted_page(self, after: list | None, limit: int) -> list:
        """The page from the narrowest index answer, read whole and sorted."""
        statement, keys = self._statement(outer=True, by_seq=True)
        if not self.in_filter:
            statement = statement.where(cases.c.seq.in_(self.driver.scalar_subquery()))
        return self._run(statement, keys, after, limit)

    def _walk(self, after: list | None, limit: int) -> list:
        """The page found by walking the first sort field's index in order."""
        if self.probe is not None:
            rows = self._probe_page(after, limit)
            if len(rows) == limit:
                return rows
        # Walk the first sort field's index in order: cases holding a value, then (unless the
        # field always has one) the others, newest first.
        statement, keys = self._statement(outer=False)
        rows = self._run(statement, keys, after, limit)
        if len(rows) < limit and self._walks_cases_without_a_value():
            statement, keys = self._statement(outer=True)
            statement = statement.where(keys[0].expr.is_(None))
            rows += self._run(statement, keys, after, limit - len(rows))
        return rows

    def _first_entries(self, after: list | None, entries: int) -> tuple[Any, list[SortKey]]:
        """(chunk, its order): the first ``entries`` entries of the sort index after the
        cursor, within the filter's comparisons of the sort field (one sort field)."""
        (field_id, value_column, descending), = self.sorts
        held = case_values.alias()
        keys = [SortKey(sort_key(held, value_column), descending, nullable=False),
                SortKey(held.c.case_seq, True, nullable=False)]
        walk = select(held.c.case_seq.label("seq"), keys[0].expr.label("key")).where(
            *_index_entries(held, self.domain_id, field_id, value_column),
            *self._bounds(held, field_id, value_column))
        if after is not None:
            walk = walk.where(self._beyond(keys, after))
        chunk = walk.order_by(*(k.order() for k in keys)).limit(entries).cte("chunk")
        return chunk, [SortKey(chunk.c.key, descending, nullable=False),
                       SortKey(chunk.c.seq, True, nullable=False)]

    def _page_of(self, chunk, ordered: list[SortKey], where: list[ColumnElement],
                 limit: int) -> list:
        """The matching cases among a chunk of the sort index, in order."""
        return self.conn.execute(
            select(cases.c.seq, cases.c.case_id, cases.c.template_id, chunk.c.key)
            .select_from(chunk.join(cases, cases.c.seq == chunk.c.seq))
            .where(cases.c.domain_id == self.domain_id, *where)
            .order_by(*(k.order() for k in ordered)).limit(limit)).all()

    def _probe_page(self, after: list | None, limit: int) -> list:
        """The matching cases among the first ``PROBE_CASES * limit`` entries of the sort
        index (see above), in order: the whole page when they hold it."""
        node, rest, case_arn_prefix = self.probe
        # The index alone, in order; each case is read only when the substring index holds it.
        chunk, ordered = self._first_entries(after, PROBE_CASES * limit)
        seqs = (select(func.min(chunk.c.seq)).scalar_subquery(),
                select(func.max(chunk.c.seq)).scalar_subquery())
        return self._page_of(chunk, ordered,
                             [chunk.c.seq.in_(_substring_cases(node, True, seqs)),
                              condition(self.conn, rest, case_arn_prefix)], limit)

    def _walk_within(self, after: list | None, limit: int) -> list | None:
        """The walk's page, or None when the walk tests about ``walk_cases`` cases without
        filling it (see WALK_STEPS_PER_CASE)."""
        if _is_sqlite(self.conn):
            return _within_steps(self.conn, self.walk_cases * WALK_STEPS_PER_CASE,
                                 lambda: self._walk(after, limit))
        if len(self.sorts) > 1 or self.probe is not None or self._walks_cases_without_a_value():
            return self._walk(after, limit)  # a walk of more than one statement
        chunk, ordered = self._first_entries(after, self.walk_cases)
        rows = self._page_of(chunk, ordered, [self.where], limit)
        if len(rows) == limit or (self.conn.scalar(select(func.count()).select_from(chunk))
                                  < self.walk_cases):
            return rows
        return None

    def _ordered_page(self, after: list | None, limit: int) -> list:
        """The page read from the term index in last-updated order, a chunk at a time (see
        above)."""
        rows: list = []
        if self.query is None:
            return rows
        # Every case after the cursor was updated in the cursor's second or earlier.
        below = (1 << 63) - 1 if after is None else updated_second(after[0]) + 1 << SEQ_BITS
        wanted = limit
        while True:
            # A few entries more than wanted, so that the chunk usually ends on a whole second
            # without reading the rest of its last one.
            params = {"query": self.query, "below": below, "n": wanted + SPARE_ENTRIES}
            read = [row[0] for row in _NEWEST_KEYS.all(self.conn, params)]
            complete = len(read) < params["n"]  # the term has no older case
            chunk = read
            if not complete:
                edge = read[-1] >> SEQ_BITS  # the second the read may have stopped within
                chunk = [key for key in read if key >> SEQ_BITS > edge]
                below = edge + 1 << SEQ_BITS
                if not chunk:  # all in one second: read the whole of it
                    below = edge << SEQ_BITS
                    chunk = read + [row[0] for row in _KEYS_FROM.all(
                        self.conn, {"query": self.query, "low": below, "below": read[-1]})]
            if chunk:
                statement, keys = self._statement(outer=True, by_seq=True, where=self.rest)
                statement = statement.where(cases.c.seq.in_([key & SEQ_MASK for key in chunk]))
                rows += self._run(statement, keys, after, limit - len(rows))
            if len(rows) == limit or complete:
                return rows
            wanted = min(wanted * 4, 4096)

    def total(self) -> int:
        """totalCount: exact up to ``total_cap`` (see above). Counting walks the narrowest index
        answer when there is one (a large value range joined, so that the walk stops at the
        cap), else the domain's cases."""
        if self.known_total is not None:
            return self.known_total
        mine = [cases.c.domain_id == self.domain_id, self.where]
        if self.counted_on_index:
            statement = self.driver
        elif self.term_rest is not None:
            narrowed = self.driver.subquery()
            statement = (select(cases.c.seq).select_from(narrowed)
                         .join(cases, cases.c.seq == narrowed.c.seq)
                         .where(cases.c.domain_id == self.domain_id, self.term_rest))
        elif self.driver is None or self.in_filter:
            statement = select(cases.c.seq).where(*mine)
        elif self.driven:
            statement = select(cases.c.seq).where(
                cases.c.seq.in_(self.driver.scalar_subquery()), *mine)
        else:
            narrowed = self.driver.subquery()
            statement = (select(cases.c.seq).select_from(narrowed)
                         .join(cases, cases.c.seq == narrowed.c.seq).where(*mine))
        if self.driven:
            return self.conn.scalar(select(func.count()).select_from(statement.subquery()))
        return min(_capped_count(self.conn, statement, self.total_cap + 1), self.total_cap)

    def _without_value(self, field_id: str) -> int:
        """How many of the domain's cases hold no value for a field: the domain's cases less
        the field's values (a case holds one at most), each counted on an index."""
        held = [select(func.count()).select_from(case_values).where(
            *_index_entries(case_values, self.domain_id, field_id, column_name)).scalar_subquery()
            for column_name in sorted(set(COLUMN.values()))]
        every = select(func.count()).select_from(cases).where(
            cases.c.domain_id == self.domain_id).scalar_subquery()
        return self.conn.scalar(select(every - sum(held[1:], held[0])))

    def _statement(self, outer: bool, where: ColumnElement | None = None, by_seq: bool = False):
        """(statement, sort keys): the domain's cases matching the filter joined to their sort
        values; ``outer=False`` reads the first sort field's index (cases holding a value)."""
        keys, columns = [], []
        joined = cases
        for n, (field_id, value_column, descending) in enumerate(self.sorts):
            held = case_values.alias()
            on = and_(held.c.case_seq == cases.c.seq, held.c.field_id == field_id)
            key = sort_key(held, value_column)
            if n == 0 and not outer:
                # The index (domain, field, key, case seq) drives the statement, in order.
                joined = held.join(cases, cases.c.seq == held.c.case_seq)
                first = [*_index_entries(held, self.domain_id, field_id, value_column),
                         *self._bounds(held, field_id, value_column)]
                keys.append(SortKey(key, descending, nullable=False))
                seq_key = held.c.case_seq
            else:
                joined = joined.outerjoin(held, on)
                keys.append(SortKey(key, descending, nullable=True))
            columns.append(key)
        if outer or not self.sorts:
            first, seq_key = [], cases.c.seq
        # Newest case first among equal sort keys: the same order on every page.
        keys.append(SortKey(seq_key, True, nullable=False))
        # A few cases named by seq are read by primary key: the domain test is written so that
        # no index on (domain, ...) answers it (SQLite would otherwise look each case up in
        # ix_cases_cases_domain_seq and then in the table, twice the work).
        domain = cases.c.domain_id.concat("") if by_seq else cases.c.domain_id
        statement = (select(cases.c.seq, cases.c.case_id, cases.c.template_id, *columns)
                     .select_from(joined)
                     .where(*first, domain == self.domain_id,
                            self.where if where is None else where))
        return statement, keys

    def _walks_cases_without_a_value(self) -> bool:
        """Whether a walk, past the cases holding a value for the first sort field, goes on to
        those without one: unless every case holds one, or the filter compares it."""
        field_id, value_column, _ = self.sorts[0]
        return field_id not in ALWAYS_SET and not self._compared_on(field_id, value_column)

    def _compared_on(self, field_id: str, value_column: str) -> list[tuple]:
        """The filter's comparisons of a field's values in one typed column."""
        return [(test, member, value) for test, compared, member, value in self.compared
                if compared == field_id and COLUMN[member] == value_column]

    def _bounds(self, held, field_id: str, value_column: str) -> list[ColumnElement]:
        """The filter's comparisons of a field with a value, as conditions on its index's keys
        (``held`` an alias of the value table read through that index): the range of the index
        a walk in that field's order reads."""
        return [_index_key_test(held, test, member, value)
                for test, member, value in self._compared_on(field_id, value_column)]

    def _beyond(self, keys: list[SortKey], after: list) -> ColumnElement:
        """The rows after the cursor (``_after``; its first key's range stated for PostgreSQL)."""
        return _after(keys, after, ranged=not _is_sqlite(self.conn))

    def _run(self, statement, keys: list[SortKey], after: list | None, limit: int) -> list:
        if after is not None:
            statement = statement.where(self._beyond(keys, after))
        statement = statement.order_by(*(k.order() for k in keys)).limit(limit)
        return self.conn.execute(statement).all()


def _capped_count(conn: Connection, statement, cap: int) -> int:
    """How many rows ``statement`` yields, counting no further than ``cap``."""
    return conn.scalar(select(func.count()).select_from(statement.limit(cap).subquery()))


def values_of(conn: Connection, case_seqs: list[int],
              field_ids: list[str]) -> dict[int, dict[str, dict]]:
    """``{case seq: {field id: FieldValueUnion}}`` for the given cases and fields."""
    found: dict[int, dict[str, dict]] = {seq: {} for seq in case_seqs}
    if not case_seqs or not field_ids:
        return found
    rows = conn.execute(select(case_values).where(case_values.c.case_seq.in_(case_seqs),
                                                  case_values.c.field_id.in_(field_ids)))
    for row in rows:
        found[row.case_seq][row.field_id] = {row.kind: getattr(row, COLUMN[row.kind])}
    return found


def tags_of(conn: Connection, arns: list[str]) -> dict[str, dict[str, str]]:
    """The tags of several resources in one query, ``{}`` for an untagged one."""
    found: dict[str, dict[str, str]] = {arn: {} for arn in arns}
    if arns:
        rows = conn.execute(select(tags.c.resource_arn, tags.c.key, tags.c.value)
                            .where(tags.c.resource_arn.in_(arns)))
        for arn, key, value in rows:
            found[arn][key] = value
    return found


# -- SearchAllRelatedItems -----------------------------------------------------------------------

# The content member of each related-item type that a filter matches exactly; its value is
# stored in ``search_key`` so that SearchAllRelatedItems narrows through RELATED_ITEMS_BY_KEY.
SEARCH_KEY_MEMBER = {"Contact": "contactArn", "File": "fileArn", "ConnectCase": "caseId",
                     "Sla": "name"}
RELATED_ITEMS_BY_KEY = Index("ix_cases_related_items_search_key", related_items.c.domain_id,
                             related_items.c.type, related_items.c.search_key,
                             related_items.c.association_time, related_items.c.seq)


def search_key(item_type: str, content: dict) -> str | None:
    """The ``search_key`` of a related item with this stored content."""
    member = SEARCH_KEY_MEMBER.get(item_type)
    return content.get(member) if member else None


def related_item_filter(prefilters: list[tuple[str, dict[str, str]]]) -> ColumnElement:
    """Items that may match any of the ``(item type, {content member: exact value})`` filters
    (no filters: every item). Only type and ``search_key`` are tested; callers check the rest
    of each row (channels, SLA status, custom fields)."""
    if not prefilters:
        return true()
    alternatives = []
    for item_type, exact in prefilters:
        parts = [related_items.c.type == item_type]
        member = SEARCH_KEY_MEMBER.get(item_type)
        if member in exact:
            parts.append(related_items.c.search_key == exact[member])
        alternatives.append(and_(*parts))
    return or_(*alternatives)


def related_item_keys(sorts: list[tuple[str, bool]], sorted_here: bool) -> list[SortKey]:
    """Sort keys for ``(property, descending)`` pairs, ending with a unique tie-break;
    ``sorted_here``: written so that no index gives their order (the rows are sorted)."""
    time = related_items.c.association_time + 0 if sorted_here else related_items.c.association_time
    keys = []
    for prop, descending in sorts:
        expr = time if prop == "AssociationTime" else cases.c.case_id
        keys.append(SortKey(expr, descending, nullable=False))
    # Items associated in the same millisecond keep creation order, in the direction of the
    # association-time sort when there is one, newest first otherwise.
    time_sorts = [descending for prop, descending in sorts if prop == "AssociationTime"]
    keys.append(SortKey(related_items.c.seq, time_sorts[0] if time_sorts else True,
                        nullable=False))
    return keys


def few_related_items(conn: Connection, domain_id: str, where: ColumnElement,
                      most: int) -> bool:
    """Whether at most ``most`` related items of the domain satisfy ``where`` (a filter by
    type: ``related_item_filter``), counted on the index of their types."""
    return _capped_count(conn, select(related_items.c.seq).where(
        related_items.c.domain_id == domain_id, where), most + 1) <= most


def search_related_items(conn: Connection, domain_id: str, where: ColumnElement,
                         sorts: list[tuple[str, bool]], after: list | None,
                         limit: int, few: bool) -> list:
    """Up to ``limit`` related items of the domain's cases satisfying ``where``, after ``after``.

    Each row has the item's columns plus ``case_id``; its cursor is
    ``[*sort values, seq]`` in the order of ``sorts``. ``few``: ``where`` holds few items
    (``few_related_items``), read by the index of their types and sorted, where walking the
    domain's items in time order would test every item of a type the filter does not name
    (no comment among a million contacts: 0.5 s on SQLite).
    """
    keys = related_item_keys(sorts, sorted_here=few)
    statement = (select(related_items, cases.c.case_id)
                 .join(cases, cases.c.seq == related_items.c.case_seq)
                 .where(related_items.c.domain_id == domain_id, where))
    if after is not None:
        statement = statement.where(_after(keys, after))
    return conn.execute(statement.order_by(*(k.order() for k in keys)).limit(limit)).all()
