"""SearchCases' ``contains``: a case-insensitive substring test, however the search reads it.

On SQLite a pattern of three to 14 characters is a phrase the substring index (the trigrams of
each case's text values, with their positions) answers exactly; a longer one is looked up by
some of its trigrams, which yields a superset of the matching cases, each then tested. One
under three characters reads the field's documents in that index one by one. A walk tries the
index's answer for the seq range of its first entries before the whole answer. A contains on a
value the service sets reads a narrow index of such values (case ids; on SQLite, the value
index's keys).
``--search-drive-limit 2`` makes a lookup of more than two candidates walk the sort index
instead of reading them whole, so a small domain runs both plans. Every answer must equal a
plain substring test of the values, across pages, with the count, after updates that change,
keep or empty the values, and for patterns under three characters, on values the index does not
hold (the last update time), or that only another field holds. PostgreSQL runs
the same tests: there a GIN index of trigrams (``pg_trgm``) answers the patterns holding three
letters or digits in a row, and the others test each case.
"""

from __future__ import annotations

import pytest
from cases_helpers import text
from conftest import start_server

CAP = 50
LONG = "The quick brown fox jumps over the lazy dog near the riverbank at dawn"
TITLES = [
    "Tablet won't charge", "TABLET screen cracked", "Printer jam", "Stable table",
    "let tab able",  # every trigram of "tablet", but not "tablet"
    "Müller order 100%", "Under_score and 50% off", 'Quote "this" now', "ab",
    f"Long one: {LONG}", "tablet", "Nothing here",
    'Odd:   """ *** AND (a) ^ab a\'b \\\\\\ 😀😀😀 -ab ta*',
]
SUMMARIES = {2: "The customer also owns a tablet", 6: "Printer in 100% condition",
             9: "see Müller"}
NOTES = {0: "RMA-2291-X", 1: "rma-2291-y", 4: "quote: \"this\""}
PAGES = {0: "https://shop.example.com/orders/1234", 3: "https://shop.example.com/orders/12345"}


@pytest.fixture(scope="module")
def narrow(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("contains"), "--search-drive-limit", "2",
                          "--search-total-cap", str(CAP))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def world(narrow):
    cc = narrow.client("connectcases")
    domain = cc.create_domain(name="contains")["domainId"]
    note = cc.create_field(domainId=domain, name="Note", type="Text")["fieldId"]
    page = cc.create_field(domainId=domain, name="Page", type="Url")["fieldId"]
    template = cc.create_template(domainId=domain, name="Plain")["templateId"]
    cases = []
    for n, title in enumerate(TITLES):
        held = {"title": title}
        if n in SUMMARIES:
            held["summary"] = SUMMARIES[n]
        if n in NOTES:
            held[note] = NOTES[n]
        if n in PAGES:
            held[page] = PAGES[n]
        case_id = cc.create_case(domainId=domain, templateId=template, fields=[
            {"id": field, "value": text(value)} for field, value in held.items()])["caseId"]
        cases.append({"case_id": case_id, **held})
    return {"cc": cc, "domain": domain, "template": template, "note": note, "page": page,
            "cases": cases}


def contains(field: str, pattern: str) -> dict:
    return {"field": {"contains": {"id": field, "value": text(pattern)}}}


def found(cc, domain: str, size: int = 2, **params) -> tuple[list[str], int]:
    """Every case id of a search, paged ``size`` at a time, and the first page's count."""
    paginator = cc.get_paginator("search_cases")
    pages = list(paginator.paginate(domainId=domain, **params,
                                    PaginationConfig={"PageSize": size}))
    return [c["caseId"] for p in pages for c in p["cases"]], pages[0]["totalCount"]


def holding(world, field: str, pattern: str) -> set[str]:
    """The oracle: cases whose value of ``field`` contains ``pattern``, ignoring case (the
    values differ in case only in ASCII letters, where every database agrees)."""
    return {c["case_id"] for c in world["cases"]
            if pattern.lower() in c.get(field, "\0").lower()}


PATTERNS = [
    ("title", "tablet"), ("title", "TABLET"), ("title", "ablet"), ("title", "table"),
    ("title", "won't"), ("title", '"this"'), ("title", "100%"), ("title", "%"),
    ("title", "_score"), ("title", "_"), ("title", "ülle"), ("title", "ta"), ("title", "b"),
    ("title", "zzz"), ("title", LONG[5:60].upper()), ("title", LONG[5:60] + "!"),
    ("summary", "tablet"), ("summary", "100%"), ("summary", "üll"),
    ("note", "rma-2291"), ("note", '"this"'), ("page", "orders/1234"),
    ("page", "ORDERS/12345"),
]


