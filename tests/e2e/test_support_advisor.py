"""Trusted Advisor: the check catalog, loaded results and the refresh state machine."""

from __future__ import annotations

import json
import re
import subprocess
import time

import pytest
from botocore.exceptions import ClientError
from conftest import start_server

CATEGORIES = {"cost_optimizing", "security", "fault_tolerance", "performance", "service_limits"}
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
LOW_UTILIZATION = "Qch7DwouX1"
IAM_USE = "zXCkfM1nI3"
EXPOSED_KEYS = "12Fnkpl8Y5"


def invalid(call, **params) -> str:
    with pytest.raises(ClientError) as caught:
        call(**params)
    error = caught.value.response
    assert error["Error"]["Code"] == "InvalidParameterValueException", error
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Error"]["Message"]


def load(server, tmp_path, document, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(document))
    return server.casework("advisor", "load", str(path), *args)


def new_support(server, account: str):
    key, secret = server.new_account(account)
    return server.client("support", key=key, secret=secret)


def test_check_catalog(support):
    checks = support.describe_trusted_advisor_checks(language="en")["checks"]
    assert len(checks) == 114 and len({c["id"] for c in checks}) == 114
    assert {c["category"] for c in checks} == CATEGORIES
    by_id = {c["id"]: c for c in checks}
    low = by_id[LOW_UTILIZATION]
    assert low["name"] == "Low Utilization Amazon EC2 Instances"
    assert low["category"] == "cost_optimizing" and len(low["metadata"]) == 22
    assert low["description"].startswith("<p>")
    assert by_id[IAM_USE]["metadata"] == []
    limits = [c for c in checks if c["category"] == "service_limits"]
    assert all(c["metadata"] == ["Region", "Service", "Limit Name", "Limit Amount",
                                 "Current Usage", "Status"] for c in limits)
    # Every listed language answers; the cost optimization checks have their Japanese names
    # (AWS's Japanese check reference), and a check or language without names of its own gets
    # English.
    japanese = {c["id"]: c
                for c in support.describe_trusted_advisor_checks(language="ja")["checks"]}
    assert japanese[LOW_UTILIZATION]["name"] == "低稼働率の Amazon EC2 インスタンス"
    assert japanese["cX3c2R1chu"]["name"] == "Amazon EC2 リザーブドインスタンスの最適化"
    assert japanese[IAM_USE]["name"] == by_id[IAM_USE]["name"]
    assert all(japanese[i]["category"] == by_id[i]["category"] for i in by_id)
    # The security checks too, from AWS's Japanese security check reference.
    assert japanese["7DAFEmoDos"]["name"] == "ルートアカウントの MFA"
    assert japanese["HCP4007jGY"]["name"] == "セキュリティグループ — 開かれたポート"
    assert japanese["12Fnkpl8Y5"]["name"] == "露出したアクセスキー"
    translated = {i for i in by_id if japanese[i]["name"] != by_id[i]["name"]}
    assert {by_id[i]["category"] for i in translated} == {"cost_optimizing", "security"}
    assert len(translated) == 33
    # Every other listed language answers with the English names (no published names are
    # shipped for them) in the same shape: every check, its id, category and columns.
    for language in ("zh", "zh_TW", "fr", "de", "id", "it", "ko", "pt_BR", "es"):
        answer = support.describe_trusted_advisor_checks(language=language)["checks"]
        assert [{k: c[k] for k in ("id", "name", "category", "metadata")} for c in answer] == \
            [{k: c[k] for k in ("id", "name", "category", "metadata")} for c in checks], language
    # Case languages that are not Trusted Advisor languages are refused like unknown ones.
    for language in ("xx", "pt", "tr"):
        assert "Unsupported language" in invalid(support.describe_trusted_advisor_checks,
                                                 language=language)


