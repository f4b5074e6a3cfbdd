"""Case events delivered to EventBridge: moto's server stands in for it, with a rule that sends
the events to an SQS queue, which the tests read as a user's consumer would."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import boto3
import httpx
import pytest
from cases_helpers import account_client, new_domain, new_template, text
from conftest import REGION, free_port, start_server
from events_helpers import wait_until

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """moto's server on a free loopback port: its endpoint URL."""
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "wb")  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                                str(port)], stdout=log, stderr=subprocess.STDOUT)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(f"{endpoint}/moto-api/", timeout=1)
            break
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("moto's server did not start") from None
            time.sleep(0.1)
    yield endpoint
    process.terminate()
    process.wait(timeout=30)
    log.close()


def aws(moto: str, service: str):
    return boto3.client(service, endpoint_url=moto, region_name=REGION,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def queue_for(moto: str, pattern: dict, bus: str = "default") -> str:
    """A new SQS queue that an EventBridge rule on ``bus`` fills with the events matching
    ``pattern``; returns its URL."""
    sqs, events = aws(moto, "sqs"), aws(moto, "events")
    name = f"q-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=name)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue_arn}])
    return queue_url


class Queue:
    """What a consumer of the queue has read so far."""

    def __init__(self, moto: str, url: str):
        self.sqs, self.url, self.events = aws(moto, "sqs"), url, []

    def read(self, count: int) -> list[dict]:
        def enough():
            answer = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                              WaitTimeSeconds=1)
            for message in answer.get("Messages", []):
                self.events.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.url,
                                        ReceiptHandle=message["ReceiptHandle"])
            return len(self.events) >= count
        wait_until(enough, f"{count} event(s) in the queue")
        return self.events


def test_events_reach_an_eventbridge_rule_and_its_queue(tmp_path, moto):
    queue = Queue(moto, queue_for(moto, {"source": ["aws.support", "aws.cases"]}))
    server = start_server(tmp_path, "--eventbridge-endpoint", moto, env=CREDENTIALS)
    try:
        support = server.client("support")
        case_id = support.create_case(subject="To EventBridge", communicationBody="x")["caseId"]
        support.add_communication_to_case(caseId=case_id, communicationBody="more")
        cc = account_client(server, "620000000001")
        domain_id = new_domain(cc)
        template_id = new_template(cc, domain_id)
        cc.put_case_event_configuration(domainId=domain_id, eventBridge={
            "enabled": True, "includedData": {"caseData": {"fields": [{"id": "title"}]}}})
        connect_case = cc.create_case(domainId=domain_id, templateId=template_id,
                                      fields=[{"id": "title", "value": text("Via rule")}])[
            "caseId"]
        created, added, changed = queue.read(3)
        assert created["source"] == "aws.support" and added["source"] == "aws.support"
        assert created["detail-type"] == "Support Case Update"
        assert created["detail"]["case-id"] == case_id
        assert created["detail"]["event-name"] == "CreateCase"
        assert added["detail"]["event-name"] == "AddCommunicationToCase"
        assert added["detail"]["origin"] == "CUSTOMER"
        assert created["region"] == "us-east-1" and created["resources"] == []
        assert changed["source"] == "aws.cases"
        assert changed["detail-type"] == "Amazon Connect Cases Change"
        assert changed["detail"]["eventType"] == "CASE.CREATED"
        assert changed["detail"]["case"]["caseId"] == connect_case
        assert changed["detail"]["case"]["fields"] == {"title": {"value": text("Via rule")}}
        assert changed["resources"][1].endswith(f"/case/{connect_case}")
        # The rows are delivered; the bus gave the events ids of its own.
        listed = server.casework("events", "list").stdout.splitlines()
        assert [line.split("\t")[3:] for line in listed] == [["delivered", "1", "eventbridge"]] * 3
    finally:
        server.stop()


def test_a_source_prefix_and_a_custom_bus_for_a_real_eventbridge(tmp_path, moto):
    aws(moto, "events").create_event_bus(Name="casework-bus")
    queue = Queue(moto, queue_for(moto, {"source": ["casework.support"]}, bus="casework-bus"))
    server = start_server(tmp_path, "--eventbridge-endpoint", moto, "--eventbridge-bus",
                          "casework-bus", env={**CREDENTIALS,
                                               "CASEWORK_EVENTBRIDGE_SOURCE_PREFIX": "casework."})
    try:
        support = server.client("support")
        case_id = support.create_case(subject="Prefixed", communicationBody="x")["caseId"]
        (event,) = queue.read(1)
        assert event["source"] == "casework.support"
        assert event["detail-type"] == "Support Case Update"
        assert event["detail"]["case-id"] == case_id
    finally:
        server.stop()
