"""SearchCases answers the same whichever way it reads its indexes.

A server started with ``--search-drive-limit 2 --search-total-cap 5`` walks the sort index for
any search matching more than two cases and counts at most five, so that a small domain
exercises the plans a large one uses: reading a narrow index answer whole and sorting it,
walking the sort index (cases holding a sort value, then those without), and counting up to
the cap on a value index, the term index or the domain's cases; a tag test reads the domain's
tags. Each test runs on three such servers: one that walks to the end, one that gives up a
walk at once for its index answer read whole and sorted (``--search-walk-cases 1``), and one
that gives up a walk at once but finds every index answer too large to sort and walks again
(``--search-drive-limit 0`` as well).
"""

from __future__ import annotations

from datetime import datetime

import pytest
from cases_helpers import text
from conftest import start_server

CAP = 5
NUMBERS = 14  # cases "case 0" .. "case 13"; the last two hold no score
AGENTS = "arn:aws:connect:us-east-1:000000000000:instance/i-plans/agent"
# Owners by case number (n % 4); the fourth case of four has none. `%` and `_` are literal.
OWNERS = [f"{AGENTS}/Ana_1", f"{AGENTS}/bob%2", f"{AGENTS}/ANA_3", None]


PLANS = {
    "walks": ["--search-drive-limit", "2"],
    "gives up a walk": ["--search-drive-limit", "2", "--search-walk-cases", "1"],
    "walks again": ["--search-drive-limit", "0", "--search-walk-cases", "1"],
}


@pytest.fixture(scope="module", params=list(PLANS))
def tiny(request, tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("plans"), *PLANS[request.param],
                          "--search-total-cap", str(CAP))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def world(tiny):
    cc = tiny.client("connectcases")
    domain = cc.create_domain(name="plans")["domainId"]
    score = cc.create_field(domainId=domain, name="score", type="Number")["fieldId"]
    kind = cc.create_field(domainId=domain, name="kind", type="Text")["fieldId"]
    unused = cc.create_field(domainId=domain, name="unused", type="Boolean")["fieldId"]
    owner = cc.create_field(domainId=domain, name="owner", type="User")["fieldId"]
    made = cc.create_template(domainId=domain, name="Plain")
    template = made["templateId"]
    # A tag on another resource of the domain is no case's.
    cc.tag_resource(arn=made["templateArn"], tags={"team": "red"})
    rows, ids = [], []
    for n in range(NUMBERS):
        row = {"title": f"case {n} {'alpha' if n % 2 else 'beta'}", "kind": f"k{n % 4}"}
        fields = [{"id": "title", "value": text(row["title"])},
                  {"id": kind, "value": text(row["kind"])}]
        if n < NUMBERS - 2:
            row["score"] = float(n % 3)
            fields.append({"id": score, "value": {"doubleValue": row["score"]}})
        if OWNERS[n % 4] is not None:
            row["owner"] = OWNERS[n % 4]
            fields.append({"id": owner, "value": {"userArnValue": row["owner"]}})
        row["team"] = "red" if n % 3 == 0 else "blue" if n == NUMBERS - 1 else None
        tags = {} if row["team"] is None else {"team": row["team"]}
        ids.append(cc.create_case(domainId=domain, templateId=template, fields=fields,
                                  tags=tags)["caseId"])
        rows.append(row)
    return {"cc": cc, "domain": domain, "score": score, "kind": kind, "unused": unused,
            "owner": owner, "rows": rows, "ids": ids}


def equal(field: str, value) -> dict:
    union = {"doubleValue": value} if isinstance(value, float) else text(value)
    return {"field": {"equalTo": {"id": field, "value": union}}}


def empty(field: str) -> dict:
    return {"field": {"equalTo": {"id": field, "value": {"emptyValue": {}}}}}


def user_contains(field: str, pattern: str) -> dict:
    return {"field": {"contains": {"id": field, "value": {"userArnValue": pattern}}}}


def tag(key: str, value: str | None = None) -> dict:
    return {"tag": {"equalTo": {"key": key} | ({} if value is None else {"value": value})}}


