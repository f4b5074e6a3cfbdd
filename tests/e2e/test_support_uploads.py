"""AWS Support large-file attachments end to end: boto3 for the API, httpx for the presigned
part and download URLs that Casework serves itself, against real ``casework serve`` processes.
"""

from __future__ import annotations

import base64
import hashlib
import random
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import httpx
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from conftest import error_of, start_server
from sqlalchemy import create_engine, text

MIB = 1024 * 1024
EXPIRY = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
UPLOAD_ID = re.compile(r"^upload-[A-Za-z0-9_-]{64}$")


def code_of(call, **params) -> str:
    return error_of(call, **params)["Error"]["Code"]


def all_links(support, upload_id: str, file_name: str) -> dict[int, str]:
    """Every part URL of an upload, following ``nextIndex``."""
    links: dict[int, str] = {}
    start = 1
    while True:
        page = support.get_attachment_upload_links(
            fileName=file_name, uploadId=upload_id, uploadRange={"startIndex": start})
        links.update({u["partIndex"]: u["url"] for u in page["uploadUrls"]})
        if "nextIndex" not in page:
            return links
        start = page["nextIndex"]


def put(url: str, data, **headers) -> httpx.Response:
    return httpx.put(url, content=data, headers=headers, timeout=60)


def upload(support, file_name: str, data: bytes, *, complete: bool = True) -> str:
    """Upload ``data`` through presigned URLs; returns the upload id (ready if ``complete``)."""
    first = support.get_attachment_upload_links(fileName=file_name, fileSizeBytes=len(data))
    upload_id, size = first["uploadId"], first["partSizeBytes"]
    links = all_links(support, upload_id, file_name)
    reported = []
    for index, url in sorted(links.items()):
        answer = put(url, data[(index - 1) * size:index * size])
        assert answer.status_code == 200, answer.text
        reported.append({"partIndex": index, "eTag": answer.headers["ETag"]})
    if complete:
        status = support.complete_attachment_upload(uploadId=upload_id, completedUploads=reported)
        assert status["uploadStatus"] == "attachment-ready"
    return upload_id


def attachment_ids(support, case_id: str) -> list[dict]:
    """Every attachment of the case's newest communication (``attachments``, any size)."""
    return support.describe_communications(caseId=case_id)["communications"][0]["attachments"]


def download(support, attachment_id: str) -> httpx.Response:
    link = support.get_attachment_download_link(attachmentId=attachment_id)
    return httpx.get(link["downloadUrl"]["url"], timeout=60)


@pytest.fixture(scope="module")
def small_parts(tmp_path_factory):
    """A server that cuts files into 1 MiB parts, so many-part uploads stay cheap."""
    running = start_server(tmp_path_factory.mktemp("small-parts"),
                           "--upload-part-size", str(MIB))
    yield running
    running.stop()


# --- the happy path ---------------------------------------------------------------------------

def test_one_part_upload_attaches_to_a_new_case_and_downloads(server, support):
    data = b"2026-01-01 ERROR disk full\n" * 40
    started = support.get_attachment_upload_links(fileName="app.log", fileSizeBytes=len(data))
    assert UPLOAD_ID.match(started["uploadId"])
    assert started["partSizeBytes"] == len(data) and started["totalParts"] == 1
    assert "nextIndex" not in started
    [link] = started["uploadUrls"]
    assert link["partIndex"] == 1 and EXPIRY.match(link["expiryDate"])
    # The URL is served by Casework itself, on the host the client used.
    assert link["url"].startswith(server.endpoint + "/_casework/")

    status = support.describe_attachment_upload_status(uploadId=started["uploadId"])
    assert status == {"uploadStatus": "attachment-not-ready", "fileName": "app.log",
                      "uploadProgress": {"totalParts": 1, "completedPartsCount": 0},
                      "ResponseMetadata": status["ResponseMetadata"]}

    answer = put(link["url"], data)
    assert answer.status_code == 200
    assert answer.headers["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    completed = support.complete_attachment_upload(
        uploadId=started["uploadId"],
        completedUploads=[{"partIndex": 1, "eTag": answer.headers["ETag"]}])
    assert completed["uploadStatus"] == "attachment-ready"
    status = support.describe_attachment_upload_status(uploadId=started["uploadId"])
    assert status["uploadStatus"] == "attachment-ready"
    assert status["uploadProgress"] == {"totalParts": 1, "completedPartsCount": 1}

    case_id = support.create_case(subject="Disk full", communicationBody="log attached",
                                  uploadIds=[started["uploadId"]])["caseId"]
    [attachment] = attachment_ids(support, case_id)
    assert attachment["fileName"] == "app.log"
    assert attachment["attachmentId"].startswith("attachment-")
    # Up to 5 MB, DescribeAttachment returns uploaded files inline like any attachment.
    described = support.describe_attachment(attachmentId=attachment["attachmentId"])
    assert described["attachment"] == {"fileName": "app.log", "data": data}

    link = support.get_attachment_download_link(attachmentId=attachment["attachmentId"])
    assert link["fileName"] == "app.log" and EXPIRY.match(link["downloadUrl"]["expiryDate"])
    got = httpx.get(link["downloadUrl"]["url"])
    assert got.status_code == 200 and got.content == data
    assert got.headers["content-length"] == str(len(data))
    assert "filename*=UTF-8''app.log" in got.headers["content-disposition"]


