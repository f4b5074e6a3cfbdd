"""SearchCases and SearchAllRelatedItems.

SearchCases, choices where AWS is silent (the model and the fact sheet leave these open):

* ``searchTerm`` matches words and the starts of words, ignoring case. A word is a run of
  letters and digits (everything else, punctuation included, separates words), case-folded,
  of which the first 100 characters count. A case matches when every word of the term is a
  word, or the start of a word, of some text value of the case: any field holding a
  ``stringValue`` (Text, Url, SingleSelect option values, DateTime strings) or a
  ``userArnValue``, system or custom, deleted fields included (AWS documents that search still
  sees values of deleted fields). So ``lamp`` finds "Lamp", "lamps" and "lamp-post" but not
  "Streetlamp"; ``refund 3f2a`` finds cases holding both. Numbers and booleans are not text and
  are not searched. A term without words (blank, or only punctuation) matches every case. AWS
  documents searchTerm only as "a word or phrase used to perform a quick search" (a keyword
  search across the case's field values); word and word-start matching is what such a keyword
  search does and what a full-text index answers. The words of each case are kept in a
  full-text index (SQLite FTS5, PostgreSQL tsvector with GIN) written in the same transaction
  as the values.
* Field filters: ``equalTo`` is exact (case-sensitive); ``contains`` is a case-insensitive
  substring test and takes ``stringValue``/``userArnValue`` only; the four range tests compare
  numbers numerically, DateTime values chronologically and other text in the database's
  collation (byte order on SQLite), and refuse ``booleanValue``. A filter's value member must
  be the one the field's type takes (as in CreateCase). ``equalTo`` with ``emptyValue`` finds
  cases without a value for the field; no other test takes ``emptyValue``. A case without a
  value satisfies no other field test, so ``not`` of one does match it. DateTime operands of
  ``equalTo`` and the range tests are read as ISO 8601 and compared as instants.
* A field id in a filter or sort that the domain never had is a ValidationException naming it;
  deleted fields may be used (AWS says filters still see their values). ``fields`` ids without
  a value on a case (or unknown to the domain) are left out of that case's ``fields``, as
  GetCase does.
* ``tag.equalTo`` matches cases holding that tag: key and value when both are given, either one
  alone when only one is (the model makes both optional); neither is a ValidationException.
* ``andAll: []`` matches every case and ``orAll: []`` none (the empty AND and OR).
* Order: the ``sorts`` in turn; cases without a value for a sort field come after those with
  one, in either direction; the newest case breaks ties. Without ``sorts``, most recently
  updated first (``last_updated_datetime`` Desc), as the agent console's search lists them.
  Text values sort by their first 256 characters (the indexed key; longer values that share
  them are in newest-first order).
* ``nextToken`` is a signed keyset cursor (the last case's sort values and sequence number) bound
  to the account, the domain and the search (term, filter, sorts): a late page costs what the
  first does (no OFFSET), cases created or changed while paging neither repeat nor vanish
  unless their sort values moved, and a token replayed with a different search is a
  ValidationException. ``maxResults`` and ``fields`` may change between pages.
* How a page is found (``search_queries.CaseSearch``): each top-level AND member an index
  answers (the search term; an ``equalTo`` or range test through the index on
  ``(domain, field, value)``; a ``contains`` test on a value people write, through a trigram
  index: SQLite's substring index, PostgreSQL's ``pg_trgm`` index) is sized on its index,
  counting no further than ``--search-drive-limit`` (1,000). When the narrowest holds at most
  that many cases, they are read whole, tested against the rest of the filter and sorted;
  otherwise the first sort field's index is walked in order, testing each case, until the page
  is full. Either way a page costs about what it costs at ten thousand cases; only a filter
  that no index narrows and that few cases satisfy (``not`` or ``tag`` tests alone, a
  ``contains`` no trigram index answers) still tests cases one by one; on SQLite a
  ``contains`` on a value the service sets (case id, reference number, times) reads that
  field's keys in the value index instead. On SQLite a search
  term in the default order is read from the term index in that order instead (its documents
  are keyed by the second of the case's last update), a chunk at a time, unless another index
  answer is small enough to read whole; a search word is looked up in the index's vocabulary
  first and searched as the exact words it starts. A walk with a ``contains`` test the
  substring index answers first tries the walk's first few thousand cases against the index's
  documents of just those cases' range.
* ``totalCount`` is exact up to ``--search-total-cap`` (10,000) matching cases and that number
  beyond, on every page: a lower bound, as search engines report hits (OpenSearch tracks
  10,000 by default), so that counting never walks a domain of millions. A single ``equalTo``
  or range test is counted on its index alone, and so is a search term without a filter: each
  domain's words are kept apart in the term index (``search_queries.scope``).

SearchAllRelatedItems: the type filters mean what they mean in SearchRelatedItems (the other
case-level search), OR-ed as AWS documents; sorts default to association time, newest first;
paging is keyset as above. The SQL narrows by item type and by the member matched exactly
(contact ARN, file ARN, case id, SLA name; kept in ``search_key``), through an index on
``(domain, type, search_key, association time)``, so a search by contact ARN is a range scan;
channel lists, SLA status (which moves with the clock) and custom field trees are checked on
the rows it returns, reading on until the page is full.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from ..handlers import Context
from . import filters, registry, slas, values
from .common import arn_of, at, field_seqs, find_definitions, load_domain, related_item_arn
from .errors import invalid
from .queries import search as search_queries
from .related_items import MEMBER as ITEM_MEMBER

CASES_PAGE = 25  # the model documents 25 as SearchCases' default
ITEMS_PAGE = 25  # SearchAllRelatedItems' maximum; AWS documents no default
CASES_TOKEN, ITEMS_TOKEN = "search-cases", "search-all-related-items"
RANGE_TESTS = ("greaterThan", "greaterThanOrEqualTo", "lessThan", "lessThanOrEqualTo")
DEFAULT_CASE_SORT = [{"fieldId": "last_updated_datetime", "sortOrder": "Desc"}]
DEFAULT_ITEM_SORT = [{"sortProperty": "AssociationTime", "sortOrder": "Desc"}]
# Rows read per round trip while SearchAllRelatedItems checks content the SQL cannot see.
ITEM_BATCH = 200
ITEM_TYPE = {member: item_type for item_type, member in ITEM_MEMBER.items()}
# Content members a related-item filter matches exactly, which the SQL can narrow on.
EXACT_MEMBERS = {"contact": ("contactArn",), "file": ("fileArn",),
                 "connectCase": ("caseId",), "sla": ("name",)}


def _member(union: dict) -> tuple[str, Any]:
    """The one member set in a union value."""
    for name, value in union.items():
        if value is not None:
            return name, value
    raise invalid("A union value must have exactly one member set")


def _search_hash(*parts: Any) -> str:
    """A short digest of what a search asks for, so a token cannot continue another search."""
    text = orjson.dumps(parts, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()[:24]


def _cursor(ctx: Context, params: dict, kind: str, search: str, width: int) -> list | None:
    """The keyset cursor in ``nextToken`` (None on the first page)."""
    token = params.get("nextToken")
    if not token:
        return None
    if not token.isascii():
        # Tokens we issue are base64url text; TokenSigner.decode raises TypeError (a 500)
        # on non-ASCII input, so refuse it here the way decode refuses any foreign token.
        raise invalid(f"Invalid nextToken: {token[:64]}")
    found = ctx.tokens.decode(kind, ctx.account_id, token)
    if (not isinstance(found, dict) or found.get("search") != search
            or not isinstance(found.get("after"), list) or len(found["after"]) != width):
        raise invalid(f"Invalid nextToken: {token[:64]} (it continues a different search)")
    return found["after"]


def _token(ctx: Context, kind: str, search: str, after: list) -> str:
    return ctx.tokens.encode(kind, ctx.account_id, {"search": search, "after": after})


# -- SearchCases ---------------------------------------------------------------------------------

def _filter_field_ids(filter_: dict | None, found: list[str]) -> list[str]:
    """Every field id a filter tree names."""
    if filter_ is None:
        return found
    kind, body = _member(filter_)
    if kind == "field":
        found.append(_member(body)[1]["id"])
    elif kind == "not":
        _filter_field_ids(body, found)
    elif kind in ("andAll", "orAll"):
        for inner in body:
            _filter_field_ids(inner, found)
    return found


def _instant(text: str, field_id: str) -> str:
    """A DateTime operand in the form DateTime values are stored in, so that comparing the
    strings compares the instants. It must be exactly the conversion CreateCase and UpdateCase
    store values with (``values._datetime``), or equal instants could differ by a rounding."""
    return values._datetime(text, field_id)


def _field_node(test: str, operand: dict, fields: dict[str, dict]) -> tuple:
    field_id = operand["id"]
    member, value = _member(operand["value"])
    if member == "emptyValue":
        if test != "equalTo":
            raise invalid(f"{test} cannot take emptyValue; use equalTo with emptyValue to find "
                          f"cases without a value for field {field_id}")
        return ("field", test, field_id, member, None)
    field_type = fields[field_id]["type"]
    expected = values.MEMBER[field_type]
    if member != expected:
        raise invalid(f"Field {field_id} is of type {field_type}; filter it with {expected}, "
                      f"not {member}")
    if test == "contains" and member not in search_queries.TEXT_MEMBERS:
        raise invalid(f"contains needs a text value; field {field_id} is of type {field_type}")
    if test in RANGE_TESTS and member == "booleanValue":
        raise invalid(f"{test} cannot compare Boolean field {field_id}")
    if field_type == "DateTime" and test != "contains":
        value = _instant(value, field_id)
    return ("field", test, field_id, member, value)


def _case_node(filter_: dict, fields: dict[str, dict]) -> tuple:
    """The validated filter tree ``search_queries.condition`` compiles."""
    kind, body = _member(filter_)
    if kind == "field":
        test, operand = _member(body)
        return _field_node(test, operand, fields)
    if kind == "tag":
        _, tag = _member(body)
        if tag.get("key") is None and tag.get("value") is None:
            raise invalid("tag.equalTo needs a key, a value or both")
        return ("tag", tag.get("key"), tag.get("value"))
    if kind == "not":
        return ("not", _case_node(body, fields))
    if kind in ("andAll", "orAll"):
        return ("and" if kind == "andAll" else "or",
                [_case_node(inner, fields) for inner in body])
    raise invalid(f"Unknown filter member {kind}")


def _known_fields(ctx: Context, domain_id: str, ids: list[str]) -> dict[str, dict]:
    found = find_definitions(ctx, domain_id, "field", ids)
    unknown = sorted(set(ids) - set(found))
    if unknown:
        raise invalid(f"Fields do not exist: {', '.join(unknown)}")
    return found


def _case_sorts(sorts: list[dict], fields: dict[str, dict]) -> list[tuple[str, str, bool]]:
    ids = [s["fieldId"] for s in sorts]
    if len(set(ids)) != len(ids):
        raise invalid("sorts names a field more than once")
    return [(s["fieldId"], search_queries.COLUMN[values.MEMBER[fields[s["fieldId"]]["type"]]],
             s["sortOrder"] == "Desc") for s in sorts]


@registry.operation("SearchCases", writes=False, aside=True)
def search_cases(ctx: Context, params: dict) -> dict:
    """Cases of the domain matching ``searchTerm`` and ``filter``, in ``sorts`` order."""
    domain_id = load_domain(ctx, params["domainId"]).domain_id
    limit = params.get("maxResults") or CASES_PAGE
    sorts = params.get("sorts") or DEFAULT_CASE_SORT
    filter_ = params.get("filter")
    filters.check_size([filter_] if filter_ else [])
    fields = _known_fields(ctx, domain_id, _filter_field_ids(filter_, [])
                           + [s["fieldId"] for s in sorts])
    words = list(dict.fromkeys(search_queries.words_of(params.get("searchTerm") or "")))
    tree = ("and", [("words", words)] + ([_case_node(filter_, fields)] if filter_ else []))
    order = _case_sorts(sorts, fields)

    search = _search_hash(domain_id, params.get("searchTerm") or "", filter_, sorts)
    after = _cursor(ctx, params, CASES_TOKEN, search, len(order) + 1)
    case_arn_prefix = arn_of(ctx, domain_id, "case", "")
    query = search_queries.CaseSearch(ctx.conn, domain_id, tree, case_arn_prefix, order,
                                      field_seqs(ctx, domain_id, fields),
                                      ctx.settings.search_drive_limit,
                                      ctx.settings.search_total_cap,
                                      ctx.settings.search_walk_cases)
    rows = query.page(after, limit + 1)
    page = rows[:limit]

    wanted = list(dict.fromkeys(item["id"] for item in params.get("fields") or []))
    held = search_queries.values_of(ctx.conn, [row.seq for row in page], wanted)
    case_tags = search_queries.tags_of(ctx.conn, [case_arn_prefix + row.case_id for row in page])
    found = [{
        "caseId": row.case_id,
        "templateId": row.template_id,
        "fields": [{"id": f, "value": held[row.seq][f]} for f in wanted if f in held[row.seq]],
        "tags": case_tags[case_arn_prefix + row.case_id],
    } for row in page]
    next_token = None
    if len(rows) > limit:
        last = page[-1]
        next_token = _token(ctx, CASES_TOKEN, search, [*last[3:], last.seq])
    return {"cases": found, "nextToken": next_token,
            "totalCount": query.total()}


# -- SearchAllRelatedItems -----------------------------------------------------------------------

def _item_matches(item_type: str, content: dict, wanted: dict, now: int) -> bool:
    """Whether a stored item satisfies one RelatedItemTypeFilter (as SearchRelatedItems reads
    them: an absent member matches anything; ``channel`` lists alternatives)."""
    kind, spec = _member(wanted)
    if ITEM_TYPE[kind] != item_type:
        return False
    if kind == "contact":
        return (spec.get("contactArn") in (None, content["contactArn"])
                and (not spec.get("channel") or content["channel"] in spec["channel"]))
    if kind == "sla":
        return (spec.get("name") in (None, content["name"])
                and spec.get("status") in (None, slas.status(content, now)))
    if kind == "custom":
        tree = spec.get("fields")
        return tree is None or filters.matches(
            tree, {f["id"]: f["value"] for f in content["fields"]})
    return all(spec.get(member) in (None, content.get(member))
               for member in EXACT_MEMBERS.get(kind, ()))


def _item_content(item_type: str, content: dict, now: int) -> dict:
    """The RelatedItemContent union a client sees for stored content (times are epoch ms)."""
    kind = ITEM_MEMBER[item_type]
    if kind == "contact":
        content = {**content, "connectedToSystemTime": at(content["connectedToSystemTime"])}
    elif kind == "sla":
        content = slas.api_content(content, now)
    return {kind: content}


def _item_prefilters(wanted: list[dict]) -> list[tuple[str, dict[str, str]]]:
    """``(item type, {member: exact value})`` per filter, for the SQL to narrow on."""
    found = []
    for spec in wanted:
        kind, body = _member(spec)
        exact = {m: body[m] for m in EXACT_MEMBERS.get(kind, ()) if body.get(m) is not None}
        found.append((ITEM_TYPE[kind], exact))
    return found


@registry.operation("SearchAllRelatedItems", writes=False, aside=True)
def search_all_related_items(ctx: Context, params: dict) -> dict:
    """Related items of every case of the domain matching any of ``filters``."""
    domain_id = load_domain(ctx, params["domainId"]).domain_id
    limit = params.get("maxResults") or ITEMS_PAGE
    wanted = params.get("filters") or []
    filters.check_size(filters.custom_trees(wanted))
    sorts = params.get("sorts") or DEFAULT_ITEM_SORT
    props = [s["sortProperty"] for s in sorts]
    if len(set(props)) != len(props):
        raise invalid("sorts names a sortProperty more than once")
    order = [(s["sortProperty"], s["sortOrder"] == "Desc") for s in sorts]
    search = _search_hash(domain_id, wanted, sorts)
    after = _cursor(ctx, params, ITEMS_TOKEN, search, len(order) + 1)
    prefilters = _item_prefilters(wanted)
    where = search_queries.related_item_filter(prefilters)
    few = bool(prefilters) and search_queries.few_related_items(
        ctx.conn, domain_id, where, ctx.settings.search_drive_limit)

    def cursor_of(row) -> list:
        return [row.association_time if prop == "AssociationTime" else row.case_id
                for prop in props] + [row.seq]

    # The SQL narrows by type and exact members; channel lists, SLA status (which moves with
    # the clock) and custom field trees are checked here, reading on in sort order until the
    # page (plus one, to know whether another page exists) is full.
    found, scan_from = [], after
    while len(found) <= limit:
        rows = search_queries.search_related_items(ctx.conn, domain_id, where, order,
                                                   scan_from, ITEM_BATCH, few)
        for row in rows:
            scan_from = cursor_of(row)
            content = orjson.loads(row.content)
            if not wanted or any(_item_matches(row.type, content, w, ctx.now) for w in wanted):
                found.append((row, content))
                if len(found) > limit:
                    break
        if len(rows) < ITEM_BATCH:
            break
    page = found[:limit]

    item_arns = [related_item_arn(ctx, domain_id, row.case_id, row.related_item_id)
                 for row, _ in page]
    item_tags = search_queries.tags_of(ctx.conn, item_arns)
    items = [{
        "relatedItemId": row.related_item_id,
        "caseId": row.case_id,
        "type": row.type,
        "associationTime": at(row.association_time),
        "content": _item_content(row.type, content, ctx.now),
        "performedBy": orjson.loads(row.created_by) if row.created_by else None,
        "tags": item_tags[arn],
    } for (row, content), arn in zip(page, item_arns, strict=True)]
    next_token = None
    if len(found) > limit:
        next_token = _token(ctx, ITEMS_TOKEN, search, cursor_of(page[-1][0]))
    return {"relatedItems": items, "nextToken": next_token}