SEARCHES = {
    # name: (request members built from the world, which rows match)
    "everything": (lambda w: {}, lambda r: True),
    "score 1, walked": (lambda w: {"filter": equal(w["score"], 1.0)},
                        lambda r: r.get("score") == 1.0),
    "score above 0, walked": (
        lambda w: {"filter": {"field": {"greaterThan": {"id": w["score"],
                                                        "value": {"doubleValue": 0.0}}}}},
        lambda r: r.get("score", -1) > 0),
    "narrow, read whole": (
        lambda w: {"filter": {"andAll": [equal(w["kind"], "k1"), equal(w["score"], 1.0)]}},
        lambda r: r["kind"] == "k1" and r.get("score") == 1.0),
    "term, walked": (lambda w: {"searchTerm": "ALPHA"}, lambda r: "alpha" in r["title"]),
    "term and filter": (lambda w: {"searchTerm": "alp", "filter": equal(w["score"], 2.0)},
                        lambda r: "alpha" in r["title"] and r.get("score") == 2.0),
    "term of two words": (lambda w: {"searchTerm": "bet cas"},
                          lambda r: "beta" in r["title"]),
    "no index answers": (lambda w: {"filter": {"not": equal(w["kind"], "k0")}},
                         lambda r: r["kind"] != "k0"),
    "no score": (lambda w: {"filter": empty(w["score"])}, lambda r: "score" not in r),
    "no kind (every case holds one)": (lambda w: {"filter": empty(w["kind"])}, lambda r: False),
    "no title (a field the service sets)": (lambda w: {"filter": empty("title")},
                                            lambda r: False),
    "no unused (no case holds one)": (lambda w: {"filter": empty(w["unused"])},
                                      lambda r: True),
    "no kind and score 1": (
        lambda w: {"filter": {"andAll": [empty(w["kind"]), equal(w["score"], 1.0)]}},
        lambda r: False),
    "owner contains, any case": (lambda w: {"filter": user_contains(w["owner"], "aNa")},
                                 lambda r: "ana" in r.get("owner", "").lower()),
    "owner contains a literal %": (lambda w: {"filter": user_contains(w["owner"], "%")},
                                   lambda r: r.get("owner") == OWNERS[1]),
    "owner contains a literal _": (lambda w: {"filter": user_contains(w["owner"], "a_")},
                                   lambda r: r.get("owner") in (OWNERS[0], OWNERS[2])),
    "owner contains what none holds": (lambda w: {"filter": user_contains(w["owner"], "a_2")},
                                       lambda r: False),
    "owner contains and score": (
        lambda w: {"filter": {"andAll": [user_contains(w["owner"], "agent/"),
                                         equal(w["score"], 1.0)]}},
        lambda r: "owner" in r and r.get("score") == 1.0),
    "not owner contains": (lambda w: {"filter": {"not": user_contains(w["owner"], "ana")}},
                           lambda r: "ana" not in r.get("owner", "").lower()),
    "or of two values": (
        lambda w: {"filter": {"orAll": [equal(w["score"], 1.0), equal(w["kind"], "k0")]}},
        lambda r: r.get("score") == 1.0 or r["kind"] == "k0"),
    "or of an and and a tag": (
        lambda w: {"filter": {"orAll": [
            {"andAll": [equal(w["kind"], "k1"), equal(w["score"], 1.0)]}, tag("team", "blue")]}},
        lambda r: (r["kind"] == "k1" and r.get("score") == 1.0) or r["team"] == "blue"),
    "or within an or": (
        lambda w: {"filter": {"orAll": [{"orAll": [equal(w["score"], 0.0),
                                                   equal(w["kind"], "k3")]},
                                        tag("team", "blue")]}},
        lambda r: r.get("score") == 0.0 or r["kind"] == "k3" or r["team"] == "blue"),
    "or with a member no index answers": (
        lambda w: {"filter": {"orAll": [equal(w["score"], 2.0),
                                        {"not": equal(w["kind"], "k0")}]}},
        lambda r: r.get("score") == 2.0 or r["kind"] != "k0"),
    "tag, walked": (lambda w: {"filter": tag("team", "red")}, lambda r: r["team"] == "red"),
    "tag, read whole": (lambda w: {"filter": tag("team", "blue")},
                        lambda r: r["team"] == "blue"),
    "tag key": (lambda w: {"filter": tag("team")}, lambda r: r["team"] is not None),
    "tag and score": (
        lambda w: {"filter": {"andAll": [tag("team", "red"), equal(w["score"], 0.0)]}},
        lambda r: r["team"] == "red" and r.get("score") == 0.0),
    "term and tag": (lambda w: {"searchTerm": "beta", "filter": tag("team", "red")},
                     lambda r: "beta" in r["title"] and r["team"] == "red"),
}


