"""Connect Cases SearchCases and SearchAllRelatedItems, end to end through boto3.

The filter tests compare the server with a small oracle written here from the documented
semantics (``casework.cases.search``'s docstring), over a fixed set of cases that covers every
field type, missing values and tags.
"""

from __future__ import annotations

import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
from cases_helpers import account_client, code_of, error_of, new_domain, text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ACCOUNT, STRANGER = "444444444401", "444444444402"
INSTANCE = f"arn:aws:connect:us-east-1:{ACCOUNT}:instance/i-search"
USER1, USER2 = f"{INSTANCE}/user/u-1", f"{INSTANCE}/user/u-2"
TYPES = {"product": "Text", "score": "Number", "vip": "Boolean", "due": "DateTime",
         "tier": "SingleSelect", "link": "Url", "owner": "User"}

# The cases of the filter domain, in creation order. Case 7 is closed afterwards, which also
# makes it the most recently updated.
ROWS = [
    dict(title="Refund for broken Lamp", product="Lamp X", score=1.5, vip=True,
         due="2026-03-01T10:00:00Z", tier="gold", link="https://shop.example/lamp",
         owner=USER1, tags={"team": "billing", "prio": "high"}),
    dict(title="Shipping delay", product="Sofa", score=10.0, vip=False,
         due="2026-01-15T08:30:00+01:00", tier="silver", link="https://shop.example/sofa",
         owner=USER2, tags={"team": "logistics"}),
    dict(title="lamp flickers", product="Lamp Y", score=-3.0, due="2025-12-31T23:59:59.999Z",
         tags={"team": "billing"}),
    dict(title="Invoice 100% wrong", product="Desk_2", score=42.0, vip=True, tier="gold",
         tags={}),
    dict(title="Password reset", vip=False, owner=USER1, tags={"prio": "low"}),
    dict(title="Broken desk leg", product="DeskX2", score=10.0, due="2026-03-01T10:00:00.000Z",
         tier="silver", tags={"team": "logistics", "prio": "high"}),
    dict(title="Question about lamps", product="lamp z", score=0.0, vip=True,
         link="http://x.example", tags={"prio": "high"}),
    dict(title="Closed refund", product="Sofa", score=7.25, tags={"team": "billing"}),
]
CLOSED = 7


def instant(value: str) -> datetime:
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def union(field: str, value) -> dict:
    kind = TYPES.get(field, "Text")
    if kind == "Number":
        return {"doubleValue": value}
    if kind == "Boolean":
        return {"booleanValue": value}
    if kind == "User":
        return {"userArnValue": value}
    return text(value)


@pytest.fixture(scope="module")
def stranger(server):
    return account_client(server, STRANGER)


@pytest.fixture(scope="module")
def world(cc):
    """The filter domain: its id, field ids by name, case ids in ROWS order, stored values."""
    domain = new_domain(cc)
    ids = {name: cc.create_field(domainId=domain, name=name, type=kind)["fieldId"]
           for name, kind in TYPES.items()}
    ids.update(title="title", status="status")
    cc.batch_put_field_options(domainId=domain, fieldId=ids["tier"], options=[
        {"name": "Gold", "value": "gold", "active": True},
        {"name": "Silver", "value": "silver", "active": True}])
    template = cc.create_template(domainId=domain, name="Plain")["templateId"]
    case_ids, stored = [], []
    for row in ROWS:
        values = {k: v for k, v in row.items() if k != "tags"}
        case_ids.append(cc.create_case(
            domainId=domain, templateId=template, tags=row["tags"],
            fields=[{"id": ids[k], "value": union(k, v)} for k, v in values.items()])["caseId"])
        stored.append({**values, "status": "open"})
    cc.update_case(domainId=domain, caseId=case_ids[CLOSED],
                   fields=[{"id": "status", "value": text("closed")}])
    stored[CLOSED]["status"] = "closed"
    return {"domain": domain, "ids": ids, "cases": case_ids, "stored": stored,
            "template": template}


# -- the oracle ----------------------------------------------------------------------------------

def words(text: str) -> list[str]:
    """Words as the README defines them: runs of letters and digits, case-folded."""
    return re.findall(r"[^\W_]+", text.casefold())


def term_holds(term: str, row: dict) -> bool:
    """Every word of the term is a word, or the start of one, of some text value of the case."""
    held = [w for v in row.values() if isinstance(v, str) for w in words(v)]
    return all(any(h.startswith(w) for h in held) for w in words(term))


def _field_holds(test: str, name: str, operand, row: dict) -> bool:
    if operand is None:  # emptyValue
        return name not in row
    if name not in row:
        return False
    actual = row[name]
    if TYPES.get(name) == "DateTime" and test != "contains":
        actual, operand = instant(actual), instant(operand)
    if test == "equalTo":
        return actual == operand
    if test == "contains":
        return operand.lower() in actual.lower()
    return {"greaterThan": actual > operand, "greaterThanOrEqualTo": actual >= operand,
            "lessThan": actual < operand, "lessThanOrEqualTo": actual <= operand}[test]


def holds(tree: tuple, index: int, world: dict) -> bool:
    """The oracle: does case ``index`` of ROWS satisfy the test-side filter ``tree``?"""
    kind = tree[0]
    if kind == "field":
        return _field_holds(tree[1], tree[2], tree[3], world["stored"][index])
    if kind == "tag":
        tags = ROWS[index]["tags"]
        return any((tree[1] is None or k == tree[1]) and (tree[2] is None or v == tree[2])
                   for k, v in tags.items())
    if kind == "not":
        return not holds(tree[1], index, world)
    if kind == "and":
        return all(holds(t, index, world) for t in tree[1])
    return any(holds(t, index, world) for t in tree[1])