def test_a_check_without_results_is_not_available(server):
    support = new_support(server, "430000000001")
    result = support.describe_trusted_advisor_check_result(checkId=IAM_USE)["result"]
    assert result["checkId"] == IAM_USE and result["status"] == "not_available"
    assert TIMESTAMP.match(result["timestamp"])
    assert result["resourcesSummary"] == {"resourcesProcessed": 0, "resourcesFlagged": 0,
                                          "resourcesIgnored": 0, "resourcesSuppressed": 0}
    assert result["categorySpecificSummary"] == {
        "costOptimizing": {"estimatedMonthlySavings": 0.0, "estimatedPercentMonthlySavings": 0.0}}
    assert result["flaggedResources"] == []


def test_loaded_results_are_served_per_account(server, tmp_path):
    support = new_support(server, "430000000002")
    other = new_support(server, "430000000003")
    metadata = ["us-east-1a", "i-0abc", "web-1", "t3.large", "$60.74", "2.1%", "0.05MB"] + \
        ["x"] * 15
    document = {"results": [
        {"checkId": LOW_UTILIZATION, "status": "warning", "timestamp": "2026-05-13T21:38:05Z",
         "resourcesSummary": {"resourcesProcessed": 12, "resourcesFlagged": 2,
                              "resourcesIgnored": 0, "resourcesSuppressed": 1},
         "categorySpecificSummary": {"costOptimizing": {
             "estimatedMonthlySavings": 121.48, "estimatedPercentMonthlySavings": 12.5}},
         "flaggedResources": [
             {"status": "warning", "region": "us-east-1", "resourceId": "r-1",
              "isSuppressed": False, "metadata": metadata},
             {"status": "warning", "region": "us-east-1", "resourceId": "r-2",
              "isSuppressed": False, "metadata": metadata},
             {"status": "ok", "resourceId": "r-3", "isSuppressed": True, "metadata": metadata},
         ]},
        {"checkId": IAM_USE, "status": "ok"},
    ]}
    out = load(server, tmp_path, document, "--account", "430000000002").stdout
    assert "loaded 2" in out
    result = support.describe_trusted_advisor_check_result(
        checkId=LOW_UTILIZATION, language="en")["result"]
    assert result["status"] == "warning" and result["timestamp"] == "2026-05-13T21:38:05Z"
    assert result["resourcesSummary"]["resourcesProcessed"] == 12
    assert result["categorySpecificSummary"]["costOptimizing"] == {
        "estimatedMonthlySavings": 121.48, "estimatedPercentMonthlySavings": 12.5}
    flagged = result["flaggedResources"]
    assert [f["resourceId"] for f in flagged] == ["r-1", "r-2", "r-3"]
    assert flagged[0]["region"] == "us-east-1" and "region" not in flagged[2]
    assert flagged[2]["isSuppressed"] is True and flagged[0]["metadata"] == metadata
    summaries = support.describe_trusted_advisor_check_summaries(
        checkIds=[IAM_USE, LOW_UTILIZATION, IAM_USE])["summaries"]
    assert [s["checkId"] for s in summaries] == [IAM_USE, LOW_UTILIZATION]
    assert summaries[0]["status"] == "ok" and summaries[0]["hasFlaggedResources"] is False
    assert summaries[1]["hasFlaggedResources"] is True
    assert summaries[1]["resourcesSummary"]["resourcesFlagged"] == 2
    assert "flaggedResources" not in summaries[1]
    # Another account sees nothing of it.
    assert other.describe_trusted_advisor_check_result(
        checkId=LOW_UTILIZATION)["result"]["status"] == "not_available"


def test_load_accepts_a_saved_cli_response_and_replace(server, tmp_path):
    support = new_support(server, "430000000004")
    load(server, tmp_path, [{"checkId": IAM_USE, "status": "error"},
                            {"checkId": "7DAFEmoDos", "status": "warning"}],
         "--account", "430000000004")
    saved = {"result": {"checkId": IAM_USE, "status": "ok", "timestamp": "2026-01-02T03:04:05Z",
                        "resourcesSummary": {"resourcesProcessed": 1, "resourcesFlagged": 0,
                                             "resourcesIgnored": 0, "resourcesSuppressed": 0},
                        "categorySpecificSummary": {}, "flaggedResources": []}}
    load(server, tmp_path, saved, "--account", "430000000004", "--replace")
    summaries = support.describe_trusted_advisor_check_summaries(
        checkIds=[IAM_USE, "7DAFEmoDos"])["summaries"]
    assert [s["status"] for s in summaries] == ["ok", "not_available"]
    assert summaries[0]["timestamp"] == "2026-01-02T03:04:05Z"


