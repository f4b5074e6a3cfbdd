"""AWS Support service catalog and CreateCase's checks against it, end to end with boto3."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import error_of, start_server


def invalid(call, **params) -> str:
    """The message of an InvalidParameterValueException (400) from ``call``."""
    error = error_of(call, **params)
    assert error["Error"]["Code"] == "InvalidParameterValueException", error
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error["Error"]["Message"]


def case_params(**params) -> dict:
    return {"subject": "Catalog check", "communicationBody": "body", **params}


def test_describe_services_lists_the_packaged_catalog(support):
    services = support.describe_services()["services"]
    by_code = {s["code"]: s for s in services}
    assert services[0]["code"] == "general-info"
    general = by_code["general-info"]
    assert general["name"] == "General Info and Getting Started"
    categories = {c["code"]: c["name"] for c in general["categories"]}
    assert categories["charges"] == "How Will I Be Charged?"
    assert {"using-aws", "gdpr-queries", "resource", "free-tier"} <= set(categories)
    ec2 = {c["code"] for c in by_code["amazon-elastic-compute-cloud-linux"]["categories"]}
    assert {"instance-issue", "performance", "using-aws", "other"} <= ec2
    assert "support-api" in by_code and len(services) >= 20


def test_describe_services_filters_and_omits_unknown_codes(support):
    got = support.describe_services(
        serviceCodeList=["support-api", "no-such-service", "general-info"], language="en")
    assert [s["code"] for s in got["services"]] == ["support-api", "general-info"]
    assert support.describe_services(serviceCodeList=["nope"])["services"] == []


def test_severity_levels_follow_the_plan(server, support):
    levels = support.describe_severity_levels()["severityLevels"]
    assert levels == [{"code": "low", "name": "Low"}, {"code": "normal", "name": "Normal"},
                      {"code": "high", "name": "High"}, {"code": "urgent", "name": "Urgent"},
                      {"code": "critical", "name": "Critical"}]
    key, secret = server.new_account("410000000001")  # the default plan: business
    business = server.client("support", key=key, secret=secret)
    codes = [level["code"] for level in business.describe_severity_levels()["severityLevels"]]
    assert codes == ["low", "normal", "high", "urgent"]
    message = invalid(business.create_case, **case_params(severityCode="critical"))
    assert "critical" in message and "low, normal, high, urgent" in message
    server.casework("accounts", "set-plan", "410000000001", "enterprise-on-ramp")
    codes = [level["code"] for level in business.describe_severity_levels()["severityLevels"]]
    assert codes[-1] == "critical"
    assert business.create_case(**case_params(severityCode="critical"))["caseId"]


def test_create_case_options(support):
    options = support.describe_create_case_options(
        issueType="technical", serviceCode="amazon-elastic-compute-cloud-linux",
        language="ja", categoryCode="instance-issue")
    assert options["languageAvailability"] == "available"
    assert [t["type"] for t in options["communicationTypes"]] == ["web", "chat", "call"]
    for kind in options["communicationTypes"]:
        assert kind["supportedHours"] == [{"startTime": "00:00:00.000",
                                           "endTime": "23:59:59.999"}]
        assert kind["datesWithoutSupport"] == []
    spanish = support.describe_create_case_options(
        issueType="customer-service", serviceCode="general-info", language="es",
        categoryCode="charges")
    assert spanish["languageAvailability"] == "best_effort"
    klingon = support.describe_create_case_options(
        issueType="technical", serviceCode="general-info", language="tlh",
        categoryCode="using-aws")
    assert klingon["languageAvailability"] == "unavailable"


def test_create_case_options_refuse_unknown_codes(support):
    call = support.describe_create_case_options
    base = {"issueType": "technical", "serviceCode": "general-info", "language": "en",
            "categoryCode": "using-aws"}
    assert "serviceCode" in invalid(call, **{**base, "serviceCode": "nope"})
    assert "categoryCode" in invalid(call, **{**base, "categoryCode": "instance-issue"})
    assert "issueType" in invalid(call, **{**base, "issueType": "billing-stuff"})


def test_supported_languages(support):
    got = support.describe_supported_languages(
        issueType="technical", serviceCode="general-info", categoryCode="using-aws")
    languages = got["supportedLanguages"]
    assert languages[0] == {"code": "en", "language": "ENGLISH", "display": "ENGLISH"}
    assert {"en", "ja", "zh", "ko"} <= {lang["code"] for lang in languages}
    call = support.describe_supported_languages
    assert "serviceCode" in invalid(call, issueType="technical", serviceCode="nope",
                                    categoryCode="other")
    assert "categoryCode" in invalid(call, issueType="technical", serviceCode="general-info",
                                     categoryCode="nope")
    assert "issueType" in invalid(call, issueType="not-a-type", serviceCode="general-info",
                                  categoryCode="charges")


def test_create_case_checks_every_code(support):
    call = support.create_case
    assert "serviceCode" in invalid(call, **case_params(serviceCode="amazon-nothing"))
    assert "categoryCode" in invalid(call, **case_params(
        serviceCode="amazon-elastic-compute-cloud-linux", categoryCode="charges"))
    assert "categoryCode" in invalid(call, **case_params(categoryCode="instance-issue"))
    assert "severityCode" in invalid(call, **case_params(severityCode="panic"))
    assert "language" in invalid(call, **case_params(language="xx"))
    assert "issueType" in invalid(call, **case_params(issueType="sales-question"))


def test_create_case_defaults_come_from_the_catalog(support):
    case_id = support.create_case(**case_params(serviceCode="amazon-dynamodb"))["caseId"]
    case = support.describe_cases(caseIdList=[case_id])["cases"][0]
    # DynamoDB has no using-aws category; its general one is general-guidance.
    assert (case["serviceCode"], case["categoryCode"]) == ("amazon-dynamodb", "general-guidance")
    assert (case["severityCode"], case["language"]) == ("low", "en")
    case_id = support.create_case(**case_params(issueType="customer-service",
                                                categoryCode="charges"))["caseId"]
    case = support.describe_cases(caseIdList=[case_id])["cases"][0]
    assert (case["serviceCode"], case["categoryCode"]) == ("general-info", "charges")


def test_operator_catalog_extends_and_localizes(tmp_path):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({
        "services": [
            {"code": "acme-widgets", "name": {"en": "Acme Widgets", "ja": "アクメ"},
             "categories": [{"code": "broken", "name": {"en": "Broken", "ja": "故障"}}]},
            {"code": "support-api", "remove": True},
        ],
        "severityLevels": [{"code": "low", "name": {"en": "Low", "ja": "低"}}],
        "languages": [{"code": "tr", "availability": "unavailable"}],
        "communicationTypes": [{"type": "call", "remove": True},
                               {"type": "chat", "supportedHours": [
                                   {"startTime": "09:00:00.000", "endTime": "17:00:00.000"}],
                                "datesWithoutSupport": [
                                    {"startDateTime": "2026-12-25T00:00:00.000+0000",
                                     "endDateTime": "2026-12-26T00:00:00.000+0000"}]}],
    }), encoding="utf-8")
    server = start_server(tmp_path, env={"CASEWORK_CATALOG": str(catalog)})
    try:
        support = server.client("support")
        codes = [s["code"] for s in support.describe_services()["services"]]
        assert codes[-1] == "acme-widgets" and "support-api" not in codes
        assert "general-info" in codes
        acme = support.describe_services(serviceCodeList=["acme-widgets"], language="ja")
        assert acme["services"] == [{"code": "acme-widgets", "name": "アクメ",
                                     "categories": [{"code": "broken", "name": "故障"}]}]
        levels = support.describe_severity_levels(language="ja")["severityLevels"]
        # The operator's "low" brings its own names; the packaged "normal" has English only.
        assert levels[0] == {"code": "low", "name": "低"} and levels[1]["name"] == "Normal"
        french = support.describe_severity_levels(language="fr")["severityLevels"]
        assert french[0]["name"] == "Low"
        options = support.describe_create_case_options(
            issueType="technical", serviceCode="acme-widgets", language="tr",
            categoryCode="broken")
        assert options["languageAvailability"] == "unavailable"
        assert [t["type"] for t in options["communicationTypes"]] == ["web", "chat"]
        assert options["communicationTypes"][1]["datesWithoutSupport"][0]["startDateTime"] \
            == "2026-12-25T00:00:00.000+0000"
        assert "language" in invalid(support.create_case, **case_params(language="tr"))
        case_id = support.create_case(**case_params(serviceCode="acme-widgets"))["caseId"]
        case = support.describe_cases(caseIdList=[case_id])["cases"][0]
        assert case["categoryCode"] == "broken"
    finally:
        server.stop()


def test_operator_catalog_can_replace_everything(tmp_path):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({
        "replace": True,
        "issueTypes": ["technical"],
        "severityLevels": [{"code": "low", "name": "Low"}, {"code": "high", "name": "High"}],
        "languages": [{"code": "en", "language": "ENGLISH", "display": "ENGLISH"}],
        "communicationTypes": [{"type": "web", "supportedHours": []}],
        "services": [{"code": "general-info", "name": "Help",
                      "categories": [{"code": "using-aws", "name": "Using it"}]}],
    }))
    server = start_server(tmp_path, "--catalog", str(catalog))
    try:
        support = server.client("support")
        assert support.describe_services()["services"] == [
            {"code": "general-info", "name": "Help",
             "categories": [{"code": "using-aws", "name": "Using it"}]}]
        assert [s["code"] for s in support.describe_severity_levels()["severityLevels"]] == \
            ["low", "high"]
        assert "severityCode" in invalid(support.create_case, **case_params(severityCode="urgent"))
        assert "issueType" in invalid(support.create_case,
                                      **case_params(issueType="customer-service"))
        assert support.create_case(**case_params(severityCode="high"))["caseId"]
    finally:
        server.stop()


def test_a_broken_catalog_stops_the_server_from_starting(tmp_path):
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"services": [{"code": "x", "name": 5}]}))
    started = subprocess.run(
        [sys.executable, "-m", "casework", "serve", "--port", "1", "--data-dir",
         str(tmp_path / "data"), "--catalog", str(catalog)],
        capture_output=True, text=True, timeout=60)
    assert started.returncode != 0
    assert "services[0]" in started.stderr and "name" in started.stderr


def test_the_packaged_catalog_answers_english_names_in_every_language(support):
    """No public AWS material gives these names in other languages, so none are made up: every
    language, documented or not, gets the English names in the same shapes."""
    english_levels = support.describe_severity_levels(language="en")["severityLevels"]
    english_services = support.describe_services(language="en")["services"]
    assert [lv["name"] for lv in english_levels] == ["Low", "Normal", "High", "Urgent",
                                                     "Critical"]
    assert support.describe_severity_levels()["severityLevels"] == english_levels
    for language in ("ja", "zh", "ko", "es", "pt", "fr", "tr", "pt_BR", "de", "zh_TW", "xx"):
        assert support.describe_severity_levels(language=language)["severityLevels"] \
            == english_levels, language
        assert support.describe_services(language=language)["services"] == english_services, \
            language

