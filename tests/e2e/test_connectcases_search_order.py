"""A search term read in the order of its cases' last update, newest first.

On SQLite the term index keys each document by the second its case was last updated, so the
default order reads a term's newest entries a chunk at a time and sorts each chunk exactly (see
``search_queries.CaseSearch``); ``--search-drive-limit 2`` makes every other index answer too
large to read whole. The order must be exact across updates, ties within a second, chunks that
a filter leaves empty, and pages of any size; a word's completions come from the index's
vocabulary, words no case holds any more match nothing, and a term counted on the index counts
one domain's cases only. PostgreSQL runs the same tests through its own plans.
"""

from __future__ import annotations

import itertools
import time

import pytest
from cases_helpers import account_client, text
from conftest import start_server


@pytest.fixture(scope="module")
def narrow(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("order"), "--search-drive-limit", "2",
                          "--search-total-cap", "50")
    yield server
    server.stop()


_ACCOUNTS = itertools.count(1)


def fresh(server):
    """A connectcases client of an account of its own (five domains to an account)."""
    return account_client(server, f"5555{next(_ACCOUNTS):08d}")


def make_domain(cc, name: str, titles: list[str]) -> tuple[str, list[str]]:
    domain = cc.create_domain(name=name)["domainId"]
    template = cc.create_template(domainId=domain, name="Plain")["templateId"]
    ids = [cc.create_case(domainId=domain, templateId=template,
                          fields=[{"id": "title", "value": text(t)}])["caseId"] for t in titles]
    return domain, ids


def ids_of(cc, domain: str, size: int, **params) -> list[str]:
    paginator = cc.get_paginator("search_cases")
    return [c["caseId"] for page in paginator.paginate(
        domainId=domain, **params, PaginationConfig={"PageSize": size}) for c in page["cases"]]


SIZES = [1, 2, 3, 25]


def test_an_old_case_updated_last_comes_first(narrow):
    cc = fresh(narrow)
    titles = [f"gamma {n}" if n % 3 else f"delta {n}" for n in range(12)]
    domain, ids = make_domain(cc, "updated", titles)
    oldest = ids[1]  # "gamma 1": the oldest gamma case until it is updated
    cc.update_case(domainId=domain, caseId=oldest,
                   fields=[{"id": "title", "value": text("gamma 1 again")}])
    gammas = [ids[n] for n in reversed(range(12)) if n % 3 and n != 1]
    for size in SIZES:
        assert ids_of(cc, domain, size, searchTerm="gamm") == [oldest, *gammas]
    # And an old case that stops matching leaves the answer.
    cc.update_case(domainId=domain, caseId=oldest,
                   fields=[{"id": "title", "value": text("epsilon")}])
    for size in SIZES:
        assert ids_of(cc, domain, size, searchTerm="gamma") == gammas
    found = cc.search_cases(domainId=domain, searchTerm="gamma")
    assert found["totalCount"] == len(gammas)


def test_a_term_counts_its_own_domain(narrow):
    cc = fresh(narrow)
    mine, ids = make_domain(cc, "counted-mine", [f"zeta {n}" for n in range(5)])
    other, _ = make_domain(cc, "counted-other", [f"zeta other {n}" for n in range(7)])
    found = cc.search_cases(domainId=mine, searchTerm="ZETA")
    assert found["totalCount"] == 5
    assert [c["caseId"] for c in found["cases"]] == list(reversed(ids))
    assert cc.search_cases(domainId=other, searchTerm="zet")["totalCount"] == 7
    assert cc.search_cases(domainId=mine, searchTerm="zeta other")["totalCount"] == 0


def test_a_term_with_a_filter_and_another_sort(narrow):
    cc = fresh(narrow)
    titles = [f"theta {n:02d}" for n in range(10)]
    domain, ids = make_domain(cc, "sorted", titles)
    # Title ascending: the oldest cases come first.
    got = ids_of(cc, domain, 3, searchTerm="theta",
                 sorts=[{"fieldId": "title", "sortOrder": "Asc"}])
    assert got == ids
    got = ids_of(cc, domain, 2, searchTerm="theta", filter={"field": {"greaterThan": {
        "id": "title", "value": text("theta 04")}}})
    assert got == list(reversed(ids[5:]))


def updated_order(cc, domain: str, ids: list[str]) -> list[str]:
    """The cases most recently updated first, the newest case first among equal times."""
    updated = {case_id: next(f["value"]["stringValue"] for f in cc.get_case(
        domainId=domain, caseId=case_id, fields=[{"id": "last_updated_datetime"}])["fields"])
        for case_id in ids}
    return sorted(ids, key=lambda case_id: (updated[case_id], ids.index(case_id)),
                  reverse=True)


def test_cases_updated_in_one_second_page_in_exact_order(narrow):
    cc = fresh(narrow)
    # More cases than a first chunk reads, most in one second: the index orders a second's
    # cases by seq, so the cases updated last are found only by reading the whole second.
    domain, ids = make_domain(cc, "one-second", [f"lambda {n}" for n in range(24)])
    for n in (4, 0, 7, 2):
        cc.update_case(domainId=domain, caseId=ids[n],
                       fields=[{"id": "title", "value": text(f"lambda {n} moved")}])
    expected = updated_order(cc, domain, ids)
    assert expected[:4] == [ids[2], ids[7], ids[0], ids[4]]
    for size in SIZES:
        assert ids_of(cc, domain, size, searchTerm="lambda") == expected