def pages(cc, size: int, **params) -> list[dict]:
    paginator = cc.get_paginator("search_cases")
    return list(paginator.paginate(**params, PaginationConfig={"PageSize": size}))


@pytest.mark.parametrize("name", list(SEARCHES))
@pytest.mark.parametrize("size", [2, 3, 100])
def test_newest_first_in_every_plan(world, name, size):
    request, matches = SEARCHES[name]
    got = pages(world["cc"], size, domainId=world["domain"], **request(world))
    expected = [world["ids"][n] for n in reversed(range(NUMBERS)) if matches(world["rows"][n])]
    assert [c["caseId"] for p in got for c in p["cases"]] == expected
    assert all(p["totalCount"] == min(len(expected), CAP) for p in got)


@pytest.mark.parametrize("order", ["Asc", "Desc"])
@pytest.mark.parametrize("size", [2, 5])
def test_sorted_walk_puts_cases_without_a_value_last(world, order, size):
    got = pages(world["cc"], size, domainId=world["domain"],
                sorts=[{"fieldId": world["score"], "sortOrder": order}])
    rows = world["rows"]

    def key(n):
        if "score" not in rows[n]:
            return (1, 0, -n)
        return (0, rows[n]["score"] if order == "Asc" else -rows[n]["score"], -n)

    expected = [world["ids"][n] for n in sorted(range(NUMBERS), key=key)]
    assert [c["caseId"] for p in got for c in p["cases"]] == expected
    assert got[0]["totalCount"] == CAP


def test_exact_count_below_the_cap(world):
    found = world["cc"].search_cases(domainId=world["domain"], filter=equal(world["kind"], "k3"))
    assert found["totalCount"] == 3 == len(found["cases"])


@pytest.mark.parametrize("order", ["Asc", "Desc"])
@pytest.mark.parametrize("test, operand, holds", [
    ("greaterThan", 0.0, lambda score: score > 0),
    ("lessThanOrEqualTo", 1.0, lambda score: score <= 1),
    ("equalTo", 2.0, lambda score: score == 2),
])
def test_walk_in_a_compared_fields_order(world, order, test, operand, holds):
    """A walk in the order of the field the filter compares reads only the compared range."""
    got = pages(world["cc"], 2, domainId=world["domain"],
                filter={"field": {test: {"id": world["score"],
                                         "value": {"doubleValue": operand}}}},
                sorts=[{"fieldId": world["score"], "sortOrder": order}])
    rows = world["rows"]
    held = [n for n in range(NUMBERS) if "score" in rows[n] and holds(rows[n]["score"])]
    sign = 1 if order == "Asc" else -1
    expected = [world["ids"][n] for n in sorted(held, key=lambda n: (sign * rows[n]["score"], -n))]
    assert [c["caseId"] for p in got for c in p["cases"]] == expected