def test_many_parts_come_ten_urls_at_a_time(small_parts):
    support = small_parts.client("support")
    size = 23 * MIB + 12345  # 24 parts, the last one short
    started = support.get_attachment_upload_links(fileName="dump.bin", fileSizeBytes=size)
    assert started["partSizeBytes"] == MIB and started["totalParts"] == 24
    assert [u["partIndex"] for u in started["uploadUrls"]] == list(range(1, 11))
    assert started["nextIndex"] == 11
    upload_id = started["uploadId"]
    page = support.get_attachment_upload_links(fileName="dump.bin", uploadId=upload_id,
                                               uploadRange={"startIndex": 11})
    assert [u["partIndex"] for u in page["uploadUrls"]] == list(range(11, 21))
    assert page["nextIndex"] == 21 and page["totalParts"] == 24
    last = support.get_attachment_upload_links(fileName="dump.bin", uploadId=upload_id,
                                               uploadRange={"startIndex": 21})
    assert [u["partIndex"] for u in last["uploadUrls"]] == [21, 22, 23, 24]
    assert "nextIndex" not in last
    # The range is half-open; endIndex past the last part is capped.
    some = support.get_attachment_upload_links(
        fileName="dump.bin", uploadId=upload_id, uploadRange={"startIndex": 3, "endIndex": 6})
    assert [u["partIndex"] for u in some["uploadUrls"]] == [3, 4, 5] and some["nextIndex"] == 6
    capped = support.get_attachment_upload_links(
        fileName="dump.bin", uploadId=upload_id, uploadRange={"startIndex": 20, "endIndex": 30})
    assert [u["partIndex"] for u in capped["uploadUrls"]] == [20, 21, 22, 23, 24]


def test_continuing_without_a_range_resumes_at_the_first_missing_part(small_parts):
    support = small_parts.client("support")
    data = random.Random(3).randbytes(4 * MIB)
    upload_id = upload(support, "resume.bin", data, complete=False)
    fresh = support.get_attachment_upload_links(fileName="resume.bin", fileSizeBytes=len(data))
    urls = {u["partIndex"]: u["url"] for u in fresh["uploadUrls"]}
    for index in (1, 2):
        assert put(urls[index], data[(index - 1) * MIB:index * MIB]).status_code == 200
    again = support.get_attachment_upload_links(fileName="resume.bin",
                                                uploadId=fresh["uploadId"])
    assert [u["partIndex"] for u in again["uploadUrls"]] == [3, 4]
    # The first upload had every part uploaded: it resumes from the start.
    done = support.get_attachment_upload_links(fileName="resume.bin", uploadId=upload_id)
    assert [u["partIndex"] for u in done["uploadUrls"]] == [1, 2, 3, 4]


