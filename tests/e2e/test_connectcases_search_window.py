"""A search term matching more cases than the drive limit: the window of its newest cases.

With ``--search-drive-limit 2`` a term held by more than two cases is first tested only on the
cases created since its third-newest match (the window); a page that older cases could enter is
found again from the whole answer. An old case updated last must still come first, and a term
counted on the index counts one domain's cases only.
"""

from __future__ import annotations

import pytest
from cases_helpers import text
from conftest import start_server


@pytest.fixture(scope="module")
def narrow(tmp_path_factory):
    server = start_server(tmp_path_factory.mktemp("window"), "--search-drive-limit", "2",
                          "--search-total-cap", "50")
    yield server
    server.stop()


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
    cc = narrow.client("connectcases")
    titles = [f"gamma {n}" if n % 3 else f"delta {n}" for n in range(12)]
    domain, ids = make_domain(cc, "window", titles)
    oldest = ids[1]  # "gamma 1": far older than the window of the newest gamma cases
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
    cc = narrow.client("connectcases")
    mine, ids = make_domain(cc, "counted-mine", [f"zeta {n}" for n in range(5)])
    other, _ = make_domain(cc, "counted-other", [f"zeta other {n}" for n in range(7)])
    found = cc.search_cases(domainId=mine, searchTerm="ZETA")
    assert found["totalCount"] == 5
    assert [c["caseId"] for c in found["cases"]] == list(reversed(ids))
    assert cc.search_cases(domainId=other, searchTerm="zet")["totalCount"] == 7
    assert cc.search_cases(domainId=mine, searchTerm="zeta other")["totalCount"] == 0


def test_window_with_a_filter_and_another_sort(narrow):
    cc = narrow.client("connectcases")
    titles = [f"theta {n:02d}" for n in range(10)]
    domain, ids = make_domain(cc, "window-sorted", titles)
    # Title ascending: the oldest cases come first, outside the window of the newest.
    got = ids_of(cc, domain, 3, searchTerm="theta",
                 sorts=[{"fieldId": "title", "sortOrder": "Asc"}])
    assert got == ids
    got = ids_of(cc, domain, 2, searchTerm="theta", filter={"field": {"greaterThan": {
        "id": "title", "value": text("theta 04")}}})
    assert got == list(reversed(ids[5:]))