def wire(tree: tuple, world: dict) -> dict:
    """The test-side tree as a CaseFilter."""
    kind = tree[0]
    if kind == "field":
        test, name, operand = tree[1:]
        value = {"emptyValue": {}} if operand is None else union(name, operand)
        return {"field": {test: {"id": world["ids"][name], "value": value}}}
    if kind == "tag":
        tag = {k: v for k, v in (("key", tree[1]), ("value", tree[2])) if v is not None}
        return {"tag": {"equalTo": tag}}
    if kind == "not":
        return {"not": wire(tree[1], world)}
    return {"andAll" if kind == "and" else "orAll": [wire(t, world) for t in tree[1]]}


def F(test, name, operand):  # short: reads like the filter it builds
    return ("field", test, name, operand)


def T(key=None, value=None):
    return ("tag", key, value)


FILTERS = {
    "title equal": F("equalTo", "title", "Shipping delay"),
    "equal is case-sensitive": F("equalTo", "title", "shipping delay"),
    "title contains any case": F("contains", "title", "LAMP"),
    "contains percent literally": F("contains", "title", "100%"),
    "contains underscore literally": F("contains", "product", "k_2"),
    "number equal": F("equalTo", "score", 10.0),
    "number greater": F("greaterThan", "score", 1.5),
    "number greater or equal": F("greaterThanOrEqualTo", "score", 1.5),
    "number less": F("lessThan", "score", 0.0),
    "number less or equal": F("lessThanOrEqualTo", "score", 0.0),
    "boolean true": F("equalTo", "vip", True),
    "boolean false": F("equalTo", "vip", False),
    "datetime equal across offsets": F("equalTo", "due", "2026-03-01T10:00:00Z"),
    "datetime greater": F("greaterThan", "due", "2026-01-15T07:30:00Z"),
    "datetime greater or equal, other offset": F("greaterThanOrEqualTo", "due",
                                                 "2026-01-15T08:30:00+01:00"),
    "datetime less, naive is UTC": F("lessThan", "due", "2026-01-01T00:00:00"),
    "datetime less or equal, millis": F("lessThanOrEqualTo", "due", "2025-12-31T23:59:59.999Z"),
    "datetime contains": F("contains", "due", "2026-03"),
    "select equal": F("equalTo", "tier", "gold"),
    "select text range": F("greaterThan", "tier", "gold"),
    "select text range below": F("lessThanOrEqualTo", "tier", "gold"),
    "url contains": F("contains", "link", "shop.example"),
    "url equal": F("equalTo", "link", "http://x.example"),
    "user equal": F("equalTo", "owner", USER1),
    "user contains": F("contains", "owner", "U-2"),
    "status closed": F("equalTo", "status", "closed"),
    "number empty": F("equalTo", "score", None),
    "boolean empty": F("equalTo", "vip", None),
    "text empty": F("equalTo", "product", None),
    "not contains": ("not", F("contains", "title", "lamp")),
    "not range keeps missing values": ("not", F("greaterThan", "score", 1.5)),
    "not empty": ("not", F("equalTo", "due", None)),
    "and": ("and", [F("contains", "title", "lamp"), F("equalTo", "vip", True)]),
    "or": ("or", [F("equalTo", "tier", "gold"), F("lessThan", "score", 0.0)]),
    "empty and is everything": ("and", []),
    "empty or is nothing": ("or", []),
    "tag key and value": T("team", "billing"),
    "tag key": T("prio"),
    "tag value": T(value="high"),
    "tag missing": T("team", "nobody"),
    "not tag": ("not", T("team", "billing")),
    "nested": ("and", [("or", [T("team", "billing"), T("prio", "high")]),
                       ("not", F("equalTo", "vip", True)),
                       ("or", [F("greaterThanOrEqualTo", "score", 0.0),
                               F("equalTo", "score", None)])]),
    "deep not": ("not", ("not", ("not", ("not", F("contains", "product", "sofa"))))),
    "ten wide": ("or", [F("equalTo", "score", float(n)) for n in range(-3, 7)]),
    "mixed everything": ("or", [("and", [F("equalTo", "status", "open"),
                                         F("lessThan", "due", "2026-02-01T00:00:00Z")]),
                                ("and", [T("team", "logistics"),
                                         ("not", F("equalTo", "vip", False))]),
                                F("contains", "owner", "u-1")]),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_filter(cc, world, name):
    tree = FILTERS[name]
    found = cc.search_cases(domainId=world["domain"], filter=wire(tree, world), maxResults=100)
    expected = {world["cases"][i] for i in range(len(ROWS)) if holds(tree, i, world)}
    assert {c["caseId"] for c in found["cases"]} == expected
    assert found["totalCount"] == len(expected)
    assert "nextToken" not in found


def test_the_oracle_is_not_trivial(world):
    """Most filters must split the cases, or the comparison above proves little."""
    splits = [name for name, tree in FILTERS.items()
              if 0 < sum(holds(tree, i, world) for i in range(len(ROWS))) < len(ROWS)]
    assert len(splits) >= len(FILTERS) - 6



# Random filter trees: operands are drawn from the stored values, pieces of them and near
# misses, so that trees split the cases in many ways; every tree must answer what the oracle
# answers.
TEXTS = sorted({v for row in ROWS for k, v in row.items()
                if k not in ("tags", "score", "vip", "due")} | {"open", "closed"})
PIECES = st.sampled_from(TEXTS).flatmap(lambda v: st.tuples(
    st.integers(0, len(v)), st.integers(0, len(v))).map(lambda ij: v[min(ij):max(ij)]))
OPERANDS = {
    "Text": st.one_of(st.sampled_from(TEXTS), PIECES, st.text("abcXYZ _%-", max_size=4)),
    "Number": st.one_of(st.sampled_from([-3.0, 0.0, 1.5, 7.25, 10.0, 42.0]),
                        st.floats(-50, 50, allow_nan=False)),
    "Boolean": st.booleans(),
    "DateTime": st.sampled_from(["2026-03-01T10:00:00Z", "2026-03-01T10:00:00.001Z",
                                 "2026-01-15T07:30:00Z", "2025-12-31T23:59:59.999Z",
                                 "2026-01-15T08:30:00+01:00", "2026-02-01T00:00:00"]),
}
FIELD_NAMES = ["title", "product", "score", "vip", "due", "tier", "link", "owner", "status"]


@st.composite
def field_trees(draw):
    name = draw(st.sampled_from(FIELD_NAMES))
    kind = {"owner": "Text"}.get(name, TYPES.get(name, "Text"))
    kind = {"SingleSelect": "Text", "Url": "Text"}.get(kind, kind)
    if draw(st.integers(0, 9)) == 0:
        return F("equalTo", name, None)
    tests = ["equalTo", "greaterThan", "greaterThanOrEqualTo", "lessThan", "lessThanOrEqualTo"]
    if kind == "Text":
        tests.append("contains")
    if kind == "Boolean":
        tests = ["equalTo"]
    test = draw(st.sampled_from(tests))
    operand = draw(OPERANDS[kind])
    if name == "owner":
        operand = draw(st.sampled_from([USER1, USER2, "u-1", "user/U"]))
        test = draw(st.sampled_from(["equalTo", "contains"]))
    return F(test, name, operand)


TAG_TREES = st.builds(T, st.sampled_from([None, "team", "prio", "nope"]),
                      st.sampled_from([None, "billing", "high", "low", "logistics"])).filter(
    lambda t: t[1] is not None or t[2] is not None)
TREES = st.recursive(
    st.one_of(field_trees(), TAG_TREES),
    lambda inner: st.one_of(st.builds(lambda t: ("not", t), inner),
                            st.lists(inner, max_size=4).map(lambda ts: ("and", ts)),
                            st.lists(inner, max_size=4).map(lambda ts: ("or", ts))),
    max_leaves=8)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(tree=TREES, term=st.sampled_from(["", "lamp", "shop", "o"]))
def test_random_filters_agree_with_the_oracle(cc, world, tree, term):
    found = cc.search_cases(domainId=world["domain"], filter=wire(tree, world),
                            searchTerm=term, maxResults=100)
    in_term = {i for i in range(len(ROWS)) if term_holds(term, world["stored"][i])}
    expected = {world["cases"][i] for i in in_term if holds(tree, i, world)}
    assert {c["caseId"] for c in found["cases"]} == expected
    assert found["totalCount"] == len(expected)

# -- search term ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("term", "expected"), [
    ("lamp", [0, 2, 6]),
    ("LAMP broken", [0]),
    ("lam", [0, 2, 6]),
    ("flick", [2]),
    ("shop.example", [0, 1]),
    ("gold", [0, 3]),
    ("instance/i-search", [0, 1, 4]),
    ("invoice 100%", [3]),
    ("desk_2", [3, 5]),
    ("closed", [7]),
    ("amp", []),
    ("lamp nosuchword", []),
    ("   ", list(range(len(ROWS)))),
    ("%% --", list(range(len(ROWS)))),
])
def test_search_term_matches_words_and_word_starts(cc, world, term, expected):
    if term != "desk_2":  # "2" also starts the words of system values (dates)
        assert expected == [i for i in range(len(ROWS)) if term_holds(term, world["stored"][i])]
    found = cc.search_cases(domainId=world["domain"], searchTerm=term, maxResults=100)
    assert {c["caseId"] for c in found["cases"]} == {world["cases"][i] for i in expected}
    assert found["totalCount"] == len(expected)


