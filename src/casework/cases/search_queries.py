"""The SQL behind SearchCases and SearchAllRelatedItems.

The handlers (``search.py``) check a request against the domain's fields and hand this module a
small, already-validated filter tree; this module turns it into one SQL statement, so that the
database, not Python, decides which cases match:

* a field test is an ``EXISTS`` (or, for ``equalTo emptyValue``, a ``NOT EXISTS``) on
  ``cases_case_values`` correlated on the case, which the primary key ``(case_seq, field_id)``
  answers with one index probe per case;
* a tag test is an ``EXISTS`` on ``cases_tags`` by the case's ARN (its primary key);
* ``not`` / ``andAll`` / ``orAll`` are ``NOT`` / ``AND`` / ``OR`` of those;
* sorting joins one ``cases_case_values`` row per sort field (again by primary key).

Pages are keyset pages: the caller passes the sort key of the last row it returned and gets the
rows strictly after it, with NULLs (cases without a value for a sort field) after every value
in either direction, and the case's ``seq`` as the final tie-break. Only portable SQLAlchemy
Core constructs are used (``EXISTS``, ``LIKE``, ``lower``, ``||``, ``NULLS LAST``), so the same
statements run on SQLite and PostgreSQL.

Filter tree nodes (tuples, built by ``search.py``):

``("field", test, field_id, member, value)``
    ``test`` is ``equalTo``/``contains``/``greaterThan``/``greaterThanOrEqualTo``/``lessThan``/
    ``lessThanOrEqualTo``; ``member`` the FieldValueUnion member (``emptyValue`` only with
    ``equalTo``, meaning "the case holds no value for the field").
``("tag", key or None, value or None)``
``("words", [word, ...])``: every word occurs, case-insensitively, in some text value.
``("not", node)``, ``("and", [node, ...])``, ``("or", [node, ...])``
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Connection,
    Index,
    String,
    and_,
    exists,
    false,
    func,
    literal,
    not_,
    nulls_last,
    or_,
    select,
    true,
)

from .tables import case_values, cases, related_items, tags

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


def _after(keys: Sequence[SortKey], last: Sequence[Any]) -> ColumnElement:
    """Rows strictly after the row whose sort key is ``last``, in the order of ``keys``.

    Lexicographic: a row is after when its first differing key is beyond ``last``'s. With
    NULLs last, a NULL is beyond any value, and nothing is beyond a NULL but later keys.
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
    return or_(*clauses) if clauses else false()


# -- SearchCases ---------------------------------------------------------------------------------

def _all(parts: list[ColumnElement]) -> ColumnElement:
    return and_(*parts) if parts else true()


def _any(parts: list[ColumnElement]) -> ColumnElement:
    return or_(*parts) if parts else false()


def _field_test(test: str, field_id: str, member: str, value: Any) -> ColumnElement:
    held = case_values.alias()
    same_field = [held.c.case_seq == cases.c.seq, held.c.field_id == field_id]
    if member == "emptyValue":
        return not_(exists().where(*same_field))
    column = held.c[COLUMN[member]]
    if test == "equalTo":
        matched = column == value
    elif test == "contains":
        matched = func.lower(column).contains(value.lower(), autoescape=True)
    else:
        matched = getattr(column, _COMPARE[test])(value)
    return exists().where(*same_field, held.c.kind == member, matched)


def _words(words: list[str]) -> ColumnElement:
    parts = []
    for word in words:
        held = case_values.alias()
        parts.append(exists().where(
            held.c.case_seq == cases.c.seq, held.c.kind.in_(TEXT_MEMBERS),
            func.lower(held.c.string_value).contains(word.lower(), autoescape=True)))
    return _all(parts)


def _tag_test(case_arn_prefix: str, key: str | None, value: str | None) -> ColumnElement:
    case_arn = literal(case_arn_prefix, String) + cases.c.case_id
    where = [tags.c.resource_arn == case_arn]
    if key is not None:
        where.append(tags.c.key == key)
    if value is not None:
        where.append(tags.c.value == value)
    return exists().where(*where)


def condition(node: tuple, case_arn_prefix: str) -> ColumnElement:
    """The SQL condition on ``cases_cases`` rows for a filter tree (see the module docstring)."""
    kind = node[0]
    if kind == "field":
        return _field_test(*node[1:])
    if kind == "tag":
        return _tag_test(case_arn_prefix, node[1], node[2])
    if kind == "words":
        return _words(node[1])
    if kind == "not":
        return not_(condition(node[1], case_arn_prefix))
    if kind == "and":
        return _all([condition(inner, case_arn_prefix) for inner in node[1]])
    if kind == "or":
        return _any([condition(inner, case_arn_prefix) for inner in node[1]])
    raise ValueError(f"unknown filter node {kind}")