@pytest.mark.parametrize(("document", "problem"), [
    ([{"checkId": "nope", "status": "ok"}], "unknown check 'nope'"),
    ([{"checkId": IAM_USE, "status": "green"}], "status: must be one of"),
    ([{"checkId": LOW_UTILIZATION, "status": "ok", "flaggedResources": [
        {"status": "ok", "resourceId": "r", "metadata": ["too", "few"]}]}], "has 22 columns"),
    ([{"checkId": IAM_USE, "status": "ok", "timestamp": "yesterday"}], "timestamp"),
    ({"something": "else"}, "expected a list of results"),
])
def test_load_refuses_bad_files(server, tmp_path, document, problem):
    with pytest.raises(subprocess.CalledProcessError) as caught:
        load(server, tmp_path, document)
    assert problem in caught.value.stderr


def test_unknown_check_ids(support):
    assert invalid(support.describe_trusted_advisor_check_result,
                   checkId="eW7HH0l7J9") == "Unknown ID: eW7HH0l7J9"
    assert invalid(support.describe_trusted_advisor_check_summaries,
                   checkIds=[IAM_USE, "nope"]) == "Unknown ID: nope"
    assert invalid(support.refresh_trusted_advisor_check, checkId="nope") == "Unknown ID: nope"
    assert invalid(support.describe_trusted_advisor_check_refresh_statuses,
                   checkIds=["nope"]) == "Unknown ID: nope"


def test_auto_refreshed_checks_cannot_be_refreshed(support):
    expected = f"[UNREFRESHABLE_CHECK_ID_ERROR] Check {EXPOSED_KEYS} is not refreshable."
    assert invalid(support.refresh_trusted_advisor_check, checkId=EXPOSED_KEYS) == expected
    assert invalid(support.describe_trusted_advisor_check_refresh_statuses,
                   checkIds=[EXPOSED_KEYS]) == expected
    # Its result can still be read.
    assert support.describe_trusted_advisor_check_result(checkId=EXPOSED_KEYS)["result"]


def test_never_refreshed_checks_report_none(server):
    support = new_support(server, "430000000005")
    statuses = support.describe_trusted_advisor_check_refresh_statuses(
        checkIds=[IAM_USE])["statuses"]
    assert statuses == [{"checkId": IAM_USE, "status": "none", "millisUntilNextRefreshable": 0}]


def test_default_refresh_has_a_one_hour_cool_down(server):
    support = new_support(server, "430000000006")
    status = support.refresh_trusted_advisor_check(checkId=IAM_USE)["status"]
    assert status["status"] == "enqueued"
    assert 3_590_000 < status["millisUntilNextRefreshable"] <= 3_600_000


