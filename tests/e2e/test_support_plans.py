"""Support plans per account: the subscription gate on every operation, and the CLI."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from conftest import start_server

MESSAGE = "Amazon Web Services Premium Support Subscription is required to use this service."


def minimal(shape):
    """The smallest input the model's validation accepts for ``shape``."""
    kind = shape.type_name
    if kind == "structure":
        return {name: minimal(shape.members[name]) for name in shape.required_members}
    if kind == "list":
        return [minimal(shape.member) for _ in range(max(1, shape.metadata.get("min", 0)))]
    if kind == "string":
        return "x" * max(1, shape.metadata.get("min", 0))
    if kind == "blob":
        return b"x"
    if kind in ("integer", "long"):
        return max(1, shape.metadata.get("min", 0))
    if kind == "boolean":
        return False
    raise AssertionError(f"no minimal value for {kind}")


def every_operation(client):
    model = client.meta.service_model
    for name in model.operation_names:
        op = model.operation_model(name)
        params = minimal(op.input_shape) if op.input_shape else {}
        method = client.meta.method_to_api_mapping
        python_name = next(k for k, v in method.items() if v == name)
        yield name, getattr(client, python_name), params


@pytest.mark.parametrize("plan", ["basic", "developer"])
def test_plans_without_api_access_are_refused_on_every_operation(server, plan):
    account = {"basic": "420000000001", "developer": "420000000002"}[plan]
    key, secret = server.new_account(account)
    server.casework("accounts", "set-plan", account, plan)
    support = server.client("support", key=key, secret=secret)
    seen = 0
    for name, call, params in every_operation(support):
        with pytest.raises(ClientError) as caught:
            call(**params)
        error = caught.value.response
        assert error["Error"]["Code"] == "SubscriptionRequiredException", name
        assert error["Error"]["Message"] == MESSAGE
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        seen += 1
    assert seen >= 16


def test_set_plan_changes_access_at_once(server):
    key, secret = server.new_account("420000000003")
    support = server.client("support", key=key, secret=secret)
    assert support.describe_services()["services"]
    server.casework("accounts", "set-plan", "420000000003", "developer")
    with pytest.raises(ClientError) as caught:
        support.describe_services()
    assert caught.value.response["Error"]["Code"] == "SubscriptionRequiredException"
    server.casework("accounts", "set-plan", "420000000003", "enterprise")
    levels = support.describe_severity_levels()["severityLevels"]
    assert [level["code"] for level in levels][-1] == "critical"


def test_a_reply_refused_for_the_plan_adds_nothing(server):
    # A plain reply is one statement that tests the plan itself (on PostgreSQL it commits
    # before the plan check's verdict is read): refused, it must have written nothing.
    key, secret = server.new_account("420000000006")
    support = server.client("support", key=key, secret=secret)
    case_id = support.create_case(subject="s", communicationBody="first")["caseId"]
    server.casework("accounts", "set-plan", "420000000006", "developer")
    with pytest.raises(ClientError) as caught:
        support.add_communication_to_case(caseId=case_id, communicationBody="refused")
    assert caught.value.response["Error"]["Code"] == "SubscriptionRequiredException"
    server.casework("accounts", "set-plan", "420000000006", "business")
    support.add_communication_to_case(caseId=case_id, communicationBody="second")
    bodies = [c["body"] for c in support.describe_communications(
        caseId=case_id)["communications"]]
    assert bodies == ["second", "first"]


def test_accounts_list_and_cli_errors(server):
    server.new_account("420000000004")
    listed = server.casework("accounts", "list").stdout.splitlines()
    rows = {line.split("\t")[0]: line.split("\t") for line in listed}
    assert rows["000000000000"][2] == "enterprise"
    assert rows["420000000004"][2] == "business (default)"
    with pytest.raises(Exception) as caught:
        server.casework("accounts", "set-plan", "999999999999", "business")
    assert "no account 999999999999" in caught.value.stderr
    with pytest.raises(Exception) as caught:
        server.casework("accounts", "set-plan", "420000000004", "platinum")
    assert "platinum" in caught.value.stderr


def test_default_plan_setting_applies_to_accounts_without_one(tmp_path):
    server = start_server(tmp_path, "--default-plan", "basic")
    try:
        # The out-of-the-box account has its own plan (enterprise) and keeps working.
        assert server.client("support").describe_severity_levels()["severityLevels"]
        key, secret = server.new_account("420000000005")
        support = server.client("support", key=key, secret=secret)
        with pytest.raises(ClientError) as caught:
            support.describe_cases()
        assert caught.value.response["Error"]["Code"] == "SubscriptionRequiredException"
        server.casework("accounts", "set-plan", "420000000005", "business")
        assert support.describe_cases()["cases"] == []
    finally:
        server.stop()