def test_parts_can_be_reported_in_several_calls_and_progress_shows(small_parts):
    support = small_parts.client("support")
    data = random.Random(4).randbytes(3 * MIB)
    started = support.get_attachment_upload_links(fileName="p.bin", fileSizeBytes=len(data))
    upload_id = started["uploadId"]
    etags = {}
    for link in started["uploadUrls"]:
        i = link["partIndex"]
        etags[i] = put(link["url"], data[(i - 1) * MIB:i * MIB]).headers["ETag"]
    first = support.complete_attachment_upload(
        uploadId=upload_id, completedUploads=[{"partIndex": 2, "eTag": etags[2]}])
    assert first["uploadStatus"] == "attachment-not-ready"
    progress = support.describe_attachment_upload_status(uploadId=upload_id)["uploadProgress"]
    assert progress == {"totalParts": 3, "completedPartsCount": 1}
    # Unquoted ETags are accepted too; reporting a part twice counts it once.
    rest = support.complete_attachment_upload(uploadId=upload_id, completedUploads=[
        {"partIndex": 1, "eTag": etags[1].strip('"')}, {"partIndex": 2, "eTag": etags[2]},
        {"partIndex": 3, "eTag": etags[3]}])
    assert rest["uploadStatus"] == "attachment-ready"
    # Completing again is harmless.
    again = support.complete_attachment_upload(
        uploadId=upload_id, completedUploads=[{"partIndex": 1, "eTag": "whatever"}])
    assert again["uploadStatus"] == "attachment-ready"


def test_a_part_uploaded_again_replaces_the_first_copy(small_parts):
    support = small_parts.client("support")
    started = support.get_attachment_upload_links(fileName="r.txt", fileSizeBytes=5)
    url = started["uploadUrls"][0]["url"]
    assert put(url, b"first").status_code == 200
    second = put(url, b"again")
    support.complete_attachment_upload(uploadId=started["uploadId"], completedUploads=[
        {"partIndex": 1, "eTag": second.headers["ETag"]}])
    case_id = support.create_case(subject="r", communicationBody="r",
                                  uploadIds=[started["uploadId"]])["caseId"]
    [attachment] = attachment_ids(support, case_id)
    assert download(support, attachment["attachmentId"]).content == b"again"
    # The replaced copy's file is gone: one file per part on disk.
    storage = small_parts.data_dir / "attachments"
    engine = create_engine(small_parts.database_url)
    with engine.connect() as db:
        key = db.execute(text("SELECT storage_key FROM support_uploads WHERE upload_id = :u"),
                         {"u": started["uploadId"]}).scalar_one()
    engine.dispose()
    assert len(list((storage / key).iterdir())) == 1


def test_uploads_join_small_attachments_on_a_reply(server, support):
    case_id = support.create_case(subject="mixed", communicationBody="first")["caseId"]
    set_id = support.add_attachments_to_set(
        attachments=[{"fileName": "small.txt", "data": b"tiny"}])["attachmentSetId"]
    big = upload(support, "big.log", b"L" * 2000)
    other = upload(support, "other.log", b"O" * 10)
    answer = support.add_communication_to_case(
        caseId=case_id, communicationBody="files", attachmentSetId=set_id,
        uploadIds=[big, other, big])
    assert answer["result"] is True
    names = [a["fileName"] for a in attachment_ids(support, case_id)]
    assert names == ["small.txt", "big.log", "other.log"]
    recent = support.describe_cases(caseIdList=[case_id])["cases"][0]["recentCommunications"]
    newest = recent["communications"][0]
    assert [a["fileName"] for a in newest["attachments"]] == names
    # All three are 5 MB or smaller, so attachmentSet lists the same ones.
    assert newest["attachmentSet"] == newest["attachments"]
    contents = [download(support, a["attachmentId"]).content
                for a in attachment_ids(support, case_id)]
    assert contents == [b"tiny", b"L" * 2000, b"O" * 10]


def test_small_attachments_from_sets_have_download_links_too(support):
    payload = bytes(range(256)) * 40
    set_id = support.add_attachments_to_set(
        attachments=[{"fileName": "trace dump.bin", "data": payload}])["attachmentSetId"]
    case_id = support.create_case(subject="s", communicationBody="s",
                                  attachmentSetId=set_id)["caseId"]
    [attachment] = attachment_ids(support, case_id)
    got = download(support, attachment["attachmentId"])
    assert got.status_code == 200 and got.content == payload
    assert "filename*=UTF-8''trace%20dump.bin" in got.headers["content-disposition"]


