"""The outbox's delivery: retries with backoff, dead events and ``casework events retry``, a
server killed while events are pending, and several processes delivering each event once."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from conftest import free_port, start_server
from events_helpers import Receiver, names, wait_until

SECRET = "delivery-secret"


def rows(server, *status: str) -> list[list[str]]:
    """``casework events list`` as rows of columns."""
    out = server.casework("events", "list", *(("--status", status[0]) if status else ()))
    return [line.split("\t") for line in out.stdout.splitlines()]


def row_of(server, event_id: str) -> list[str] | None:
    return next((row for row in rows(server) if row[0] == event_id), None)


def test_failed_deliveries_are_retried_then_dead_then_retried_by_hand(tmp_path):
    receiver = Receiver(SECRET)
    server = start_server(tmp_path, "--event-webhook", receiver.url, "--event-webhook-secret",
                          SECRET, "--event-max-attempts", "3")
    try:
        support = server.client("support")
        # Two failures (a 500, a 503), then delivered on the third try, 1 s and 2 s later.
        receiver.answers = [500, 503]
        retried = support.create_case(subject="Retried", communicationBody="x")["caseId"]
        event = receiver.wait_for(retried, 1)[0]
        assert receiver.requests == 3
        assert row_of(server, event["id"])[3:5] == ["delivered", "3"]

        # A 4xx other than 408/425/429 means the receiver refused the event: dead at once.
        receiver.answers = [400]
        refused = support.create_case(subject="Refused", communicationBody="x")["caseId"]
        dead = wait_until(lambda: [r for r in rows(server, "dead") if r[2] == refused],
                          "the refused event to be dead")[0]
        assert dead[1:6] == ["CreateCase", refused, "dead", "1", "webhook:1"]
        assert "answered HTTP 400" in dead[6]
        assert receiver.events(refused) == []

        # Failing --event-max-attempts times (3) makes an event dead too.
        receiver.answers = [502, 502, 502]
        exhausted = support.create_case(subject="Exhausted", communicationBody="x")["caseId"]
        wait_until(lambda: [r for r in rows(server, "dead") if r[2] == exhausted
                            and r[4] == "3"], "the event to be dead after 3 attempts")
        assert "answered HTTP 502" in next(r for r in rows(server, "dead") if r[2] == exhausted)[6]

        # Retried by hand: one by id, the others with --dead; each arrives once.
        out = server.casework("events", "retry", dead[0]).stdout
        assert out.strip() == "1 message(s) due for delivery again"
        assert receiver.wait_for(refused, 1)[0]["id"] == dead[0]
        assert server.casework("events", "retry", "--dead").stdout.startswith("1 message")
        receiver.wait_for(exhausted, 1)
        assert rows(server, "dead") == []
        assert {r[3] for r in rows(server)} == {"delivered"}
        unknown = subprocess.run(
            [sys.executable, "-m", "casework", "events", "retry", "no-such-id", "--data-dir",
             str(server.data_dir), "--database-url", server.database_url],
            capture_output=True, text=True, env=server.env)
        assert unknown.returncode == 1 and "no undelivered message no-such-id" in unknown.stderr
    finally:
        server.stop()
        receiver.close()


def test_killing_the_server_loses_no_event(tmp_path):
    port = free_port()  # the receiver is down: nothing listens here yet
    url = f"http://127.0.0.1:{port}/hooks/casework"
    args = ("--event-webhook", url, "--event-webhook-secret", SECRET)
    server = start_server(tmp_path, *args)
    support = server.client("support")
    case_ids = [support.create_case(subject=f"Case {n}", communicationBody="x")["caseId"]
                for n in range(5)]
    for case_id in case_ids[:2]:
        support.add_communication_to_case(caseId=case_id, communicationBody="more")
    support.resolve_case(caseId=case_ids[0])

    def tried() -> list | None:
        found = rows(server, "pending")
        return found if len(found) == 8 and found[0][4] != "0" else None

    # The oldest event was tried and failed; the others wait behind it, untried, so a sink
    # that is down gets one attempt per retry, not one per event.
    pending = wait_until(tried, "8 pending events, the first tried")
    assert len(pending[0]) == 7 and pending[0][6]
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=30)

    receiver = Receiver(SECRET, port=port)
    restarted = start_server(tmp_path, *args)
    try:
        expected = {r[0] for r in pending}
        wait_until(lambda: {e["id"] for e in receiver.events()} >= expected,
                   "every event written before the kill")
        assert {e["id"] for e in receiver.events()} == expected
        by_case = {case_id: names(receiver.events(case_id)) for case_id in case_ids}
        assert by_case[case_ids[0]] == ["CreateCase", "AddCommunicationToCase", "ResolveCase"]
        assert by_case[case_ids[1]] == ["CreateCase", "AddCommunicationToCase"]
        assert all(by_case[c] == ["CreateCase"] for c in case_ids[2:])
        assert receiver.refused == []
    finally:
        restarted.stop()
        receiver.close()


def _create_cases(servers, count: int) -> set[str]:
    """``count`` AWS Support cases created at once, spread over ``servers``."""
    targets = itertools.cycle(servers)
    clients = [next(targets).client("support") for _ in range(count)]
    with ThreadPoolExecutor(8) as pool:
        return set(pool.map(lambda c: c.create_case(subject="Many", communicationBody="x")[
            "caseId"], clients))


def _delivered_once(receiver: Receiver, case_ids: set[str]) -> None:
    wait_until(lambda: {e["detail"]["case-id"] for e in receiver.events()} >= case_ids,
               "an event for every case")
    counts = Counter(e["id"] for e in receiver.events())
    assert max(counts.values()) == 1, "an event was delivered twice"
    assert len(receiver.events()) == len(case_ids)


def test_several_worker_processes_deliver_each_event_once(tmp_path):
    receiver = Receiver(SECRET)
    server = start_server(tmp_path, "--workers", "3", "--event-webhook", receiver.url,
                          "--event-webhook-secret", SECRET)
    try:
        _delivered_once(receiver, _create_cases([server], 40))
    finally:
        server.stop()
        receiver.close()


def test_several_servers_on_one_database_deliver_each_event_once(tmp_path_factory):
    receiver = Receiver(SECRET)
    args = ("--event-webhook", receiver.url, "--event-webhook-secret", SECRET)
    first = start_server(tmp_path_factory.mktemp("first"), *args)
    second = start_server(tmp_path_factory.mktemp("second"), "--data-dir", str(first.data_dir),
                          *args, env={"CASEWORK_DATABASE_URL": first.database_url})
    try:
        _delivered_once(receiver, _create_cases([first, second], 40))
    finally:
        first.stop()
        second.stop()
        receiver.close()
