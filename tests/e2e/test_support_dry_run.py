"""Dry runs of every AWS Support operation that has a ``dryRun`` member.

For each: a valid request with ``dryRun`` answers ``DryRunOperationException`` (400) and
changes nothing, as seen through the API afterwards (and, for uploads, in the database and
the data directory); a bad request gets its own error, the same one it gets without
``dryRun``; an unauthenticated or unsubscribed caller is refused before any dry run.
"""

from __future__ import annotations

from collections.abc import Callable

import botocore.session
import httpx
import pytest
from conftest import error_of
from sqlalchemy import create_engine, text

COVERED: set[str] = set()


def covers(operation: str) -> Callable:
    """Mark a test as the dry-run test of ``operation`` (checked against the model below)."""
    def mark(func: Callable) -> Callable:
        COVERED.add(operation)
        return func
    return mark


def refused_as_dry_run(call, **params) -> None:
    """The request is valid: a dry run answers DryRunOperationException, HTTP 400."""
    error = error_of(call, dryRun=True, **params)
    assert error["Error"]["Code"] == "DryRunOperationException", error["Error"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error["Error"]["Message"]


def same_error_when_dry(call, **params) -> str:
    """A bad request fails the same way with and without ``dryRun``; returns the code."""
    real = error_of(call, **params)["Error"]["Code"]
    dry = error_of(call, dryRun=True, **params)["Error"]["Code"]
    assert dry == real != "DryRunOperationException"
    return real


@pytest.fixture(scope="module")
def account(server):
    """A fresh account, so that "nothing changed" can be checked on everything it has."""
    key, secret = server.new_account("555566667777")
    return server.client("support", key=key, secret=secret)


@pytest.fixture(scope="module")
def unchecked(server):
    """A client that leaves the model's constraints to the server."""
    return server.client("support", parameter_validation=False)


def everything(client) -> list:
    """All cases of the account with all their communications and attachments."""
    cases = client.describe_cases(includeResolvedCases=True, includeCommunications=False,
                                  maxResults=100)["cases"]
    return [(case, client.describe_communications(caseId=case["caseId"])["communications"])
            for case in cases]


def new_case(client, **params) -> str:
    return client.create_case(subject="dry", communicationBody="dry", **params)["caseId"]


def parts_uploaded(client, data: bytes, name: str = "d.txt") -> tuple[str, list[dict]]:
    """A one-part upload with its part PUT but not yet reported."""
    started = client.get_attachment_upload_links(fileName=name, fileSizeBytes=len(data))
    answer = httpx.put(started["uploadUrls"][0]["url"], content=data)
    assert answer.status_code == 200
    return started["uploadId"], [{"partIndex": 1, "eTag": answer.headers["ETag"]}]


def ready_upload(client, data: bytes = b"ready") -> str:
    upload_id, parts = parts_uploaded(client, data)
    client.complete_attachment_upload(uploadId=upload_id, completedUploads=parts)
    return upload_id


def upload_rows(server) -> int:
    engine = create_engine(server.database_url)
    with engine.connect() as db:
        count = db.execute(text("SELECT count(*) FROM support_uploads")).scalar_one()
    engine.dispose()
    return count


def upload_dirs(server) -> int:
    storage = server.data_dir / "attachments"
    return len(list(storage.iterdir())) if storage.is_dir() else 0


def first_attachment(client, case_id: str) -> str:
    comms = client.describe_communications(caseId=case_id)["communications"]
    return comms[-1]["attachmentSet"][0]["attachmentId"]


# --- cases and communications -----------------------------------------------------------------

@covers("CreateCase")
def test_create_case(account):
    set_id = account.add_attachments_to_set(
        attachments=[{"fileName": "a.txt", "data": b"a"}])["attachmentSetId"]
    upload_id = ready_upload(account)
    before = everything(account)
    refused_as_dry_run(account.create_case, subject="dry", communicationBody="dry",
                       attachmentSetId=set_id, uploadIds=[upload_id])
    assert everything(account) == before
    # Neither the set nor the upload was used up by the dry run.
    case_id = new_case(account, attachmentSetId=set_id, uploadIds=[upload_id])
    names = [a["fileName"] for a in account.describe_communications(
        caseId=case_id)["communications"][0]["attachmentSet"]]
    assert names == ["a.txt", "d.txt"]
    assert same_error_when_dry(account.create_case, subject="s", communicationBody="b",
                               attachmentSetId="as-unknown") == "AttachmentSetIdNotFound"
    assert same_error_when_dry(account.create_case, subject="s", communicationBody="b",
                               uploadIds=["upload-unknown"]) == "UploadIdNotFound"
    assert same_error_when_dry(account.create_case, subject="s", communicationBody="b",
                               uploadIds=[ready_upload(account)],
                               serviceCode="no-such-service") == "InvalidParameterValueException"


@covers("AddCommunicationToCase")
def test_add_communication_to_case(account):
    case_id = new_case(account)
    account.resolve_case(caseId=case_id)
    upload_id = ready_upload(account)
    before = everything(account)
    refused_as_dry_run(account.add_communication_to_case, caseId=case_id,
                       communicationBody="reply", uploadIds=[upload_id])
    # No reply was added and the resolved case was not reopened.
    assert everything(account) == before
    account.add_communication_to_case(caseId=case_id, communicationBody="reply",
                                      uploadIds=[upload_id])
    # A plain reply to an open case, which one statement adds (committed in the same round
    # trip on PostgreSQL), is thrown away all the same.
    open_case = new_case(account)
    before = everything(account)
    refused_as_dry_run(account.add_communication_to_case, caseId=open_case,
                       communicationBody="plain reply")
    assert everything(account) == before
    assert same_error_when_dry(account.add_communication_to_case, caseId="case-unknown",
                               communicationBody="x") == "CaseIdNotFound"
    assert same_error_when_dry(account.add_communication_to_case, caseId=case_id,
                               communicationBody="x", uploadIds=[upload_id]) == "UploadIdNotFound"


@covers("ResolveCase")
def test_resolve_case(account):
    case_id = new_case(account)
    refused_as_dry_run(account.resolve_case, caseId=case_id)
    status = account.describe_cases(caseIdList=[case_id])["cases"][0]["status"]
    assert status == "opened"
    assert same_error_when_dry(account.resolve_case, caseId="case-unknown") == "CaseIdNotFound"


@covers("DescribeCases")
def test_describe_cases(account, unchecked):
    new_case(account)
    refused_as_dry_run(account.describe_cases, includeResolvedCases=True)
    assert same_error_when_dry(account.describe_cases,
                               caseIdList=["case-unknown"]) == "CaseIdNotFound"
    assert same_error_when_dry(account.describe_cases, nextToken="forged") == "ValidationException"
    assert same_error_when_dry(unchecked.describe_cases, maxResults=5) == "ValidationException"


@covers("DescribeCommunications")
def test_describe_communications(account):
    case_id = new_case(account)
    refused_as_dry_run(account.describe_communications, caseId=case_id)
    assert same_error_when_dry(account.describe_communications,
                               caseId="case-unknown") == "CaseIdNotFound"


# --- small attachments ----------------------------------------------------------------------------

@covers("AddAttachmentsToSet")
def test_add_attachments_to_set(account):
    set_id = account.add_attachments_to_set(
        attachments=[{"fileName": "1.txt", "data": b"1"}])["attachmentSetId"]
    two = [{"fileName": "2.txt", "data": b"2"}, {"fileName": "3.txt", "data": b"3"}]
    refused_as_dry_run(account.add_attachments_to_set, attachmentSetId=set_id, attachments=two)
    refused_as_dry_run(account.add_attachments_to_set, attachments=two)
    # The set still holds one attachment: two more fit in its limit of three.
    account.add_attachments_to_set(attachmentSetId=set_id, attachments=two)
    case_id = new_case(account, attachmentSetId=set_id)
    names = [a["fileName"] for a in account.describe_communications(
        caseId=case_id)["communications"][0]["attachmentSet"]]
    assert names == ["1.txt", "2.txt", "3.txt"]
    assert same_error_when_dry(account.add_attachments_to_set, attachmentSetId="as-unknown",
                               attachments=two) == "AttachmentSetIdNotFound"
    assert same_error_when_dry(account.add_attachments_to_set,
                               attachments=two * 2) == "AttachmentSetSizeLimitExceeded"


@covers("DescribeAttachment")
def test_describe_attachment(account):
    set_id = account.add_attachments_to_set(
        attachments=[{"fileName": "x.txt", "data": b"x"}])["attachmentSetId"]
    attachment_id = first_attachment(account, new_case(account, attachmentSetId=set_id))
    refused_as_dry_run(account.describe_attachment, attachmentId=attachment_id)
    assert same_error_when_dry(account.describe_attachment,
                               attachmentId="attachment-unknown") == "AttachmentIdNotFound"


# --- large-file uploads -------------------------------------------------------------------------

@covers("GetAttachmentUploadLinks")
def test_get_attachment_upload_links(server, account, unchecked):
    rows, dirs = upload_rows(server), upload_dirs(server)
    refused_as_dry_run(account.get_attachment_upload_links, fileName="n.bin",
                       fileSizeBytes=50 * 1024 * 1024)
    # No upload was started: not in the database, nothing on disk.
    assert (upload_rows(server), upload_dirs(server)) == (rows, dirs)
    upload_id, _ = parts_uploaded(account, b"abc")
    refused_as_dry_run(account.get_attachment_upload_links, fileName="d.txt",
                       uploadId=upload_id)
    assert same_error_when_dry(account.get_attachment_upload_links,
                               fileName="n.bin") == "ValidationException"
    assert same_error_when_dry(account.get_attachment_upload_links, fileName="n.bin",
                               uploadId="upload-unknown") == "UploadIdNotFound"
    assert same_error_when_dry(unchecked.get_attachment_upload_links, fileName="n.bin",
                               fileSizeBytes=200 * 1024 * 1024) == "ValidationException"


@covers("CompleteAttachmentUpload")
def test_complete_attachment_upload(account):
    upload_id, parts = parts_uploaded(account, b"complete me")
    refused_as_dry_run(account.complete_attachment_upload, uploadId=upload_id,
                       completedUploads=parts)
    status = account.describe_attachment_upload_status(uploadId=upload_id)
    assert status["uploadStatus"] == "attachment-not-ready"
    assert status["uploadProgress"] == {"totalParts": 1, "completedPartsCount": 0}
    # A dry run that would fail the upload does not fail it either.
    refused_as_dry_run(account.complete_attachment_upload, uploadId=upload_id,
                       completedUploads=[{"partIndex": 1, "eTag": "wrong"}])
    assert account.complete_attachment_upload(
        uploadId=upload_id, completedUploads=parts)["uploadStatus"] == "attachment-ready"
    assert same_error_when_dry(account.complete_attachment_upload, uploadId="upload-unknown",
                               completedUploads=parts) == "UploadIdNotFound"
    other, _ = parts_uploaded(account, b"x")
    assert same_error_when_dry(account.complete_attachment_upload, uploadId=other,
                               completedUploads=[{"partIndex": 2, "eTag": "e"}]) \
        == "ValidationException"


@covers("DescribeAttachmentUploadStatus")
def test_describe_attachment_upload_status(account):
    upload_id, _ = parts_uploaded(account, b"status")
    refused_as_dry_run(account.describe_attachment_upload_status, uploadId=upload_id)
    assert same_error_when_dry(account.describe_attachment_upload_status,
                               uploadId="upload-unknown") == "UploadIdNotFound"


@covers("GetAttachmentDownloadLink")
def test_get_attachment_download_link(account):
    data = b"link me"
    case_id = new_case(account, uploadIds=[ready_upload(account, data)])
    attachment_id = first_attachment(account, case_id)
    refused_as_dry_run(account.get_attachment_download_link, attachmentId=attachment_id)
    assert same_error_when_dry(account.get_attachment_download_link,
                               attachmentId="attachment-unknown") == "AttachmentIdNotFound"
    link = account.get_attachment_download_link(attachmentId=attachment_id, dryRun=False)
    assert httpx.get(link["downloadUrl"]["url"]).content == data


# --- the catalog ------------------------------------------------------------------------------

@covers("DescribeServices")
def test_describe_services(account, unchecked):
    refused_as_dry_run(account.describe_services)
    assert same_error_when_dry(unchecked.describe_services,
                               serviceCodeList=[f"s{i}" for i in range(101)]) \
        == "ValidationException"


@covers("DescribeSeverityLevels")
def test_describe_severity_levels(account, unchecked):
    refused_as_dry_run(account.describe_severity_levels, language="en")
    # A number where the model wants a string is refused before any dry run.
    assert same_error_when_dry(unchecked.describe_severity_levels, language=5) in (
        "SerializationException", "ValidationException")


@covers("DescribeCreateCaseOptions")
def test_describe_create_case_options(account):
    codes = {"issueType": "technical", "serviceCode": "general-info", "language": "en"}
    category = account.describe_services(serviceCodeList=["general-info"])[
        "services"][0]["categories"][0]["code"]
    refused_as_dry_run(account.describe_create_case_options, categoryCode=category, **codes)
    assert same_error_when_dry(account.describe_create_case_options, categoryCode=category,
                               **{**codes, "serviceCode": "no-such-service"}) \
        == "InvalidParameterValueException"


@covers("DescribeSupportedLanguages")
def test_describe_supported_languages(account, unchecked):
    category = account.describe_services(serviceCodeList=["general-info"])[
        "services"][0]["categories"][0]["code"]
    codes = {"issueType": "technical", "serviceCode": "general-info", "categoryCode": category}
    refused_as_dry_run(account.describe_supported_languages, **codes)
    assert same_error_when_dry(unchecked.describe_supported_languages,
                               **{**codes, "issueType": "tech"}) == "ValidationException"


# --- across operations --------------------------------------------------------------------------

def test_every_operation_with_a_dry_run_member_is_tested_here():
    model = botocore.session.get_session().get_service_model("support")
    with_dry_run = {name for name in model.operation_names
                    if "dryRun" in model.operation_model(name).input_shape.members}
    assert with_dry_run == COVERED


def test_dry_run_checks_who_is_asking_first(server):
    forged = server.client("support", key="test", secret="not-the-secret")
    error = error_of(forged.describe_services, dryRun=True)
    assert error["Error"]["Code"] != "DryRunOperationException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
    key, secret = server.new_account("888899990000")
    server.casework("accounts", "set-plan", "888899990000", "basic")
    basic = server.client("support", key=key, secret=secret)
    for call, params in [(basic.describe_services, {}),
                         (basic.get_attachment_upload_links,
                          {"fileName": "f", "fileSizeBytes": 1})]:
        error = error_of(call, dryRun=True, **params)
        assert error["Error"]["Code"] == "SubscriptionRequiredException"


def test_dry_run_false_runs_the_operation(account):
    started = account.get_attachment_upload_links(fileName="f.txt", fileSizeBytes=3,
                                                  dryRun=False)
    assert account.describe_attachment_upload_status(
        uploadId=started["uploadId"], dryRun=False)["fileName"] == "f.txt"