@pytest.mark.parametrize(("field", "pattern"), PATTERNS)
def test_contains_finds_what_a_substring_test_finds(world, field, pattern):
    field_id = world[field] if field in ("note", "page") else field
    want = holding(world, field if field not in ("note", "page") else world[field], pattern)
    ids, total = found(world["cc"], world["domain"], filter=contains(field_id, pattern))
    assert len(ids) == len(set(ids)) and set(ids) == want
    assert total == len(want)


def test_a_pattern_only_another_field_holds_matches_nothing(world):
    # Case 2's summary holds "tablet"; no case's note does, and "let tab able" holds every
    # trigram of it in its title without holding it.
    assert found(world["cc"], world["domain"], filter=contains(world["note"], "tablet")) == (
        [], 0)
    assert "let tab able" in TITLES
    ids, _ = found(world["cc"], world["domain"], filter=contains("title", "tablet"))
    assert world["cases"][4]["case_id"] not in ids


def test_contains_inside_not_or_and_a_search_term(world):
    cc, domain, cases = world["cc"], world["domain"], world["cases"]
    every = {c["case_id"] for c in cases}
    tablets = holding(world, "title", "tablet")
    ids, total = found(cc, domain, filter={"not": contains("title", "tablet")})
    assert set(ids) == every - tablets and total == len(every - tablets)
    ids, total = found(cc, domain, filter={"orAll": [contains("title", "tablet"),
                                                     contains("summary", "tablet")]})
    want = tablets | holding(world, "summary", "tablet")
    assert set(ids) == want and total == len(want)
    ids, total = found(cc, domain, searchTerm="charge", filter=contains("title", "ABLET"))
    assert ids == [cases[0]["case_id"]] and total == 1
    ids, total = found(cc, domain, filter={"andAll": [contains("title", "tablet"),
                                                      contains("title", "screen")]})
    assert ids == [cases[1]["case_id"]] and total == 1


def test_updates_keep_contains_true_to_the_values(world):
    cc, domain = world["cc"], world["domain"]
    case_id = cc.create_case(domainId=domain, templateId=world["template"], fields=[
        {"id": "title", "value": text("omega-start")},
        {"id": world["note"], "value": text("keep-this-note")}])["caseId"]

    def titled(pattern: str) -> list[str]:
        return found(cc, domain, filter=contains("title", pattern))[0]

    assert titled("ega-st") == [case_id]
    cc.update_case(domainId=domain, caseId=case_id,
                   fields=[{"id": "title", "value": text("alpha-end")}])
    assert titled("ega-st") == [] and titled("PHA-EN") == [case_id]
    # A write that changes no indexed value (the status) leaves the case findable.
    cc.update_case(domainId=domain, caseId=case_id,
                   fields=[{"id": "status", "value": text("closed")}])
    assert titled("pha-en") == [case_id]
    assert found(cc, domain, filter=contains(world["note"], "this-no"))[0] == [case_id]
    cc.update_case(domainId=domain, caseId=case_id,
                   fields=[{"id": world["note"], "value": {"emptyValue": {}}}])
    assert found(cc, domain, filter=contains(world["note"], "this-no"))[0] == []
    assert titled("pha-en") == [case_id]
    # The last update time is not in the index: it is tested case by case.
    stamp = cc.get_case(domainId=domain, caseId=case_id, fields=[
        {"id": "last_updated_datetime"}])["fields"][0]["value"]["stringValue"]
    assert case_id in found(cc, domain, filter=contains("last_updated_datetime",
                                                        stamp[:19]))[0]
    cc.delete_case(domainId=domain, caseId=case_id)
    assert titled("pha-en") == []


def test_a_deleted_fields_values_are_still_found(world):
    cc, domain = world["cc"], world["domain"]
    field = cc.create_field(domainId=domain, name="Old code", type="Text")["fieldId"]
    case_id = cc.create_case(domainId=domain, templateId=world["template"], fields=[
        {"id": "title", "value": text("coded")},
        {"id": field, "value": text("legacy-XK-7")}])["caseId"]
    cc.delete_field(domainId=domain, fieldId=field)
    assert found(cc, domain, filter=contains(field, "xk-7")) == ([case_id], 1)