@pytest.mark.parametrize("uploaded", [False, True], ids=["from a set", "uploaded"])
@pytest.mark.parametrize(("file_name", "media_type"), [
    ("report.pdf", "application/pdf"),
    ("data:te\u2603xt/plain,x", "application/octet-stream"),
    ("data:a/b\r\nX: 1,z", "application/octet-stream"),
], ids=["pdf", "data-url-unicode", "data-url-crlf"])
def test_download_media_type_comes_from_the_extension(support, file_name, media_type,
                                                      uploaded):
    # A file name is not a URL: "data:<type>,..." used to set its own Content-Type, which
    # failed the download when it was not Latin-1 or held a line break.
    if uploaded:
        case_id = support.create_case(subject="s", communicationBody="s", uploadIds=[
            upload(support, file_name, b"contents")])["caseId"]
    else:
        set_id = support.add_attachments_to_set(attachments=[
            {"fileName": file_name, "data": b"contents"}])["attachmentSetId"]
        case_id = support.create_case(subject="s", communicationBody="s",
                                      attachmentSetId=set_id)["caseId"]
    [attachment] = attachment_ids(support, case_id)
    got = download(support, attachment["attachmentId"])
    assert got.status_code == 200 and got.content == b"contents"
    assert got.headers["content-type"] == media_type


def test_describe_attachment_refuses_files_over_5_mb(small_parts):
    support = small_parts.client("support")
    data = random.Random(6).randbytes(5 * MIB + 1)
    upload_id = upload(support, "six.bin", data)
    case_id = support.create_case(subject="b", communicationBody="b",
                                  uploadIds=[upload_id])["caseId"]
    [attachment] = attachment_ids(support, case_id)
    error = error_of(support.describe_attachment, attachmentId=attachment["attachmentId"])
    assert error["Error"]["Code"] == "InvalidParameterValueException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "GetAttachmentDownloadLink" in error["Error"]["Message"]
    assert download(support, attachment["attachmentId"]).content == data


def test_attachment_set_leaves_out_files_over_5_mb_and_attachments_lists_all(small_parts):
    # The model's Communication: ``attachments`` is every attachment whatever its size,
    # ``attachmentSet`` only those of 5 MB or less, so walking attachmentSet into
    # DescribeAttachment always works.
    support = small_parts.client("support")
    small = b"a small note\n" * 3
    edge = random.Random(7).randbytes(5 * MIB)
    large = random.Random(8).randbytes(6 * MIB)
    set_id = support.add_attachments_to_set(
        attachments=[{"fileName": "note.txt", "data": small}])["attachmentSetId"]
    case_id = support.create_case(
        subject="six", communicationBody="three files", attachmentSetId=set_id,
        uploadIds=[upload(support, "edge.bin", edge), upload(support, "large.bin", large)],
    )["caseId"]
    [communication] = support.describe_communications(caseId=case_id)["communications"]
    every = communication["attachments"]
    assert [a["fileName"] for a in every] == ["note.txt", "edge.bin", "large.bin"]
    assert all(set(a) == {"attachmentId", "fileName"} for a in every)
    assert communication["attachmentSet"] == every[:2]
    [case] = support.describe_cases(caseIdList=[case_id])["cases"]
    [recent] = case["recentCommunications"]["communications"]
    assert recent["attachments"] == every and recent["attachmentSet"] == every[:2]
    # Code that walks attachmentSet into DescribeAttachment gets every file it names ...
    got = [support.describe_attachment(attachmentId=a["attachmentId"])["attachment"]["data"]
           for a in communication["attachmentSet"]]
    assert got == [small, edge]
    # ... and attachments with GetAttachmentDownloadLink reaches the large one too.
    assert download(support, every[2]["attachmentId"]).content == large
    # A communication without attachments has both lists, empty.
    support.add_communication_to_case(caseId=case_id, communicationBody="no files")
    newest = support.describe_communications(caseId=case_id)["communications"][0]
    assert newest["attachments"] == [] and newest["attachmentSet"] == []


# --- modeled errors and refusals -----------------------------------------------------------------