def test_search_term_and_filter_combine(cc, world):
    found = cc.search_cases(domainId=world["domain"], searchTerm="lamp",
                            filter=wire(F("equalTo", "vip", True), world))
    assert {c["caseId"] for c in found["cases"]} == {world["cases"][0], world["cases"][6]}


def test_search_term_sees_system_values(cc, world):
    case_id = world["cases"][4]
    found = cc.search_cases(domainId=world["domain"], searchTerm=case_id.upper())["cases"]
    assert [c["caseId"] for c in found] == [case_id]


# -- sorting and fields ---------------------------------------------------------------------------

def expected_order(world, *sorts):
    """Case ids sorted as documented: values in order, missing values last, newest first on
    ties."""
    def key(index):
        row, parts = world["stored"][index], []
        for name, descending in sorts:
            if name not in row:
                parts.append((1, 0))
                continue
            value = row[name]
            if TYPES.get(name) == "DateTime":
                value = instant(value).timestamp()
            if descending:
                value = -value if not isinstance(value, str) else None
            parts.append((0, value))
        return (*parts, -index)

    return [world["cases"][i] for i in sorted(range(len(ROWS)), key=key)]


@pytest.mark.parametrize("sorts", [
    [("score", False)], [("score", True)], [("due", False)], [("due", True)],
    [("vip", False)], [("vip", True), ("score", False)], [("tier", False), ("score", True)],
])
def test_sorts(cc, world, sorts):
    found = cc.search_cases(domainId=world["domain"], maxResults=100, sorts=[
        {"fieldId": world["ids"][name], "sortOrder": "Desc" if d else "Asc"}
        for name, d in sorts])
    assert [c["caseId"] for c in found["cases"]] == expected_order(world, *sorts)


