"""Input validation against the real botocore models, with AWS's exact message wording.

Requests go through the same steps as in the gateway: the protocol parses the body (wrong
JSON types are a ``SerializationException``), then the operation's compiled validator collects
every violated constraint into one ``ValidationException``.
"""

from __future__ import annotations

import orjson
import pytest

from casework.wire.errors import ServiceError, validate
from casework.wire.model import load_service
from casework.wire.protocol import Json11, RestJson, WireRequest

SUPPORT = load_service("support")
CASES = load_service("connectcases")

# Connect Cases request paths, so that URI labels are parsed as a client sends them.
DOMAIN = "d-1234"
CASES_PATHS = {
    "CreateCase": ("POST", f"/domains/{DOMAIN}/cases"),
    "CreateDomain": ("POST", "/domains"),
    "CreateField": ("POST", f"/domains/{DOMAIN}/fields"),
    "SearchCases": ("POST", f"/domains/{DOMAIN}/cases-search"),
    "BatchPutFieldOptions": ("PUT", f"/domains/{DOMAIN}/fields/f-1/options"),
    "ListDomains": ("POST", "/domains-list"),
    "UntagResource": ("DELETE", "/tags/arn%3Aaws%3Acases%3Aus-east-1%3A000000000000%3Adomain%2Fd"),
}


def outcome(service, operation: str, body: dict | bytes, query: str = "") -> str | None:
    """Parse and validate like the gateway; the error as ``Code: message``, or None if valid."""
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    try:
        if service is SUPPORT:
            op = service.operations[operation]
            request = WireRequest.build("POST", "/", "", [], raw)
            params = Json11().parse(op, request)
        else:
            method, path = CASES_PATHS[operation]
            request = WireRequest.build(method, path, query, [], raw)
            op, labels = service.match(method, path, request.query)
            assert op.name == operation
            params = RestJson().parse(op, request, labels)
        validate(op.validate, params)
    except ServiceError as error:
        return f"{error.code}: {error.message}"
    return None


def cut(text: str) -> str:
    """Our rule for long values in messages: the first 128 characters, then '...'."""
    return text[:128] + "..." if len(text) > 128 else text


def one(value_and_path: str, constraint: str) -> str:
    return (f"ValidationException: 1 validation error detected: {value_and_path} "
            f"failed to satisfy constraint: {constraint}")


# --------------------------------------------------------------------------- valid input


def test_valid_requests_pass():
    assert outcome(SUPPORT, "CreateCase", {"subject": "s", "communicationBody": "b"}) is None
    assert outcome(CASES, "CreateCase", {
        "templateId": "t-1",
        "fields": [{"id": "status", "value": {"stringValue": "open"}},
                   {"id": "empty", "value": {"emptyValue": {}}}],
        "tags": {"team": "blue", "cost-center": ""},
    }) is None


# --------------------------------------------------------------------------- required


def test_required_members():
    assert outcome(SUPPORT, "DescribeTrustedAdvisorCheckResult", {}) == one(
        "Value null at 'checkId'", "Member must not be null")


def test_explicit_json_null_is_missing():
    assert outcome(SUPPORT, "DescribeTrustedAdvisorCheckResult", {"checkId": None}) == one(
        "Value null at 'checkId'", "Member must not be null")