def test_refresh_runs_a_state_machine_over_time(tmp_path):
    # Generous times, so that a slow machine still polls inside each phase.
    duration, cooldown = 2.0, 5.0
    server = start_server(tmp_path, "--advisor-refresh-duration", str(duration),
                          "--advisor-refresh-cooldown", str(cooldown))
    try:
        support = server.client("support")
        load(server, tmp_path, [{"checkId": IAM_USE, "status": "ok",
                                 "timestamp": "2026-01-01T00:00:00Z"}])
        started = time.monotonic()
        first = support.refresh_trusted_advisor_check(checkId=IAM_USE)["status"]
        assert first["status"] == "enqueued"
        assert first["millisUntilNextRefreshable"] > (cooldown - 1) * 1000
        seen = [first["status"]]
        millis = [first["millisUntilNextRefreshable"]]
        while time.monotonic() - started < duration + 0.5 and seen[-1] != "success":
            time.sleep(0.1)
            status = support.describe_trusted_advisor_check_refresh_statuses(
                checkIds=[IAM_USE])["statuses"][0]
            if status["status"] != seen[-1]:
                seen.append(status["status"])
            millis.append(status["millisUntilNextRefreshable"])
        assert seen == ["enqueued", "processing", "success"]
        assert millis == sorted(millis, reverse=True)
        # Success moved the result's timestamp to when the refresh finished.
        result = support.describe_trusted_advisor_check_result(checkId=IAM_USE)["result"]
        assert result["timestamp"] > "2026-01-01T00:00:00Z" and result["status"] == "ok"
        # During the cool-down another refresh changes nothing.
        again = support.refresh_trusted_advisor_check(checkId=IAM_USE)["status"]
        assert again["status"] == "success"
        assert 0 < again["millisUntilNextRefreshable"] < (cooldown - duration) * 1000
        time.sleep(again["millisUntilNextRefreshable"] / 1000 + 0.1)
        fresh = support.refresh_trusted_advisor_check(checkId=IAM_USE)["status"]
        assert fresh["status"] == "enqueued"
        assert fresh["millisUntilNextRefreshable"] > (cooldown - 1) * 1000
    finally:
        server.stop()


# --- us-east-1 only, and the checks the model's documentation names ----------------------------

ADVISOR_CALLS = [
    ("describe_trusted_advisor_checks", {"language": "en"}),
    ("describe_trusted_advisor_check_result", {"checkId": LOW_UTILIZATION}),
    ("describe_trusted_advisor_check_summaries", {"checkIds": [LOW_UTILIZATION]}),
    ("refresh_trusted_advisor_check", {"checkId": LOW_UTILIZATION}),
    ("describe_trusted_advisor_check_refresh_statuses", {"checkIds": [LOW_UTILIZATION]}),
]


@pytest.mark.parametrize("region", ["us-west-2", "eu-west-1", "ap-southeast-2"])
def test_trusted_advisor_is_served_in_us_east_1_only(server, region):
    elsewhere = server.client("support", region=region)
    for name, params in ADVISOR_CALLS:
        with pytest.raises(ClientError) as caught:
            getattr(elsewhere, name)(**params)
        error = caught.value.response
        assert error["Error"]["Code"] == "UnknownOperationException", (name, error)
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert region in error["Error"]["Message"] and "us-east-1" in error["Error"]["Message"]
    # Case management is global: the same cases from any region.
    case_id = elsewhere.create_case(subject=f"From {region}", communicationBody="hi")["caseId"]
    home = server.client("support")
    assert home.describe_cases(caseIdList=[case_id])["cases"][0]["subject"] == f"From {region}"


def test_the_checks_the_model_documentation_names_are_listed(server):
    support = new_support(server, "430000000090")
    checks = {c["id"]: c for c in support.describe_trusted_advisor_checks(language="en")["checks"]}
    # DescribeTrustedAdvisorCheckSummaries' documentation names cX3c2R1chu, a check that
    # reports flagged resources only.
    ri = checks["cX3c2R1chu"]
    assert ri["name"] == "Amazon EC2 Reserved Instances Optimization"
    assert ri["category"] == "cost_optimizing"
    assert ri["metadata"][:4] == ["Region", "Instance Type", "Platform",
                                  "Recommended Number of RIs to Purchase"]
    assert len(ri["metadata"]) == 12
    summary = support.describe_trusted_advisor_check_summaries(checkIds=["cX3c2R1chu"])
    assert summary["summaries"][0]["status"] == "not_available"
    assert support.refresh_trusted_advisor_check(checkId="cX3c2R1chu")["status"]["status"] == \
        "enqueued"
    # Checks AWS refreshes itself refuse a refresh, as the model documents.
    assert "not refreshable" in invalid(support.refresh_trusted_advisor_check,
                                        checkId="L4dfs2Q3C3")
