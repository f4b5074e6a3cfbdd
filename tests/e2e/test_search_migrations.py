"""Migrations search_0002 and search_0003 on a store that holds cases.

A store written at the newest revision is taken back to cases_0007_search_indexes (value
indexes over every row, term documents without domain scopes) and upgraded again by the next
server start; search answers the same before and after,
and each domain's term count stays its own.
"""

from __future__ import annotations

from cases_helpers import text
from conftest import downgrade_store, start_server


def searches(cc, domains: dict[str, str]) -> dict:
    found = {}
    for name, domain in domains.items():
        for term in ("lamp", "LAMP post", "other", "zzz"):
            page = cc.search_cases(domainId=domain, searchTerm=term,
                                   fields=[{"id": "title"}])
            found[name, term] = (page["totalCount"], [c["caseId"] for c in page["cases"]])
    return found


def test_search_survives_the_migrations_down_and_up(tmp_path):
    server = start_server(tmp_path)
    cc = server.client("connectcases")
    domains = {}
    for name, titles in (("first", ["Lamp post", "lamps", "streetlamp", "other lamp"]),
                         ("second", ["lamp", "nothing", "other"])):
        domain = cc.create_domain(name=name)["domainId"]
        template = cc.create_template(domainId=domain, name="Plain")["templateId"]
        for title in titles:
            cc.create_case(domainId=domain, templateId=template,
                           fields=[{"id": "title", "value": text(title)}])
        domains[name] = domain
    before = searches(cc, domains)
    assert before["first", "lamp"][0] == 3 and before["second", "lamp"][0] == 1
    server.stop()

    downgrade_store(server.database_url, "cases_0007_search_indexes")
    server = start_server(tmp_path)  # upgrades to the newest revision again
    try:
        assert searches(server.client("connectcases"), domains) == before
    finally:
        server.stop()