@pytest.mark.parametrize("pattern", [
    "   ", "\t\n ", '"""', "'''", "*", "AND", "OR a", "NEAR(", "^ab", "😀😀😀", "ta*", "-ab",
    "(a)", "a'b", "\\\\\\"])
def test_any_pattern_is_a_plain_substring(world, pattern):
    # The index's query language must not leak: quotes, operators and spaces are characters.
    want = holding(world, "title", pattern)
    ids, total = found(world["cc"], world["domain"], filter=contains("title", pattern))
    assert set(ids) == want and total == len(want)


def test_a_walk_finds_matches_beyond_the_newest_cases(narrow):
    # A walk first asks the substring index about the newest PROBE_CASES (128) cases per case
    # of the page only; a page of one must still find matches among the oldest cases, a case
    # created first and updated last, and cases past a cursor, in the order of a search
    # without the filter.
    cc = narrow.client("connectcases")
    domain = cc.create_domain(name="probe")["domainId"]
    template = cc.create_template(domainId=domain, name="Plain")["templateId"]
    needles = {0, 1, 2, 150, 298}  # the first three, one in the middle, the second newest
    case_ids = [cc.create_case(domainId=domain, templateId=template, fields=[
        {"id": "title", "value": text(f"Needle {n}" if n in needles else f"plain {n}")},
        {"id": "status", "value": text("closed" if n % 2 else "open")}])["caseId"]
        for n in range(300)]
    cc.update_case(domainId=domain, caseId=case_ids[1],
                   fields=[{"id": "title", "value": text("NEEDLE again")}])
    every = found(cc, domain, size=100)[0]
    assert every[0] == case_ids[1] and len(every) == 300
    want = [case_id for case_id in every if case_ids.index(case_id) in needles]
    for size in (1, 2, 3, 25):
        assert found(cc, domain, size, filter=contains("title", "needle")) == (want, 5)
    opened = {case_id for n, case_id in enumerate(case_ids) if n % 2 == 0}
    want = [case_id for case_id in want if case_id in opened]
    for size in (1, 2):
        assert found(cc, domain, size, filter={"andAll": [
            contains("title", "eedle"), {"field": {"equalTo": {
                "id": "status", "value": text("open")}}}]}) == (want, len(want))


def test_contains_on_values_the_service_sets(world):
    # Case ids are read from the domain's index of case ids, and the others from the value
    # index's keys (on PostgreSQL a reference number of three digits or more from its trigram
    # index), rather than tested case by case.
    cc, domain = world["cc"], world["domain"]
    held = {}
    for case_id in found(cc, domain, size=25)[0]:  # every case, those other tests made too
        fields = cc.get_case(domainId=domain, caseId=case_id, fields=[
            {"id": "case_id"}, {"id": "reference_number"}, {"id": "created_datetime"}])["fields"]
        held[case_id] = {f["id"]: f["value"]["stringValue"] for f in fields}
    every = list(held)
    some = world["cases"][3]["case_id"]
    patterns = [("case_id", some[:8].upper()), ("case_id", some[-5:]), ("case_id", "-4"),
                ("case_id", "zz"), ("case_id", "z" + some[-6:]),
                ("reference_number", "x" + held[some]["reference_number"]),
                ("reference_number", held[some]["reference_number"][2:]),
                ("reference_number", "0"), ("created_datetime", held[some]["created_datetime"][:4]),
                ("created_datetime", "T"), ("created_datetime", "1999")]
    for field, pattern in patterns:
        want = {case_id for case_id, values in held.items()
                if pattern.lower() in values[field].lower()}
        for size in (1, 2, 25):
            ids, total = found(cc, domain, size, filter=contains(field, pattern))
            assert (set(ids), len(ids), total) == (want, len(want), min(len(want), CAP)), (
                field, pattern, size)
    ids, total = found(cc, domain, filter={"orAll": [contains("case_id", some[-6:]),
                                                     contains("title", "printer")]})
    want = {some} | holding(world, "title", "printer")
    assert set(ids) == want and total == len(want)
    ids, total = found(cc, domain, filter={"not": contains("case_id", some[-6:])})
    assert some not in ids and total == len(every) - 1