def test_unknown_upload_ids_are_upload_id_not_found_everywhere(support):
    missing = "upload-" + "x" * 64
    for call, params in [
        (support.get_attachment_upload_links, {"fileName": "a", "uploadId": missing}),
        (support.complete_attachment_upload,
         {"uploadId": missing, "completedUploads": [{"partIndex": 1, "eTag": "e"}]}),
        (support.describe_attachment_upload_status, {"uploadId": missing}),
        (support.create_case, {"subject": "s", "communicationBody": "b", "uploadIds": [missing]}),
    ]:
        with pytest.raises(support.exceptions.UploadIdNotFound) as caught:
            call(**params)
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert missing in caught.value.response["Error"]["Message"]
    case_id = support.create_case(subject="s", communicationBody="b")["caseId"]
    with pytest.raises(support.exceptions.UploadIdNotFound):
        support.add_communication_to_case(caseId=case_id, communicationBody="b",
                                          uploadIds=[missing])
    # Nothing of the failed CreateCase was kept.
    assert len(support.describe_communications(caseId=case_id)["communications"]) == 1


def test_accounts_never_see_each_others_uploads_or_attachments(server, support):
    key, secret = server.new_account("222233334444")
    other = server.client("support", key=key, secret=secret)
    mine = upload(support, "private.txt", b"secret bytes")
    for call, params in [
        (other.get_attachment_upload_links, {"fileName": "p", "uploadId": mine}),
        (other.describe_attachment_upload_status, {"uploadId": mine}),
        (other.complete_attachment_upload,
         {"uploadId": mine, "completedUploads": [{"partIndex": 1, "eTag": "e"}]}),
        (other.create_case, {"subject": "s", "communicationBody": "b", "uploadIds": [mine]}),
    ]:
        with pytest.raises(other.exceptions.UploadIdNotFound):
            call(**params)
    case_id = support.create_case(subject="p", communicationBody="p", uploadIds=[mine])["caseId"]
    [attachment] = attachment_ids(support, case_id)
    with pytest.raises(other.exceptions.AttachmentIdNotFound):
        other.get_attachment_download_link(attachmentId=attachment["attachmentId"])


def test_bad_ranges_and_sizes_are_validation_errors(server, support):
    # The model's own limits are checked by the SDK too; switch that off to reach the server.
    unchecked = server.client("support", parameter_validation=False)
    started = support.get_attachment_upload_links(fileName="v.bin", fileSizeBytes=30 * MIB)
    upload_id = started["uploadId"]
    assert started["totalParts"] == 3
    bad = [
        {"fileName": "v.bin"},  # neither uploadId nor fileSizeBytes
        {"fileName": "", "fileSizeBytes": 10},
        {"fileName": "v.bin", "fileSizeBytes": 157286401},  # model maximum: 150 MB
        {"fileName": "v.bin", "fileSizeBytes": 0},
        {"fileName": "v.bin", "uploadId": upload_id, "fileSizeBytes": 5},  # not its size
        {"fileName": "v.bin", "uploadId": upload_id, "uploadRange": {"startIndex": 4}},
        {"fileName": "v.bin", "uploadId": upload_id,
         "uploadRange": {"startIndex": 3, "endIndex": 3}},
        {"fileName": "v.bin", "uploadId": upload_id,
         "uploadRange": {"startIndex": 1, "endIndex": 12}},  # more than 10 URLs
    ]
    for params in bad:
        error = error_of(unchecked.get_attachment_upload_links, **params)
        assert error["Error"]["Code"] == "ValidationException", params
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 400
    error = error_of(support.complete_attachment_upload, uploadId=upload_id,
                     completedUploads=[{"partIndex": 4, "eTag": "e"}])
    assert error["Error"]["Code"] == "ValidationException"
    assert "completedUploads" in error["Error"]["Message"]


def test_only_ready_uploads_can_be_attached_and_only_once(support):
    data = b"once"
    pending = upload(support, "pending.txt", data, complete=False)
    error = error_of(support.create_case, subject="s", communicationBody="b",
                     uploadIds=[pending])
    assert error["Error"]["Code"] == "ValidationException"
    assert "attachment-not-ready" in error["Error"]["Message"]
    ready = upload(support, "ready.txt", data)
    support.create_case(subject="s", communicationBody="b", uploadIds=[ready])
    with pytest.raises(support.exceptions.UploadIdNotFound) as caught:
        support.create_case(subject="s", communicationBody="b", uploadIds=[ready])
    assert "already attached" in caught.value.response["Error"]["Message"]
    # A used upload can still be described, but not continued or completed.
    assert support.describe_attachment_upload_status(
        uploadId=ready)["uploadStatus"] == "attachment-ready"
    with pytest.raises(support.exceptions.UploadIdNotFound):
        support.get_attachment_upload_links(fileName="ready.txt", uploadId=ready)


