"""A search that takes long does not hold up the server's other requests.

On SQLite a search runs beside the event loop (``Runner.read(aside=True)``); on PostgreSQL
every read waits on its socket off the loop. A store of CASES seeded cases and a filter that
each case must be tested against one by one (contains tests of two characters, nested in an
``orAll``, name no index) make a search take hundreds of milliseconds; GetCase calls made
meanwhile must keep being answered, not one after each search.
"""

from __future__ import annotations

import threading

import pytest
from conftest import seed, start_server

CASES = 20_000
SEARCHES = 3


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    root = tmp_path_factory.mktemp("long")
    seed(root, "--connect-cases", str(CASES), "--related-items-per-case", "0")
    # Counted exactly to the end, so that each search tests every case.
    server = start_server(root, "--search-total-cap", str(CASES))
    yield server
    server.stop()


def test_requests_are_answered_while_a_long_search_runs(seeded):
    searcher, reader = seeded.client("connectcases"), seeded.client("connectcases")
    domain = next(d["domainId"] for d in searcher.list_domains()["domains"]
                  if d["name"] == "seed")
    fields = {f["name"]: f["fieldId"] for f in searcher.list_fields(domainId=domain)["fields"]}
    case_id = searcher.search_cases(domainId=domain, maxResults=1)["cases"][0]["caseId"]

    def contains(field_id: str, member: str, pattern: str) -> dict:
        return {"field": {"contains": {"id": field_id, "value": {member: pattern}}}}

    # No owner's ARN holds "q" followed by a letter, so no case matches: every case is tested.
    slow = {"orAll": [{"andAll": [contains(fields["Owner"], "userArnValue", "q" + letter),
                                  contains("title", "stringValue", "z" + letter)]}
                      for letter in "abcdefghij"]}
    answers, done = [], threading.Event()

    def search() -> None:
        try:
            answers.extend(searcher.search_cases(domainId=domain, filter=slow)
                           for _ in range(SEARCHES))
        finally:
            done.set()

    thread = threading.Thread(target=search)
    thread.start()
    read = 0
    while not done.is_set():
        got = reader.get_case(domainId=domain, caseId=case_id, fields=[{"id": "title"}])
        assert got["fields"][0]["id"] == "title"
        read += 1
    thread.join()
    assert [(a["cases"], a["totalCount"]) for a in answers] == [([], 0)] * SEARCHES
    # Had each search held up the server, each GetCase would have waited for one: about one
    # would be answered per search (three in all, measured). Beside the loop, 32 to 49 were on
    # an idle machine, and 28 with two other processes busy on its two cores.
    assert read >= 3 * SEARCHES, read