def test_text_sort_descending(cc, world):
    found = cc.search_cases(domainId=world["domain"], maxResults=100,
                            sorts=[{"fieldId": world["ids"]["tier"], "sortOrder": "Desc"}])
    tiers = [world["stored"][world["cases"].index(c["caseId"])].get("tier")
             for c in found["cases"]]
    assert tiers == ["silver", "silver", "gold", "gold", None, None, None, None]


def test_default_order_is_most_recently_updated_first(cc, world):
    found = cc.search_cases(domainId=world["domain"])["cases"]
    assert [c["caseId"] for c in found] == [world["cases"][CLOSED]] + [
        world["cases"][i] for i in reversed(range(CLOSED))]


def test_fields_selects_values_in_request_order(cc, world):
    ids = world["ids"]
    found = cc.search_cases(
        domainId=world["domain"], filter=wire(F("equalTo", "title", "Shipping delay"), world),
        fields=[{"id": ids["score"]}, {"id": "title"}, {"id": ids["due"]}, {"id": "nope"},
                {"id": ids["vip"]}, {"id": ids["owner"]}, {"id": "summary"}])
    assert found["cases"] == [{
        "caseId": world["cases"][1], "templateId": world["template"],
        "fields": [{"id": ids["score"], "value": {"doubleValue": 10.0}},
                   {"id": "title", "value": text("Shipping delay")},
                   {"id": ids["due"], "value": text("2026-01-15T07:30:00.000Z")},
                   {"id": ids["vip"], "value": {"booleanValue": False}},
                   {"id": ids["owner"], "value": {"userArnValue": USER2}}],
        "tags": {"team": "logistics"}}]


def test_without_fields_a_case_carries_no_values(cc, world):
    found = cc.search_cases(domainId=world["domain"], maxResults=4)["cases"]
    assert all(c["fields"] == [] for c in found)
    assert {c["caseId"]: c["tags"] for c in found}[world["cases"][4]] == {"prio": "low"}


def test_system_fields_filter_and_sort(cc, world):
    first = world["cases"][0]
    created = cc.search_cases(domainId=world["domain"], fields=[{"id": "created_datetime"}],
                              filter={"field": {"equalTo": {"id": "case_id",
                                                            "value": text(first)}}})["cases"]
    assert [c["caseId"] for c in created] == [first]
    moment = created[0]["fields"][0]["value"]["stringValue"]
    later = cc.search_cases(domainId=world["domain"], maxResults=100, filter={"field": {
        "greaterThan": {"id": "created_datetime", "value": text(moment)}}},
        sorts=[{"fieldId": "created_datetime", "sortOrder": "Asc"}])["cases"]
    assert first not in [c["caseId"] for c in later]
    assert [c["caseId"] for c in later] == [c for c in world["cases"][1:]
                                            if c in {x["caseId"] for x in later}]


# -- pagination -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def many(cc):
    """A domain of 23 cases; a fifth of them without a score, scores repeating."""
    domain = new_domain(cc)
    score = cc.create_field(domainId=domain, name="score", type="Number")["fieldId"]
    template = cc.create_template(domainId=domain, name="Plain")["templateId"]
    case_ids = []
    for n in range(23):
        fields = [{"id": "title", "value": text(f"case {n}")}]
        if n % 5:
            fields.append({"id": score, "value": {"doubleValue": float(n % 4)}})
        case_ids.append(cc.create_case(domainId=domain, templateId=template,
                                       fields=fields)["caseId"])
    return {"domain": domain, "score": score, "cases": case_ids, "template": template}


def pages(cc, operation, key, page_size, **params):
    """Every page a botocore paginator yields, as lists of the items' ids."""
    paginator = cc.get_paginator(operation)
    found = []
    for page in paginator.paginate(**params, PaginationConfig={"PageSize": page_size}):
        found.append(page)
    return found