def test_a_wrong_etag_makes_the_upload_fail_for_good(support):
    upload_id = upload(support, "bad.txt", b"payload", complete=False)
    answer = support.complete_attachment_upload(
        uploadId=upload_id, completedUploads=[{"partIndex": 1, "eTag": '"0" '}])
    assert answer["uploadStatus"] == "failed"
    status = support.describe_attachment_upload_status(uploadId=upload_id)
    assert status["uploadStatus"] == "failed" and status["fileName"] == "bad.txt"
    error = error_of(support.create_case, subject="s", communicationBody="b",
                     uploadIds=[upload_id])
    assert error["Error"]["Code"] == "ValidationException"
    with pytest.raises(support.exceptions.UploadIdNotFound) as caught:
        support.get_attachment_upload_links(fileName="bad.txt", uploadId=upload_id)
    assert "failed" in caught.value.response["Error"]["Message"]


def test_reporting_a_part_that_never_arrived_fails_the_upload(support):
    started = support.get_attachment_upload_links(fileName="none.txt", fileSizeBytes=3)
    answer = support.complete_attachment_upload(
        uploadId=started["uploadId"],
        completedUploads=[{"partIndex": 1, "eTag": hashlib.md5(b"abc").hexdigest()}])
    assert answer["uploadStatus"] == "failed"


def test_unknown_attachment_has_no_download_link(support):
    with pytest.raises(support.exceptions.AttachmentIdNotFound):
        support.get_attachment_download_link(attachmentId="attachment-nope")


# --- the presigned URLs themselves ------------------------------------------------------------

def test_part_urls_take_exactly_the_part_size(small_parts):
    support = small_parts.client("support")
    started = support.get_attachment_upload_links(fileName="s.bin", fileSizeBytes=MIB + 10)
    first, last = (u["url"] for u in started["uploadUrls"])
    small = put(first, b"x" * 10)
    assert small.status_code == 400 and "<Code>EntityTooSmall</Code>" in small.text
    large = put(last, b"x" * 11)
    assert large.status_code == 400 and "<Code>EntityTooLarge</Code>" in large.text

    def overflowing():  # chunked, no Content-Length: cut off as soon as it is too long
        yield b"x" * 8
        yield b"x" * 8

    assert put(last, overflowing()).status_code == 400
    assert put(last, iter([b"y" * 10])).status_code == 200  # chunked and exact: fine
    bad_md5 = put(last, b"z" * 10, **{"Content-MD5": base64.b64encode(b"0" * 16).decode()})
    assert bad_md5.status_code == 400 and "<Code>BadDigest</Code>" in bad_md5.text
    good_md5 = base64.b64encode(hashlib.md5(b"z" * 10).digest()).decode()
    assert put(last, b"z" * 10, **{"Content-MD5": good_md5}).status_code == 200


def test_urls_are_single_purpose_and_tamper_proof(support):
    started = support.get_attachment_upload_links(fileName="t.txt", fileSizeBytes=4)
    url = started["uploadUrls"][0]["url"]
    parts = urlsplit(url)
    other_part = url.replace("/parts/1?", "/parts/2?")
    assert put(other_part, b"abcd").status_code == 403
    forged = url[:-4] + ("0000" if not url.endswith("0000") else "1111")
    answer = put(forged, b"abcd")
    assert answer.status_code == 403 and "SignatureDoesNotMatch" in answer.text
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    later = urlencode({**query, "X-Casework-Expires": "99999999999999"})
    assert put(f"{parts.scheme}://{parts.netloc}{parts.path}?{later}", b"abcd").status_code == 403
    unsigned = f"{parts.scheme}://{parts.netloc}{parts.path}"
    assert put(unsigned, b"abcd").status_code == 403
    # A part URL does not read anything back.
    assert httpx.get(url).status_code in (403, 405)
    assert put(url, b"abcd").status_code == 200


