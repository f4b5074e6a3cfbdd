"""Migrations search_0002 to search_0009 on a store that holds cases.

A store written at the newest revision is taken back to cases_0007_search_indexes (value
indexes over every row, term documents without domain scopes, keyed by case seq, no
vocabulary, no substring or trigram index) and upgraded again by the next server start; search
answers the same before and after, in the same order (the oldest case, updated last, first),
each domain's term count stays its own, and contains tests find what they found. The indexes
each dialect gained last go and come back: PostgreSQL's trigram indexes of values and of
reference numbers, SQLite's prefix index of one-character starts and its substring index that
keeps positions.
"""

from __future__ import annotations

import time

from cases_helpers import text
from conftest import POSTGRES_URL, downgrade_store, start_server
from sqlalchemy import create_engine
from sqlalchemy import text as sql


def search_indexes(database_url: str) -> str | None:
    """The definitions of the indexes that answer contains and one-character search words in
    the database's dialect: PostgreSQL's trigram indexes of case values, or SQLite's term index
    (which must keep a prefix index) and substring index (which must keep positions)."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            found = " ".join(conn.scalars(sql(
                "SELECT sql FROM sqlite_master WHERE name IN "
                "('cases_search_terms', 'cases_search_substrings')"))) or None
        else:
            found = " ".join(conn.scalars(sql(
                "SELECT indexdef FROM pg_indexes WHERE indexname IN "
                "('ix_cases_case_values_trigrams', 'ix_cases_case_values_reference_trigrams')"
            ))) or None
    engine.dispose()
    return found


NEWEST = (("ix_cases_case_values_trigrams", "ix_cases_case_values_reference_trigrams")
          if POSTGRES_URL else ("prefix='22'", "detail=full"))


def searches(cc, domains: dict[str, str]) -> dict:
    found = {}
    for name, domain in domains.items():
        for term in ("lamp", "LAMP post", "other", "zzz", "l", "o"):
            for size in (1, 25):
                page = cc.search_cases(domainId=domain, searchTerm=term, maxResults=size,
                                       fields=[{"id": "title"}])
                found[name, term, size] = (page["totalCount"],
                                           [c["caseId"] for c in page["cases"]])
        for pattern in ("amp p", "AMPS", "ther", "LAMP POST, PAINTED"):
            page = cc.search_cases(domainId=domain, filter={"field": {"contains": {
                "id": "title", "value": text(pattern)}}})
            found[name, "contains", pattern] = (page["totalCount"],
                                                [c["caseId"] for c in page["cases"]])
    return found


def test_search_survives_the_migrations_down_and_up(tmp_path):
    server = start_server(tmp_path)
    cc = server.client("connectcases")
    domains, templates, case_ids = {}, {}, {}
    for name, titles in (("first", ["Lamp post", "lamps", "streetlamp", "other lamp"]),
                         ("second", ["lamp", "nothing", "other"])):
        domain = cc.create_domain(name=name)["domainId"]
        template = cc.create_template(domainId=domain, name="Plain")["templateId"]
        ids = [cc.create_case(domainId=domain, templateId=template,
                              fields=[{"id": "title", "value": text(title)}])["caseId"]
               for title in titles]
        domains[name], templates[name], case_ids[name] = domain, template, ids
    # More lamps, created in a later second; then the first case, updated later still, must
    # come first: the term index is read newest second first.
    time.sleep(1.1)
    for n in range(12):
        cc.create_case(domainId=domains["first"], templateId=templates["first"],
                       fields=[{"id": "title", "value": text(f"lamp {n}")}])
    time.sleep(1.1)
    cc.update_case(domainId=domains["first"], caseId=case_ids["first"][0],
                   fields=[{"id": "title", "value": text("Lamp post, painted")}])
    before = searches(cc, domains)
    assert before["first", "lamp", 25][0] == 15 and before["second", "lamp", 25][0] == 1
    assert before["first", "lamp", 1][1] == [case_ids["first"][0]]
    assert before["first", "contains", "amp p"] == (1, [case_ids["first"][0]])
    assert before["first", "contains", "LAMP POST, PAINTED"] == (1, [case_ids["first"][0]])
    assert before["second", "contains", "ther"][0] == 1
    server.stop()
    assert all(index in search_indexes(server.database_url) for index in NEWEST)

    downgrade_store(server.database_url, "cases_0007_search_indexes")
    assert not any(index in (search_indexes(server.database_url) or "") for index in NEWEST)
    server = start_server(tmp_path)  # upgrades to the newest revision again
    try:
        assert searches(server.client("connectcases"), domains) == before
        assert all(index in search_indexes(server.database_url) for index in NEWEST)
    finally:
        server.stop()