@pytest.mark.parametrize("sorts", [
    None,
    [{"sortOrder": "Desc"}],
    [{"sortOrder": "Asc"}],
    [{"sortOrder": "Asc"}, {"fieldId": "title", "sortOrder": "Desc"}],
])
@pytest.mark.parametrize("page_size", [1, 4, 23, 100])
def test_pages_hold_every_case_exactly_once(cc, many, sorts, page_size):
    params = {"domainId": many["domain"]}
    if sorts:
        params["sorts"] = [{"fieldId": many["score"], **s} if "fieldId" not in s else s
                           for s in sorts]
    whole = cc.search_cases(**params, maxResults=100)
    assert whole["totalCount"] == 23 and "nextToken" not in whole
    got = pages(cc, "search_cases", "cases", page_size, **params)
    assert all(len(p["cases"]) <= page_size and p["totalCount"] == 23 for p in got)
    assert len(got) == -(-23 // page_size)
    assert [c["caseId"] for p in got for c in p["cases"]] == [
        c["caseId"] for c in whole["cases"]]
    assert sorted(c["caseId"] for c in whole["cases"]) == sorted(many["cases"])


@pytest.mark.parametrize("sorts", [
    [("vip", True), ("score", False)], [("due", False)], [("tier", False), ("vip", False)],
    [("owner", False), ("due", True)],
])
def test_pages_over_every_value_type_and_missing_values(cc, world, sorts):
    params = {"domainId": world["domain"], "sorts": [
        {"fieldId": world["ids"][name], "sortOrder": "Desc" if d else "Asc"}
        for name, d in sorts]}
    got = pages(cc, "search_cases", "cases", 3, **params)
    assert len(got) == 3
    seen = [c["caseId"] for p in got for c in p["cases"]]
    if all(name != "owner" for name, _ in sorts):
        assert seen == expected_order(world, *sorts)
    assert sorted(seen) == sorted(world["cases"])


def test_paged_filter_and_term(cc, many):
    params = {"domainId": many["domain"], "searchTerm": "case",
              "filter": {"not": {"field": {"equalTo": {"id": many["score"],
                                                       "value": {"doubleValue": 1.0}}}}},
              "sorts": [{"fieldId": many["score"], "sortOrder": "Asc"}]}
    whole = cc.search_cases(**params, maxResults=100)["cases"]
    got = pages(cc, "search_cases", "cases", 3, **params)
    assert [c["caseId"] for p in got for c in p["cases"]] == [c["caseId"] for c in whole]
    assert len(whole) == 23 - len([n for n in range(23) if n % 5 and n % 4 == 1])


def test_cases_created_while_paging_do_not_shift_pages(cc, many):
    first = cc.search_cases(domainId=many["domain"], maxResults=10)
    cc.create_case(domainId=many["domain"], templateId=many["template"],
                   fields=[{"id": "title", "value": text("late")}])
    rest, token = [], first["nextToken"]
    while token:
        page = cc.search_cases(domainId=many["domain"], maxResults=10, nextToken=token)
        rest += page["cases"]
        token = page.get("nextToken")
    seen = [c["caseId"] for c in first["cases"] + rest]
    assert sorted(seen) == sorted(many["cases"])


def test_tokens_are_checked(cc, stranger, many):
    first = cc.search_cases(domainId=many["domain"], maxResults=2)
    token = first["nextToken"]
    body, _, mac = token.partition(".")
    forged = ("A" if body[0] != "A" else "B") + body[1:] + "." + mac
    other_search = {"filter": {"field": {"equalTo": {"id": "title", "value": text("x")}}}}
    for params in ({"nextToken": forged}, {"nextToken": "junk"},
                   {"nextToken": token, "searchTerm": "case"},
                   {"nextToken": token, **other_search},
                   {"nextToken": token, "sorts": [{"fieldId": "title", "sortOrder": "Asc"}]}):
        assert code_of(cc.search_cases, domainId=many["domain"], **params) == (
            "ValidationException", 400)
    # a token continues only the search (and account) it came from
    assert code_of(cc.search_all_related_items, domainId=many["domain"],
                   nextToken=token) == ("ValidationException", 400)
    own = new_domain(stranger)
    assert code_of(stranger.search_cases, domainId=own, nextToken=token) == (
        "ValidationException", 400)
    # maxResults and fields may change between pages
    second = cc.search_cases(domainId=many["domain"], maxResults=5, nextToken=token,
                             fields=[{"id": "title"}])
    assert len(second["cases"]) == 5 and second["cases"][0]["fields"]


# -- errors, deletions, isolation -----------------------------------------------------------------

def test_unknown_domain_is_404(cc):
    missing = str(uuid.uuid4())
    for call in (cc.search_cases, cc.search_all_related_items):
        error = error_of(call, domainId=missing)
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert error["Error"]["Code"] == "ResourceNotFoundException"
        assert (error["resourceId"], error["resourceType"]) == (missing, "Domain")


@pytest.mark.parametrize("params", [
    {"filter": {"field": {"equalTo": {"id": "no-such-field", "value": text("x")}}}},
    {"filter": {"andAll": [{"not": {"field": {"lessThan": {
        "id": "nope", "value": {"doubleValue": 1}}}}}]}},
    {"sorts": [{"fieldId": "no-such-field", "sortOrder": "Asc"}]},
    {"sorts": [{"fieldId": "title", "sortOrder": "Asc"},
               {"fieldId": "title", "sortOrder": "Desc"}]},
    {"sorts": [{"fieldId": "title", "sortOrder": "Sideways"}]},
    {"filter": {"field": {"equalTo": {"id": "title", "value": {"doubleValue": 1}}}}},
    {"filter": {"field": {"contains": {"id": "title", "value": {"emptyValue": {}}}}}},
    {"filter": {"field": {"greaterThan": {"id": "created_datetime",
                                          "value": text("yesterday")}}}},
    {"filter": {"tag": {"equalTo": {}}}},
    {"maxResults": 101},
    {"searchTerm": "x" * 256},
    {"fields": [{"id": f"f{n}"} for n in range(26)]},
])
def test_invalid_searches(cc, world, params):
    assert code_of(cc.search_cases, domainId=world["domain"], **params) == (
        "ValidationException", 400)


def full_tree(depth: int, leaf: dict) -> dict:
    """An andAll ten wide, ``depth`` deep, of ``leaf``: 1 + 10 + ... + 10**depth nodes."""
    return leaf if depth == 0 else {"andAll": [full_tree(depth - 1, leaf)] * 10}


def test_filters_are_bounded_in_size(cc, world, items):
    # The model bounds andAll and orAll to ten members each, but not their depth.
    title = {"field": {"equalTo": {"id": "title", "value": text("x")}}}
    too_big = "A search's filters may hold at most 200 nodes in all"
    assert cc.search_cases(domainId=world["domain"], filter=full_tree(2, title))["cases"] == []
    error = error_of(cc.search_cases, domainId=world["domain"], filter=full_tree(3, title))
    assert error["Error"]["Code"] == "ValidationException"
    assert error["Error"]["Message"].startswith(too_big)
    # Related items: every custom filter of a request counts together.
    order = {"field": {"equalTo": {"id": items["order"], "value": text("A-17")}}}
    custom = {"custom": {"fields": full_tree(2, order)}}
    assert [i["type"] for i in search_all(cc, items, custom)] == ["Custom"]
    calls = [(cc.search_all_related_items, {}),
             (cc.search_related_items, {"caseId": items["cases"][1]})]
    for call, where in calls:
        error = error_of(call, domainId=items["domain"], filters=[custom, custom], **where)
        assert error["Error"]["Code"] == "ValidationException"
        assert error["Error"]["Message"].startswith(too_big)


@pytest.mark.parametrize("kind", ["score", "vip"])
def test_contains_needs_text(cc, world, kind):
    value = {"doubleValue": 1.0} if kind == "score" else {"booleanValue": True}
    assert code_of(cc.search_cases, domainId=world["domain"], filter={"field": {"contains": {
        "id": world["ids"][kind], "value": value}}}) == ("ValidationException", 400)
    if kind == "vip":
        assert code_of(cc.search_cases, domainId=world["domain"], filter={"field": {
            "lessThan": {"id": world["ids"][kind], "value": value}}}) == (
            "ValidationException", 400)


@pytest.fixture(scope="module")
def scratch(cc):
    """A domain the tests below may change."""
    domain = new_domain(cc)
    return {"domain": domain,
            "template": cc.create_template(domainId=domain, name="Plain")["templateId"]}


def test_deleted_cases_never_appear(cc, scratch):
    domain, marker = scratch["domain"], f"gone-{uuid.uuid4().hex[:8]}"
    kept, doomed = (cc.create_case(domainId=domain, templateId=scratch["template"], fields=[
        {"id": "title", "value": text(f"{marker} {n}")}])["caseId"] for n in range(2))
    assert cc.search_cases(domainId=domain, searchTerm=marker)["totalCount"] == 2
    cc.delete_case(domainId=domain, caseId=doomed)
    found = cc.search_cases(domainId=domain, searchTerm=marker)
    assert [c["caseId"] for c in found["cases"]] == [kept] and found["totalCount"] == 1
    assert doomed not in [c["caseId"] for c in cc.search_cases(
        domainId=domain, maxResults=100)["cases"]]


def test_deleted_fields_still_filter_sort_and_search(cc, scratch):
    domain = scratch["domain"]
    note = cc.create_field(domainId=domain, name="note", type="Text")["fieldId"]
    case_ids = [cc.create_case(domainId=domain, templateId=scratch["template"], fields=[
        {"id": "title", "value": text("with note")},
        {"id": note, "value": text(f"retired zebra {n}")}])["caseId"] for n in range(2)]
    cc.delete_field(domainId=domain, fieldId=note)
    by_filter = cc.search_cases(domainId=domain, filter={"field": {"contains": {
        "id": note, "value": text("zebra")}}},
        sorts=[{"fieldId": note, "sortOrder": "Asc"}], fields=[{"id": note}])["cases"]
    assert [c["caseId"] for c in by_filter] == case_ids
    assert by_filter[0]["fields"] == [{"id": note, "value": text("retired zebra 0")}]
    assert {c["caseId"] for c in cc.search_cases(domainId=domain,
                                                 searchTerm="zebra")["cases"]} == set(case_ids)


def test_accounts_never_see_each_other(cc, stranger, world):
    error = error_of(stranger.search_cases, domainId=world["domain"])
    assert (error["Error"]["Code"], error["resourceType"]) == (
        "ResourceNotFoundException", "Domain")
    assert code_of(stranger.search_all_related_items, domainId=world["domain"]) == (
        "ResourceNotFoundException", 404)
    own = new_domain(stranger)
    template = stranger.create_template(domainId=own, name="Plain")["templateId"]
    theirs = stranger.create_case(domainId=own, templateId=template, fields=[
        {"id": "title", "value": text("Shipping delay")}])["caseId"]
    mine = cc.search_cases(domainId=world["domain"], searchTerm="shipping")["cases"]
    assert [c["caseId"] for c in mine] == [world["cases"][1]]
    theirs_found = stranger.search_cases(domainId=own, searchTerm="shipping")["cases"]
    assert [c["caseId"] for c in theirs_found] == [theirs]


# -- SearchAllRelatedItems ------------------------------------------------------------------------

COMMENT = {"comment": {"body": "Called back", "contentType": "Text/Plain"}}
FILE = f"{INSTANCE}/file/f-1"
KNOWN_CONTACT, OTHER_CONTACT = f"{INSTANCE}/contact/c-known", f"{INSTANCE}/contact/c-other"


@pytest.fixture(scope="module")
def items(server, cc):
    """A domain with three cases and one related item of every type, in a known order."""
    server.casework("contacts", "put", KNOWN_CONTACT, "--channel", "CHAT",
                    "--connected-at", "2026-03-04T05:06:07.500Z")
    domain = new_domain(cc)
    order_id = cc.create_field(domainId=domain, name="order", type="Text")["fieldId"]
    template = cc.create_template(domainId=domain, name="Plain")["templateId"]
    c1, c2, c3 = (cc.create_case(domainId=domain, templateId=template, fields=[
        {"id": "title", "value": text(f"case {n}")}])["caseId"] for n in range(3))
    sla = {"name": "Close soon", "type": "CaseField", "fieldId": "status",
           "targetFieldValues": [text("closed")], "targetSlaMinutes": 60}
    plan = [
        (c1, "Contact", {"contact": {"contactArn": KNOWN_CONTACT}}),
        (c2, "Comment", COMMENT),
        (c1, "File", {"file": {"fileArn": FILE}}),
        (c2, "Sla", {"sla": {"slaInputConfiguration": sla}}),
        (c1, "ConnectCase", {"connectCase": {"caseId": c2}}),
        (c2, "Custom", {"custom": {"fields": [{"id": order_id, "value": text("A-17")}]}}),
        (c2, "Contact", {"contact": {"contactArn": OTHER_CONTACT}}),
        (c3, "Comment", COMMENT),
    ]
    made = []
    for case_id, kind, content in plan:
        created = cc.create_related_item(domainId=domain, caseId=case_id, type=kind,
                                         content=content,
                                         performedBy={"userArn": USER1})
        made.append({"id": created["relatedItemId"], "arn": created["relatedItemArn"],
                     "caseId": case_id, "type": kind})
    return {"domain": domain, "cases": (c1, c2, c3), "made": made, "order": order_id}


def search_all(cc, items, *filters, **params):
    return cc.search_all_related_items(domainId=items["domain"], filters=list(filters),
                                       **params)["relatedItems"]


def test_all_items_newest_first_with_their_case(cc, items):
    found = search_all(cc, items)
    assert [(i["relatedItemId"], i["caseId"], i["type"]) for i in found] == [
        (m["id"], m["caseId"], m["type"]) for m in reversed(items["made"])]
    assert all(i["performedBy"] == {"userArn": USER1} and i["tags"] == {} for i in found)
    contact = next(i for i in found if i["relatedItemId"] == items["made"][0]["id"])
    assert contact["content"] == {"contact": {
        "contactArn": KNOWN_CONTACT, "channel": "CHAT",
        "connectedToSystemTime": datetime(2026, 3, 4, 5, 6, 7, 500000, tzinfo=UTC)}}
    sla = next(i for i in found if i["type"] == "Sla")["content"]["sla"]["slaConfiguration"]
    assert (sla["name"], sla["status"]) == ("Close soon", "Active")


@pytest.mark.parametrize(("filters", "expected"), [
    ([{"contact": {}}], [6, 0]),
    ([{"contact": {"channel": ["CHAT", "TASK"]}}], [0]),
    ([{"contact": {"contactArn": OTHER_CONTACT}}], [6]),
    ([{"contact": {"contactArn": OTHER_CONTACT, "channel": ["CHAT"]}}], []),
    ([{"comment": {}}], [7, 1]),
    ([{"file": {"fileArn": FILE}}], [2]),
    ([{"file": {"fileArn": FILE + "x"}}], []),
    ([{"sla": {"status": "Active"}}], [3]),
    ([{"sla": {"name": "Close soon", "status": "Met"}}], []),
    ([{"sla": {"name": "Close soon"}}], [3]),
    ([{"sla": {"name": "close soon"}}], []),
    ([{"custom": {"fields": {"field": {"equalTo": {"id": "ORDER", "value": text("A-17")}}}}}],
     [5]),
    ([{"custom": {"fields": {"not": {"field": {"contains": {"id": "ORDER",
                                                             "value": text("a-1")}}}}}}], []),
    ([{"custom": {}}], [5]),
    ([{"comment": {}}, {"file": {}}], [7, 2, 1]),
    ([{"connectCase": {}}, {"contact": {"channel": ["VOICE"]}}], [6, 4]),
])
def test_item_filters_are_or_ed(cc, items, filters, expected):
    def resolve(value):  # the custom field id is only known at run time
        if isinstance(value, dict):
            return {k: resolve(v) for k, v in value.items()}
        if isinstance(value, list):
            return [resolve(v) for v in value]
        return items["order"] if value == "ORDER" else value

    found = search_all(cc, items, *resolve(filters))
    assert [i["relatedItemId"] for i in found] == [items["made"][n]["id"] for n in expected]


def test_connect_case_filter_by_case(cc, items):
    c1, c2, _ = items["cases"]
    found = search_all(cc, items, {"connectCase": {"caseId": c2}})
    assert [(i["caseId"], i["content"]) for i in found] == [(c1, {"connectCase": {"caseId": c2}})]
    assert search_all(cc, items, {"connectCase": {"caseId": c1}}) == []


def test_item_sorts(cc, items):
    made = items["made"]
    oldest_first = search_all(cc, items, sorts=[{"sortProperty": "AssociationTime",
                                                 "sortOrder": "Asc"}])
    assert [i["relatedItemId"] for i in oldest_first] == [m["id"] for m in made]
    for order in ("Asc", "Desc"):
        by_case = search_all(cc, items, sorts=[
            {"sortProperty": "CaseId", "sortOrder": order},
            {"sortProperty": "AssociationTime", "sortOrder": "Desc"}])
        expected = sorted(reversed(made), key=lambda m: m["caseId"], reverse=order == "Desc")
        assert [i["relatedItemId"] for i in by_case] == [m["id"] for m in expected]
    assert code_of(cc.search_all_related_items, domainId=items["domain"], sorts=[
        {"sortProperty": "CaseId", "sortOrder": "Asc"},
        {"sortProperty": "CaseId", "sortOrder": "Desc"}]) == ("ValidationException", 400)


@pytest.mark.parametrize("sorts", [
    None,
    [{"sortProperty": "AssociationTime", "sortOrder": "Asc"}],
    [{"sortProperty": "CaseId", "sortOrder": "Desc"},
     {"sortProperty": "AssociationTime", "sortOrder": "Asc"}],
])
@pytest.mark.parametrize("filters", [None, [{"comment": {}}, {"contact": {}}, {"sla": {}}]])
@pytest.mark.parametrize("page_size", [1, 3, 25])
def test_item_pages_hold_every_item_exactly_once(cc, items, sorts, filters, page_size):
    params = {"domainId": items["domain"]}
    if sorts:
        params["sorts"] = sorts
    if filters:
        params["filters"] = filters
    whole = cc.search_all_related_items(**params)
    assert "nextToken" not in whole
    got = pages(cc, "search_all_related_items", "relatedItems", page_size, **params)
    assert all(len(p["relatedItems"]) <= page_size for p in got)
    assert len(got) == max(1, -(-len(whole["relatedItems"]) // page_size))
    assert [i["relatedItemId"] for p in got for i in p["relatedItems"]] == [
        i["relatedItemId"] for i in whole["relatedItems"]]


def test_item_tags_and_token_checks(cc, items):
    tagged = items["made"][2]
    cc.tag_resource(arn=tagged["arn"], tags={"kind": "evidence"})
    found = search_all(cc, items, {"file": {}})
    assert found[0]["tags"] == {"kind": "evidence"}
    token = cc.search_all_related_items(domainId=items["domain"], maxResults=1)["nextToken"]
    assert code_of(cc.search_all_related_items, domainId=items["domain"], nextToken=token,
                   filters=[{"comment": {}}]) == ("ValidationException", 400)
    assert code_of(cc.search_cases, domainId=items["domain"], nextToken=token) == (
        "ValidationException", 400)
    assert code_of(cc.search_all_related_items, domainId=items["domain"], maxResults=26) == (
        "ValidationException", 400)


def test_items_of_a_deleted_case_disappear(cc, items):
    c3 = items["cases"][2]
    domain = items["domain"]
    extra = cc.create_case(domainId=domain, templateId=cc.search_cases(
        domainId=domain, maxResults=1)["cases"][0]["templateId"],
        fields=[{"id": "title", "value": text("short-lived")}])["caseId"]
    cc.create_related_item(domainId=domain, caseId=extra, type="Comment", content=COMMENT)
    assert extra in [i["caseId"] for i in search_all(cc, items, {"comment": {}})]
    cc.delete_case(domainId=domain, caseId=extra)
    assert [i["caseId"] for i in search_all(cc, items, {"comment": {}})] == [
        c3, items["cases"][1]]


def test_the_term_index_follows_writes_committed_together(server):
    """Concurrent writes are committed in batches, where the term index is written once per
    batch (store/runner.py, at_batch_end): after creates, updates and deletes arriving
    together, each word finds exactly the cases that hold it now."""
    client = account_client(server, "444444444403")
    domain = new_domain(client)
    template = client.create_template(domainId=domain, name="Plain")["templateId"]

    def create(title: str) -> str:
        return client.create_case(domainId=domain, templateId=template,
                                  fields=[{"id": "title", "value": text(title)}])["caseId"]

    def update(case_id: str, title: str) -> None:
        client.update_case(domainId=domain, caseId=case_id,
                           fields=[{"id": "title", "value": text(title)}])

    def found(term: str) -> set[str]:
        pages = client.get_paginator("search_cases").paginate(domainId=domain, searchTerm=term)
        return {case["caseId"] for page in pages for case in page["cases"]}

    with ThreadPoolExecutor(16) as pool:
        first = list(pool.map(lambda i: create(f"alpha{i} shared"), range(40)))
        changed, dropped, kept = first[:15], first[15:25], first[25:]
        work = [pool.submit(update, case_id, f"beta{i} shared")
                for i, case_id in enumerate(changed)]
        work += [pool.submit(client.delete_case, domainId=domain, caseId=case_id)
                 for case_id in dropped]
        later = [pool.submit(create, f"gamma{i} shared") for i in range(25)]
        for future in work:
            future.result()
        second = [future.result() for future in later]
    assert found("alpha") == set(kept)
    assert found("beta") == set(changed)
    assert found("gamma") == set(second)
    assert found("shared") == set(kept) | set(changed) | set(second)
    assert found("alpha0") == set()  # updated: its old words are gone