def test_urls_expire(tmp_path):
    running = start_server(tmp_path, "--attachment-link-ttl", "1")
    try:
        support = running.client("support")
        started = support.get_attachment_upload_links(fileName="e.txt", fileSizeBytes=2)
        time.sleep(1.2)
        answer = put(started["uploadUrls"][0]["url"], b"ab")
        assert answer.status_code == 403 and "Request has expired" in answer.text
    finally:
        running.stop()


def test_urls_name_the_host_the_client_used(server):
    port = urlsplit(server.endpoint).port
    support = boto3.client("support", endpoint_url=f"http://localhost:{port}",
                           region_name="us-east-1", aws_access_key_id="test",
                           aws_secret_access_key="test",
                           config=Config(retries={"total_max_attempts": 1}))
    started = support.get_attachment_upload_links(fileName="h.txt", fileSizeBytes=1)
    url = started["uploadUrls"][0]["url"]
    assert url.startswith(f"http://localhost:{port}/_casework/support/uploads/")
    assert put(url, b"h").status_code == 200


def test_unattached_uploads_expire_and_their_files_go(tmp_path):
    running = start_server(tmp_path, "--upload-ttl", "3")  # room to attach one in time
    try:
        support = running.client("support")
        kept = upload(support, "kept.txt", b"keep me")
        case_id = support.create_case(subject="k", communicationBody="k",
                                      uploadIds=[kept])["caseId"]
        gone = upload(support, "gone.txt", b"forget me")
        storage = running.data_dir / "attachments"
        assert len(list(storage.iterdir())) == 2
        time.sleep(3.1)
        for call, params in [
            (support.describe_attachment_upload_status, {"uploadId": gone}),
            (support.create_case, {"subject": "s", "communicationBody": "b",
                                   "uploadIds": [gone]}),
        ]:
            with pytest.raises(support.exceptions.UploadIdNotFound):
                call(**params)
        deadline = time.monotonic() + 10
        while len(list(storage.iterdir())) != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(list(storage.iterdir())) == 1
        # The attached one never expires.
        [attachment] = attachment_ids(support, case_id)
        assert download(support, attachment["attachmentId"]).content == b"keep me"
    finally:
        running.stop()


def test_an_acknowledged_part_survives_a_crash(tmp_path):
    running = start_server(tmp_path)
    support = running.client("support")
    data = b"durable part" * 1000
    started = support.get_attachment_upload_links(fileName="d.bin", fileSizeBytes=len(data))
    etag = put(started["uploadUrls"][0]["url"], data).headers["ETag"]
    running.process.kill()  # SIGKILL: no shutdown, no flushing
    running.process.wait()
    restarted = start_server(tmp_path)
    try:
        support = restarted.client("support")
        done = support.complete_attachment_upload(
            uploadId=started["uploadId"], completedUploads=[{"partIndex": 1, "eTag": etag}])
        assert done["uploadStatus"] == "attachment-ready"
        case_id = support.create_case(subject="d", communicationBody="d",
                                      uploadIds=[started["uploadId"]])["caseId"]
        [attachment] = attachment_ids(support, case_id)
        assert download(support, attachment["attachmentId"]).content == data
    finally:
        restarted.stop()


def test_download_urls_refuse_tampering_and_unknown_attachments(support):
    upload_id = upload(support, "dl.txt", b"download me")
    case_id = support.create_case(subject="d", communicationBody="d",
                                  uploadIds=[upload_id])["caseId"]
    [attachment] = attachment_ids(support, case_id)
    url = support.get_attachment_download_link(
        attachmentId=attachment["attachmentId"])["downloadUrl"]["url"]
    other = url.replace(attachment["attachmentId"], attachment["attachmentId"] + "x")
    assert httpx.get(other).status_code == 403
    assert httpx.put(url, content=b"x").status_code in (403, 405)
    assert httpx.get(url).content == b"download me"


# --- 120 MB with the server's memory measured ------------------------------------------------

BIG = 120_000_000  # 12 parts of 10 MiB, the last one 4,142,080 bytes


def _block(index: int) -> bytes:
    return random.Random(index).randbytes(MIB)


