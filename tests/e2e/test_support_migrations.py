"""Migration pgw_0001 (display ids from a sequence on PostgreSQL) on a store that holds cases.

A store is taken back to support_0002, where display ids came from each account's counter,
given a counter further on (as cases made then would have left it), and upgraded again by the
next server start: the next display id continues past the counter, on SQLite (which still
counts per account) and on PostgreSQL (whose sequence starts past every counter) alike.
"""

from __future__ import annotations

from conftest import downgrade_store, start_server


def _display_id(support, case_id: str) -> str:
    return support.describe_cases(caseIdList=[case_id])["cases"][0]["displayId"]


def test_display_ids_continue_past_the_counters_after_the_upgrade(tmp_path):
    server = start_server(tmp_path)
    support = server.client("support")
    old = support.create_case(subject="before", communicationBody="b")["caseId"]
    old_display = _display_id(support, old)
    server.stop()

    # Where the account's counter stood then (SQLite has a row already, PostgreSQL none).
    downgrade_store(server.database_url, "support_0002", then=(
        "DELETE FROM counters WHERE account_id = '000000000000' AND name = 'display_id'",
        "INSERT INTO counters (account_id, name, value) "
        "VALUES ('000000000000', 'display_id', 5000)"))
    server = start_server(tmp_path)  # upgrades to the newest revision again
    try:
        support = server.client("support")
        assert _display_id(support, old) == old_display
        new = support.create_case(subject="after", communicationBody="b")["caseId"]
        assert _display_id(support, new) == "1000005001"
    finally:
        server.stop()