def _case_search(domain_id: str, where: ColumnElement, sorts: list[tuple[str, str, bool]]):
    """(statement without ORDER BY/LIMIT, sort keys) of a case search."""
    keys, columns = [], []
    joined = cases
    for field_id, column, descending in sorts:
        sorted_by = case_values.alias()
        joined = joined.outerjoin(sorted_by, and_(sorted_by.c.case_seq == cases.c.seq,
                                                  sorted_by.c.field_id == field_id))
        keys.append(SortKey(sorted_by.c[column], descending, nullable=True))
        columns.append(sorted_by.c[column])
    # Newest case first among equal sort keys: the same order on every page.
    keys.append(SortKey(cases.c.seq, True, nullable=False))
    statement = (select(cases.c.seq, cases.c.case_id, cases.c.template_id, *columns)
                 .select_from(joined).where(cases.c.domain_id == domain_id, where))
    return statement, keys


def search_cases(conn: Connection, domain_id: str, where: ColumnElement,
                 sorts: list[tuple[str, str, bool]], after: list | None, limit: int) -> list:
    """Up to ``limit`` matching cases after the keyset cursor ``after``.

    ``sorts`` are ``(field id, value column, descending)``; each returned row is
    ``(seq, case_id, template_id, *sort values)``, and ``[*sort values, seq]`` is the row's
    cursor.
    """
    statement, keys = _case_search(domain_id, where, sorts)
    if after is not None:
        statement = statement.where(_after(keys, after))
    return conn.execute(statement.order_by(*(k.order() for k in keys)).limit(limit)).all()


def count_cases(conn: Connection, domain_id: str, where: ColumnElement) -> int:
    """How many cases of the domain satisfy ``where`` (SearchCases' ``totalCount``)."""
    return conn.scalar(select(func.count()).select_from(cases)
                       .where(cases.c.domain_id == domain_id, where))


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

def related_item_filter(prefilters: list[tuple[str, dict[str, str]]]) -> ColumnElement:
    """Items that may match any of the ``(item type, {content member: exact value})`` filters
    (no filters: every item).

    Content is orjson text, so ``"member":<json string>`` appears in it whenever the member
    holds that string. The test can over-match (the text may sit inside another value, and
    SQLite's LIKE ignores ASCII case) but never under-match; callers check every row exactly.
    """
    if not prefilters:
        return true()
    alternatives = []
    for item_type, exact in prefilters:
        parts = [related_items.c.type == item_type]
        for member, value in exact.items():
            needle = f'"{member}":{orjson.dumps(value).decode()}'
            parts.append(related_items.c.content.contains(needle, autoescape=True))
        alternatives.append(and_(*parts))
    return or_(*alternatives)


def related_item_keys(sorts: list[tuple[str, bool]]) -> list[SortKey]:
    """Sort keys for ``(property, descending)`` pairs, ending with a unique tie-break."""
    keys = []
    for prop, descending in sorts:
        expr = related_items.c.association_time if prop == "AssociationTime" else cases.c.case_id
        keys.append(SortKey(expr, descending, nullable=False))
    # Items associated in the same millisecond keep creation order, in the direction of the
    # association-time sort when there is one, newest first otherwise.
    time_sorts = [descending for prop, descending in sorts if prop == "AssociationTime"]
    keys.append(SortKey(related_items.c.seq, time_sorts[0] if time_sorts else True,
                        nullable=False))
    return keys


def search_related_items(conn: Connection, domain_id: str, where: ColumnElement,
                         sorts: list[tuple[str, bool]], after: list | None,
                         limit: int) -> list:
    """Up to ``limit`` related items of the domain's cases satisfying ``where``, after ``after``.

    Each row has the item's columns plus ``case_id``; its cursor is
    ``[*sort values, seq]`` in the order of ``sorts``.
    """
    keys = related_item_keys(sorts)
    statement = (select(related_items, cases.c.case_id)
                 .join(cases, cases.c.seq == related_items.c.case_seq)
                 .where(related_items.c.domain_id == domain_id, where))
    if after is not None:
        statement = statement.where(_after(keys, after))
    return conn.execute(statement.order_by(*(k.order() for k in keys)).limit(limit)).all()