def test_several_errors_are_counted_and_joined():
    assert outcome(SUPPORT, "CreateCase", {}) == (
        "ValidationException: 2 validation errors detected: "
        "Value null at 'subject' failed to satisfy constraint: Member must not be null; "
        "Value null at 'communicationBody' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_several_kinds_of_errors_in_one_request():
    assert outcome(SUPPORT, "DescribeCases", {
        "maxResults": 5, "caseIdList": ["c"] * 101,
    }) == (
        "ValidationException: 2 validation errors detected: "
        f"Value '{cut('[' + ', '.join(['c'] * 101) + ']')}' at 'caseIdList' failed to satisfy "
        "constraint: Member must have length less than or equal to 100; "
        "Value '5' at 'maxResults' failed to satisfy constraint: "
        "Member must have value greater than or equal to 10"
    )


# --------------------------------------------------------------------------- types


@pytest.mark.parametrize(("body", "message"), [
    ({"subject": 5, "communicationBody": "b"}, "Expected a string at 'subject'"),
    ({"subject": "s", "communicationBody": "b", "ccEmailAddresses": "a@b.c"},
     "Expected a list at 'ccEmailAddresses'"),
    ({"subject": "s", "communicationBody": "b", "ccEmailAddresses": [1]},
     "Expected a string at 'ccEmailAddresses.1.member'"),
    ({"subject": "s", "communicationBody": "b", "dryRun": "yes"},
     "Expected a boolean at 'dryRun'"),
])
def test_wrong_json_types_are_serialization_errors(body, message):
    assert outcome(SUPPORT, "CreateCase", body) == f"SerializationException: {message}"


def test_wrong_number_types():
    assert outcome(SUPPORT, "DescribeCases", {"maxResults": "10"}) == (
        "SerializationException: Expected an integer at 'maxResults'")
    assert outcome(SUPPORT, "DescribeCases", {"maxResults": 10.5}) == (
        "SerializationException: Expected an integer at 'maxResults'")
    assert outcome(SUPPORT, "DescribeCases", {"maxResults": True}) == (
        "SerializationException: Expected an integer at 'maxResults'")


def test_blob_must_be_base64():
    body = {"attachments": [{"fileName": "a.txt", "data": "not base64!"}]}
    assert outcome(SUPPORT, "AddAttachmentsToSet", body) == (
        "SerializationException: Expected a base64 string at 'attachments.1.member.data'")


def test_structure_must_be_an_object():
    assert outcome(CASES, "CreateCase", {
        "templateId": "t", "fields": [{"id": "f", "value": "open"}],
    }) == "SerializationException: Expected an object at 'fields.1.member.value'"


def test_body_not_json_or_not_an_object():
    assert outcome(SUPPORT, "CreateCase", b"{not json") == (
        "SerializationException: The request body is not valid JSON.")
    assert outcome(SUPPORT, "CreateCase", b"[1, 2]") == (
        "SerializationException: The request body must be a JSON object.")
    assert outcome(CASES, "CreateDomain", b'"name"') == (
        "SerializationException: The request body must be a JSON object.")


def test_query_string_numbers_are_checked():
    assert outcome(CASES, "ListDomains", b"", query="maxResults=ten") == (
        "SerializationException: Expected a number at 'maxResults'")
    assert outcome(CASES, "ListDomains", b"", query="maxResults=1_0") == (
        "SerializationException: Expected a number at 'maxResults'")


def test_unknown_members_are_ignored():
    assert outcome(SUPPORT, "CreateCase", {
        "subject": "s", "communicationBody": "b", "notAMember": {"x": [1]},
    }) is None


# --------------------------------------------------------------------------- lengths and ranges


def test_string_too_short():
    assert outcome(SUPPORT, "CreateCase", {"subject": "s", "communicationBody": ""}) == one(
        "Value '' at 'communicationBody'", "Member must have length greater than or equal to 1")


def test_string_too_long_is_abbreviated():
    body = "x" * 8001
    assert outcome(SUPPORT, "CreateCase", {"subject": "s", "communicationBody": body}) == one(
        f"Value '{'x' * 128}...' at 'communicationBody'",
        "Member must have length less than or equal to 8000")


def test_string_at_the_limits_passes():
    for body in ("x", "x" * 8000):
        assert outcome(SUPPORT, "CreateCase", {"subject": "s", "communicationBody": body}) is None


def test_length_counts_characters_not_bytes():
    # 8000 characters of 3 bytes each: within the limit, which counts characters.
    body = "\u20ac" * 8000
    assert outcome(SUPPORT, "CreateCase", {"subject": "s", "communicationBody": body}) is None


@pytest.mark.parametrize(("value", "constraint"), [
    (9, "Member must have value greater than or equal to 10"),
    (101, "Member must have value less than or equal to 100"),
    (-2147483648, "Member must have value greater than or equal to 10"),
])
def test_integer_range(value, constraint):
    assert outcome(SUPPORT, "DescribeCases", {"maxResults": value}) == one(
        f"Value '{value}' at 'maxResults'", constraint)


def test_integer_range_limits_pass():
    assert outcome(SUPPORT, "DescribeCases", {"maxResults": 10}) is None
    assert outcome(SUPPORT, "DescribeCases", {"maxResults": 100}) is None


def test_range_on_a_query_parameter():
    assert outcome(CASES, "ListDomains", b"", query="maxResults=11") == one(
        "Value '11' at 'maxResults'", "Member must have value less than or equal to 10")


def test_list_too_long():
    emails = [f"u{i}@example.com" for i in range(11)]
    assert outcome(SUPPORT, "CreateCase", {
        "subject": "s", "communicationBody": "b", "ccEmailAddresses": emails,
    }) == one(
        f"Value '{cut('[' + ', '.join(emails) + ']')}' at 'ccEmailAddresses'",
        "Member must have length less than or equal to 10")


def test_list_members_are_validated_with_their_index():
    assert outcome(SUPPORT, "CreateCase", {
        "subject": "s", "communicationBody": "b", "uploadIds": ["ok", ""],
    }) == one("Value '' at 'uploadIds.2.member'",
              "Member must have length greater than or equal to 1")


def test_the_items_of_a_list_too_long_are_not_checked_one_by_one():
    # A million empty ids: one problem (the length), its value cut short, found in no time.
    assert outcome(SUPPORT, "CreateCase", {
        "subject": "s", "communicationBody": "b", "uploadIds": [""] * 1_000_000,
    }) == one(f"Value '{cut('[' + ', ' * 999_999 + ']')}' at 'uploadIds'",
              "Member must have length less than or equal to 10")


def test_a_message_lists_ten_problems_and_counts_the_rest():
    parts = [{"partIndex": n, "eTag": ""} for n in range(1, 26)]
    message = outcome(SUPPORT, "CompleteAttachmentUpload",
                      {"uploadId": "upload-1", "completedUploads": parts})
    listed = "; ".join(f"Value '' at 'completedUploads.{n}.member.eTag' failed to satisfy "
                       "constraint: Member must have length greater than or equal to 1"
                       for n in range(1, 11))
    assert message == (f"ValidationException: 25 validation errors detected: {listed}; "
                       "and 15 more")


def test_null_list_member():
    assert outcome(SUPPORT, "DescribeCases", {"caseIdList": ["case-1", None]}) == one(
        "Value null at 'caseIdList.2.member'", "Member must not be null")


def test_list_size_on_a_query_parameter():
    keys = "&".join(f"tagKeys=k{i}" for i in range(51))
    message = outcome(CASES, "UntagResource", b"", query=keys)
    assert message.startswith(
        "ValidationException: 1 validation error detected: Value '[k0, k1, k2, ")
    assert message.endswith(
        "...' at 'tagKeys' failed to satisfy constraint: "
        "Member must have length less than or equal to 50")


# --------------------------------------------------------------------------- enum and pattern


def test_enum():
    assert outcome(CASES, "CreateField", {"name": "Priority", "type": "Colour"}) == one(
        "Value 'Colour' at 'type'",
        "Member must satisfy enum value set: "
        "[Text, Number, Boolean, DateTime, SingleSelect, Url, User]")


def test_enum_is_case_sensitive():
    assert outcome(CASES, "CreateField", {"name": "Priority", "type": "text"}) is not None
    assert outcome(CASES, "CreateField", {"name": "Priority", "type": "Text"}) is None


def test_pattern_must_match_the_whole_value():
    # '.*[\S]': the last character must not be white space.
    assert outcome(CASES, "CreateDomain", {"name": "Support "}) == one(
        "Value 'Support ' at 'name'",
        r"Member must satisfy regular expression pattern: .*[\S]")
    assert outcome(CASES, "CreateDomain", {"name": " Support"}) is None


def test_pattern_with_a_negative_lookahead():
    message = outcome(CASES, "UntagResource", b"", query="tagKeys=aws%3Aowner")
    assert message == one("Value 'aws:owner' at 'tagKeys.1.member'",
                          "Member must satisfy regular expression pattern: "
                          "(?!aws:)[a-zA-Z+-=._:/]+")
    assert outcome(CASES, "UntagResource", b"", query="tagKeys=owner") is None


def test_pattern_and_length_both_reported():
    assert outcome(CASES, "CreateDomain", {"name": ""}) == (
        "ValidationException: 2 validation errors detected: "
        "Value '' at 'name' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
        "Value '' at 'name' failed to satisfy constraint: "
        r"Member must satisfy regular expression pattern: .*[\S]"
    )


def test_sensitive_values_are_not_echoed():
    message = outcome(CASES, "CreateCase", {
        "templateId": "t", "fields": [], "performedBy": {"customEntity": "secret name "},
    })
    assert message == one(
        "Value at 'performedBy.customEntity'",
        "Member must satisfy regular expression pattern: "
        r"[a-zA-Z0-9_\-\.@:/ ]*[a-zA-Z0-9_\-\.@:/]")
    assert "secret" not in message


# --------------------------------------------------------------------------- maps


def test_map_too_large():
    tags = {f"k{i}": "v" for i in range(51)}
    message = outcome(CASES, "CreateCase", {"templateId": "t", "fields": [], "tags": tags})
    assert message.startswith(
        "ValidationException: 1 validation error detected: Value '{k0=v, k1=v, k2=v, ")
    assert message.endswith(
        "...' at 'tags' failed to satisfy constraint: "
        "Member must have length less than or equal to 50")


def test_map_key_constraints():
    message = outcome(CASES, "CreateCase", {
        "templateId": "t", "fields": [], "tags": {"aws:team": "blue"},
    })
    assert message == one(
        "Value '{aws:team=blue}' at 'tags'",
        "Map keys must satisfy constraint: [Member must satisfy regular expression pattern: "
        r"(?![aA][wW][sS]:)[a-zA-Z0-9 _.:/=+\-@]+]")


def test_map_value_constraints_listed_once_each():
    long_value = "v" * 257
    message = outcome(CASES, "CreateCase", {
        "templateId": "t", "fields": [], "tags": {"a": long_value, "b": long_value + "#"},
    })
    assert message == one(
        f"Value '{cut(f'{{a={long_value}, b={long_value}#}}')}' at 'tags'",
        "Map value must satisfy constraint: [Member must have length less than or equal "
        "to 256, Member must satisfy regular expression pattern: ([a-zA-Z0-9 _.:/=+\\-@]*)]")


def test_map_keys_and_values_both_reported():
    message = outcome(CASES, "CreateCase", {
        "templateId": "t", "fields": [], "tags": {"": "#"},
    })
    assert message == (
        "ValidationException: 2 validation errors detected: "
        "Value '{=#}' at 'tags' failed to satisfy constraint: Map keys must satisfy "
        "constraint: [Member must have length greater than or equal to 1, Member must satisfy "
        r"regular expression pattern: (?![aA][wW][sS]:)[a-zA-Z0-9 _.:/=+\-@]+]; "
        "Value '{=#}' at 'tags' failed to satisfy constraint: Map value must satisfy "
        r"constraint: [Member must satisfy regular expression pattern: ([a-zA-Z0-9 _.:/=+\-@]*)]"
    )


def test_null_map_value():
    assert outcome(CASES, "CreateCase", {
        "templateId": "t", "fields": [], "tags": {"team": None},
    }) == one("Value null at 'tags.team'", "Member must not be null")


# --------------------------------------------------------------------------- unions


def test_union_with_no_member_set():
    assert outcome(CASES, "CreateCase", {
        "templateId": "t", "fields": [{"id": "status", "value": {}}],
    }) == one("Value '{}' at 'fields.1.member.value'", "Member must have exactly one member set")


def test_union_with_two_members_set():
    assert outcome(CASES, "CreateCase", {
        "templateId": "t",
        "fields": [{"id": "ok", "value": {"booleanValue": True}},
                   {"id": "status", "value": {"stringValue": "a", "doubleValue": 1.5}}],
    }) == one("Value '{stringValue=a, doubleValue=1.5}' at 'fields.2.member.value'",
              "Member must have exactly one member set")


def test_union_member_set_to_null_does_not_count():
    assert outcome(CASES, "CreateCase", {
        "templateId": "t",
        "fields": [{"id": "status", "value": {"stringValue": "a", "doubleValue": None}}],
    }) is None


def test_union_of_an_empty_structure_counts_as_set():
    assert outcome(CASES, "CreateCase", {
        "templateId": "t", "fields": [{"id": "status", "value": {"emptyValue": {}}}],
    }) is None


# --------------------------------------------------------------------------- nested paths


def test_nested_paths():
    assert outcome(CASES, "CreateCase", {
        "templateId": "t",
        "fields": [
            {"id": "title", "value": {"stringValue": "fine"}},
            {"id": "", "value": {"stringValue": "x" * 4101}},
            {"value": {"booleanValue": False}},
        ],
    }) == (
        "ValidationException: 3 validation errors detected: "
        "Value '' at 'fields.2.member.id' failed to satisfy constraint: "
        "Member must have length greater than or equal to 1; "
        f"Value '{'x' * 128}...' at 'fields.2.member.value.stringValue' failed to satisfy "
        "constraint: Member must have length less than or equal to 4100; "
        "Value null at 'fields.3.member.id' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_deeply_nested_union_in_a_list_in_a_union():
    assert outcome(CASES, "SearchCases", {
        "filter": {"andAll": [{"field": {"equalTo": {"id": "status", "value": {}}}},
                              {"tag": {"equalTo": {"key": "team", "value": "blue"}}}]},
        "sorts": [{"fieldId": "created", "sortOrder": "Up"}],
    }) == (
        "ValidationException: 2 validation errors detected: "
        "Value '{}' at 'filter.andAll.1.member.field.equalTo.value' failed to satisfy "
        "constraint: Member must have exactly one member set; "
        "Value 'Up' at 'sorts.1.member.sortOrder' failed to satisfy constraint: "
        "Member must satisfy enum value set: [Asc, Desc]"
    )


def test_required_members_inside_list_items():
    assert outcome(CASES, "BatchPutFieldOptions", {"options": [{"name": "High"}]}) == (
        "ValidationException: 2 validation errors detected: "
        "Value null at 'options.1.member.value' failed to satisfy constraint: "
        "Member must not be null; "
        "Value null at 'options.1.member.active' failed to satisfy constraint: "
        "Member must not be null"
    )


def test_recursive_shapes_validate_at_any_depth():
    inner: dict = {"field": {"equalTo": {"id": "", "value": {"booleanValue": True}}}}
    for _ in range(5):
        inner = {"not": inner}
    assert outcome(CASES, "SearchCases", {"filter": inner}) == one(
        "Value '' at 'filter.not.not.not.not.not.field.equalTo.id'",
        "Member must have length greater than or equal to 1")


def test_every_operation_of_both_models_compiles_a_validator():
    for service in (SUPPORT, CASES):
        for op in service.operations.values():
            if op.input_shape is not None:
                problems: list[str] = []
                op.validate({}, "", problems)
                for problem in problems:
                    assert problem.startswith("Value null at '"), problem