def test_a_filter_few_cases_pass_reads_the_term_a_chunk_at_a_time(narrow):
    cc = fresh(narrow)
    # Three groups of cases, each in a second of its own; only the oldest group has "rare"
    # titles, so the newest entries of the term leave the page empty until the last chunk.
    domain, ids = make_domain(cc, "chunks", ["kappa rare 0", "kappa 1", "kappa rare 2"])
    template = cc.list_templates(domainId=domain)["templates"][0]["templateId"]
    for group in range(2):
        time.sleep(1.1)
        ids += [cc.create_case(domainId=domain, templateId=template, fields=[
            {"id": "title", "value": text(f"kappa {group} {n}")}])["caseId"] for n in range(6)]
    rare = {"field": {"contains": {"id": "title", "value": text("RARE")}}}
    for size in SIZES:
        assert ids_of(cc, domain, size, searchTerm="kappa", filter=rare) == [ids[2], ids[0]]
    assert cc.search_cases(domainId=domain, searchTerm="kap", filter=rare)["totalCount"] == 2
    assert ids_of(cc, domain, 4, searchTerm="kappa") == list(reversed(ids))


def test_a_word_with_many_completions(narrow):
    cc = fresh(narrow)
    # "mu" starts 70 words of the domain: more than the vocabulary lists for a word.
    many = " ".join(f"mu{n}" for n in range(70))
    domain, ids = make_domain(cc, "completions", [many, "mu5 alone", "nu"])
    assert ids_of(cc, domain, 1, searchTerm="mu") == [ids[1], ids[0]]
    assert ids_of(cc, domain, 25, searchTerm="MU5") == [ids[1], ids[0]]
    assert ids_of(cc, domain, 25, searchTerm="mu69") == [ids[0]]
    found = cc.search_cases(domainId=domain, searchTerm="mu70")
    assert (found["cases"], found["totalCount"]) == ([], 0)


def test_a_word_no_case_holds_any_more_matches_nothing(narrow):
    cc = fresh(narrow)
    domain, ids = make_domain(cc, "forgotten", ["walnut desk", "oak desk"])
    cc.update_case(domainId=domain, caseId=ids[0],
                   fields=[{"id": "title", "value": text("cedar desk")}])
    for term in ("walnut", "waln", "walnut desk"):
        found = cc.search_cases(domainId=domain, searchTerm=term)
        assert (found["cases"], found["totalCount"]) == ([], 0)
    assert ids_of(cc, domain, 1, searchTerm="cedar") == [ids[0]]
    assert ids_of(cc, domain, 1, searchTerm="desk") == [ids[0], ids[1]]


def test_words_of_hex_digits_are_found_by_their_starts(narrow):
    cc = fresh(narrow)
    # Words of hex digits alone (ids, numbers, and a few English words) are searched as
    # prefixes rather than through the vocabulary; a word's start may be hex and the word not.
    titles = ["Facade 12ab9 beef", "cafe", "decoy duck"]
    domain, ids = make_domain(cc, "hex", titles)
    # A case id's parts are words of hex digits too, and may start like a term by chance: the
    # expected cases are those whose title or id holds a start of every word of the term.
    words = [set(title.lower().split()) | set(case_id.split("-"))
             for title, case_id in zip(titles, ids, strict=True)]
    for term, meant in (("fac", 0), ("12A", 0), ("beef facade", 0), ("caf", 1), ("dec", 2),
                        ("decoy", 2), ("12ab9 x", None)):
        expected = [case_id for case_id, held in reversed(list(zip(ids, words, strict=True)))
                    if all(any(word.startswith(start) for word in held)
                           for start in term.lower().split())]
        assert (ids[meant] in expected) if meant is not None else expected == [], term
        assert ids_of(cc, domain, 25, searchTerm=term) == expected, term


def test_one_character_words_are_found_by_their_starts(narrow):
    cc = fresh(narrow)
    # On SQLite a word of one character is read from the term index's prefix index: the first
    # character of every word, kept under the domain's scope. No letter searched is a hex
    # digit, which a part of a case id may start with.
    domain, ids = make_domain(cc, "letters", ["Maple kit", "mango", "Kiwi", "Über walnut"])
    other, others = make_domain(cc, "others", ["maple", "melon", "kiwi"])
    for term, expected in (("m", [ids[1], ids[0]]), ("M", [ids[1], ids[0]]),
                           ("k", [ids[2], ids[0]]), ("ü", [ids[3]]), ("w", [ids[3]]),
                           ("m k", [ids[0]]), ("k m", [ids[0]]), ("q", []), ("m q", [])):
        for size in (1, 25):
            assert ids_of(cc, domain, size, searchTerm=term) == expected, term
        assert cc.search_cases(domainId=domain, searchTerm=term)["totalCount"] == len(expected)
    assert ids_of(cc, other, 25, searchTerm="m") == [others[1], others[0]]
    assert cc.search_cases(domainId=other, searchTerm="k")["totalCount"] == 1
    cc.update_case(domainId=domain, caseId=ids[1], fields=[{"id": "title", "value": text("plum")}])
    assert ids_of(cc, domain, 25, searchTerm="m") == [ids[0]]
    assert ids_of(cc, domain, 25, searchTerm="p") == [ids[1]]