@pytest.mark.parametrize("test", ["lessThan", "greaterThanOrEqualTo"])
def test_walk_newest_first_within_a_last_updated_range(world, test):
    cc, domain = world["cc"], world["domain"]
    updated = {c["caseId"]: c["fields"][0]["value"]["stringValue"]
               for p in pages(cc, 100, domainId=domain,
                              fields=[{"id": "last_updated_datetime"}])
               for c in p["cases"]}
    edge = updated[world["ids"][NUMBERS // 2]]
    at = datetime.fromisoformat
    got = pages(cc, 2, domainId=domain, filter={"field": {test: {
        "id": "last_updated_datetime", "value": text(edge)}}})
    # Cases were updated in the order they were made; equal times fall in newest-first order.
    inside = ((lambda t: at(t) < at(edge)) if test == "lessThan"
              else (lambda t: at(t) >= at(edge)))
    expected = [case for case in reversed(world["ids"]) if inside(updated[case])]
    assert 0 < len(expected) < NUMBERS
    assert [c["caseId"] for p in got for c in p["cases"]] == expected


def test_text_equal_to_past_the_indexed_key(tiny):
    """The value index keys text by its first 256 characters: equalTo still matches whole
    values only, read from the index (narrow) or tested case by case (in an orAll)."""
    cc = tiny.client("connectcases")
    domain = cc.create_domain(name="long values")["domainId"]
    template = cc.create_template(domainId=domain, name="Plain")["templateId"]
    long = "k" * 300
    ids = {title: cc.create_case(domainId=domain, templateId=template,
                                 fields=[{"id": "title", "value": text(title)}])["caseId"]
           for title in (long, long[:255], long[:256], "other")}
    for wanted in (long, long[:255], long[:256], long[:257]):
        for filter_ in (equal("title", wanted),
                        {"orAll": [equal("title", wanted), equal("title", "none")]}):
            found = cc.search_cases(domainId=domain, filter=filter_)["cases"]
            assert [c["caseId"] for c in found] == ([ids[wanted]] if wanted in ids else [])


def test_user_contains_past_the_indexed_key(tiny):
    """A user field's contains test reads the field's few values from the value index, whose
    keys are their first 256 characters: a value that long is still tested whole."""
    cc = tiny.client("connectcases")
    domain = cc.create_domain(name="long users")["domainId"]
    owner = cc.create_field(domainId=domain, name="owner", type="User")["fieldId"]
    template = cc.create_template(domainId=domain, name="Plain")["templateId"]
    long = f"{AGENTS}/{'k' * 300}/tail"
    ids = {arn: cc.create_case(domainId=domain, templateId=template, fields=[
        {"id": "title", "value": text("x")}, {"id": owner, "value": {"userArnValue": arn}}])[
        "caseId"] for arn in (long, f"{AGENTS}/short")}
    for pattern, expected in (("/TAIL", [long]), ("kkk", [long]), ("short", [f"{AGENTS}/short"]),
                              ("agent/", [f"{AGENTS}/short", long]), ("nowhere", [])):
        found = cc.search_cases(domainId=domain, filter=user_contains(owner, pattern))
        assert [c["caseId"] for c in found["cases"]] == [ids[arn] for arn in expected]
        assert found["totalCount"] == len(expected)


CONTACTS = "arn:aws:connect:us-east-1:000000000000:instance/i-plans/contact"


@pytest.fixture(scope="module")
def items(tiny):
    """Related items made one after another, so that their association times follow the
    order they were made in: three comments (more than the drive limit of two, so that a
    search of comments walks in time order) and two contacts of one ARN."""
    cc = tiny.client("connectcases")
    domain = cc.create_domain(name="items")["domainId"]
    template = cc.create_template(domainId=domain, name="Plain")["templateId"]
    cases = [cc.create_case(domainId=domain, templateId=template, fields=[
        {"id": "title", "value": text(f"case {n}")}])["caseId"] for n in range(3)]
    comment = {"comment": {"body": "Called back", "contentType": "Text/Plain"}}
    contact = {"contact": {"contactArn": f"{CONTACTS}/c-1"}}
    made = []
    for case_id, kind, content in [(cases[0], "Comment", comment), (cases[1], "Contact", contact),
                                   (cases[1], "Comment", comment), (cases[2], "Comment", comment),
                                   (cases[2], "Contact", contact)]:
        made.append((cc.create_related_item(domainId=domain, caseId=case_id, type=kind,
                                            content=content)["relatedItemId"], kind))
    return {"cc": cc, "domain": domain, "made": made}


@pytest.mark.parametrize("filters, types", [
    ([{"comment": {}}], {"Comment"}),
    ([{"contact": {"contactArn": f"{CONTACTS}/c-1"}}], {"Contact"}),
    ([{"comment": {}}, {"contact": {}}], {"Comment", "Contact"}),
    ([{"file": {}}], set()),
])
@pytest.mark.parametrize("order", ["Asc", "Desc"])
@pytest.mark.parametrize("size", [1, 2, 25])
def test_related_items_of_a_type_in_time_order(items, filters, types, order, size):
    """Items of types few items hold are read by their types' index and sorted; the others
    walk the domain's items in time order: the same pages either way."""
    paginator = items["cc"].get_paginator("search_all_related_items")
    got = [item["relatedItemId"] for page in paginator.paginate(
        domainId=items["domain"], filters=filters,
        sorts=[{"sortProperty": "AssociationTime", "sortOrder": order}],
        PaginationConfig={"PageSize": size}) for item in page["relatedItems"]]
    expected = [item for item, kind in items["made"] if kind in types]
    assert got == (expected if order == "Asc" else expected[::-1])
