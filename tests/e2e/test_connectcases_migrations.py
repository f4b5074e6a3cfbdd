"""Migration cases_0009 (each case counts its related items) on a store that holds items.

A store written at the newest revision is taken back to cases_0008 (no count on the case) and
upgraded again by the next server start: the count is made from the items there, so the quota
of 200 a case holds as before.
"""

from __future__ import annotations

from cases_helpers import code_of, new_case
from conftest import downgrade_store, start_server

COMMENT = {"comment": {"body": "note", "contentType": "Text/Plain"}}


def test_the_item_quota_holds_across_the_upgrade(tmp_path):
    server = start_server(tmp_path)
    cc = server.client("connectcases")
    domain = cc.create_domain(name="counted")["domainId"]
    template = cc.create_template(domainId=domain, name="Plain")["templateId"]
    full, empty = new_case(cc, domain, template), new_case(cc, domain, template)
    for _ in range(199):
        cc.create_related_item(domainId=domain, caseId=full, type="Comment", content=COMMENT)
    server.stop()

    downgrade_store(server.database_url, "cases_0008_related_item_types")
    server = start_server(tmp_path)  # upgrades to the newest revision again
    try:
        cc = server.client("connectcases")
        cc.create_related_item(domainId=domain, caseId=full, type="Comment", content=COMMENT)
        assert code_of(cc.create_related_item, domainId=domain, caseId=full, type="Comment",
                       content=COMMENT) == ("ServiceQuotaExceededException", 402)
        cc.create_related_item(domainId=domain, caseId=empty, type="Comment", content=COMMENT)
    finally:
        server.stop()