def _part_stream(start: int, end: int, digest=None):
    """Bytes ``start:end`` of the test file, made 1 MiB at a time (never held whole)."""
    position = start
    while position < end:
        block, offset = divmod(position, MIB)
        chunk = _block(block)[offset:offset + min(MIB - offset, end - position)]
        if digest is not None:
            digest.update(chunk)
        position += len(chunk)
        yield chunk


def _memory(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024
    return fields


def test_a_120_mb_file_streams_through_with_flat_server_memory(tmp_path):
    running = start_server(tmp_path)
    try:
        support = running.client("support")
        pid = running.process.pid
        # Warm up every code path first, so the baseline includes imports and caches.
        warm = upload(support, "warm.bin", b"w" * 1000)
        warm_case = support.create_case(subject="w", communicationBody="w",
                                        uploadIds=[warm])["caseId"]
        download(support, attachment_ids(support, warm_case)[0]["attachmentId"])
        baseline = _memory(pid)

        peak_rss = [baseline["VmRSS"]]
        stop = threading.Event()

        def sample():
            while not stop.wait(0.05):
                peak_rss[0] = max(peak_rss[0], _memory(pid)["VmRSS"])

        sampler = threading.Thread(target=sample)
        sampler.start()
        began = time.monotonic()
        started = support.get_attachment_upload_links(fileName="core.dump", fileSizeBytes=BIG)
        upload_id, part_size = started["uploadId"], started["partSizeBytes"]
        assert part_size == 10 * MIB and started["totalParts"] == 12
        assert started["nextIndex"] == 11
        links = all_links(support, upload_id, "core.dump")
        assert sorted(links) == list(range(1, 13))

        def send(index: int) -> dict:
            start, end = (index - 1) * part_size, min(index * part_size, BIG)
            answer = httpx.put(links[index], content=_part_stream(start, end),
                               headers={"Content-Length": str(end - start)}, timeout=120)
            assert answer.status_code == 200, answer.text
            return {"partIndex": index, "eTag": answer.headers["ETag"]}

        with ThreadPoolExecutor(3) as pool:  # parts in parallel, as SDK uploaders do
            reported = list(pool.map(send, sorted(links)))
        uploaded_at = time.monotonic()
        expected = hashlib.sha256()
        for _ in _part_stream(0, BIG, expected):
            pass
        assert support.complete_attachment_upload(
            uploadId=upload_id, completedUploads=reported)["uploadStatus"] == "attachment-ready"
        case_id = support.create_case(subject="core dump", communicationBody="attached",
                                      uploadIds=[upload_id])["caseId"]
        [attachment] = attachment_ids(support, case_id)
        assert attachment["fileName"] == "core.dump"
        with pytest.raises(ClientError) as caught:
            support.describe_attachment(attachmentId=attachment["attachmentId"])
        assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"

        link = support.get_attachment_download_link(attachmentId=attachment["attachmentId"])
        received, size = hashlib.sha256(), 0
        with httpx.stream("GET", link["downloadUrl"]["url"], timeout=120) as answer:
            assert answer.status_code == 200
            assert answer.headers["content-length"] == str(BIG)
            for chunk in answer.iter_bytes():
                received.update(chunk)
                size += len(chunk)
        finished = time.monotonic()
        stop.set()
        sampler.join()
        after = _memory(pid)

        assert size == BIG and received.hexdigest() == expected.hexdigest()
        growth_hwm = after["VmHWM"] - baseline["VmHWM"]
        growth_rss = peak_rss[0] - baseline["VmRSS"]
        print(f"\n120 MB upload {uploaded_at - began:.1f} s, download "
              f"{finished - uploaded_at:.1f} s; server RSS baseline "
              f"{baseline['VmRSS'] / MIB:.1f} MiB (VmHWM {baseline['VmHWM'] / MIB:.1f} MiB), "
              f"sampled peak RSS {peak_rss[0] / MIB:.1f} MiB (+{growth_rss / MIB:.1f}), "
              f"VmHWM after {after['VmHWM'] / MIB:.1f} MiB (+{growth_hwm / MIB:.1f})")
        assert growth_hwm < 60 * 1000 * 1000
        assert growth_rss < 60 * 1000 * 1000
    finally:
        running.stop()
