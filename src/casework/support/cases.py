"""Cases and communications: CreateCase, DescribeCases, ResolveCase, AddCommunicationToCase,
DescribeCommunications.

Choices where AWS is silent (see the fact sheet): a new case starts ``opened``; omitted codes
default to ``general-info`` / the service's general category / ``low`` / ``en`` /
``technical``, and every code is checked against the catalog and the plan (``catalog.py``);
a reply to a resolved case reopens it (``reopened``) within the reopen window (AWS: 14 days)
and is refused after it; a reply to a case pending customer action moves it to
``customer-action-completed``; secret keys, private keys and card numbers in a subject or
body are redacted before anything is stored (``redaction.py``); ``afterTime``/``beforeTime``
bounds are inclusive; pages default to the model's maximum of 100.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import orjson

from ..clock import iso_ms
from ..handlers import Context
from ..keys import submitted_by
from ..wire.errors import ServiceError
from . import events, mail, registry
from .attachments import MAX_ATTACHMENT_BYTES, open_attachment_set
from .catalog import check_case_options
from .limits import check_case_creation
from .plans import API_PLANS
from .queries import cases as case_queries
from .redaction import redact
from .times import parse_time
from .uploads import attach_uploads, ready_uploads

DEFAULT_PAGE = 100
DISPLAY_ID_BASE = 1_000_000_000  # display ids are 10-digit numbers, as in AWS examples
REPLY_TRANSITIONS = {"resolved": "reopened", "pending-customer-action": "customer-action-completed"}


def _case_not_found(case_id: str) -> ServiceError:
    return ServiceError("CaseIdNotFound", f"Case ID {case_id} was not found.")


def _required_case_id(params: dict) -> str:
    # The model leaves caseId optional on some operations; a case is still needed to act on.
    case_id = params.get("caseId")
    if case_id is None:
        raise ServiceError(
            "ValidationException",
            "1 validation error detected: Value null at 'caseId' failed to satisfy constraint: "
            "Member must not be null", 400)
    return case_id


def _load_case(ctx: Context, case_id: str, *, lock: bool = False):
    found = case_queries.find_case(ctx.conn, ctx.account_id, case_id, lock=lock)
    if found is None:
        raise _case_not_found(case_id)
    return found


def _check_reopenable(ctx: Context, case) -> None:
    # AWS lets a resolved case be reopened for 14 days; after that a new case is the way.
    # The Support API has no modeled error for this, so it gets the service's generic
    # InvalidParameterValueException (400).
    window = int(ctx.settings.reopen_window * 1000)
    if case.status == "resolved" and case.resolved_at is not None \
            and ctx.now - case.resolved_at > window:
        raise ServiceError(
            "InvalidParameterValueException",
            f"Case {case.case_id} was resolved more than {_duration(window)} ago and can no "
            "longer be reopened. Create a new case and mention this case ID in it.", 400)


def _duration(ms: int) -> str:
    days, rest = divmod(ms // 1000, 86400)
    if days and not rest:
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{ms // 1000} second{'s' if ms // 1000 != 1 else ''}"


def _ready_uploads(ctx: Context, params: dict) -> list:
    # Completed large-file uploads named in uploadIds (uploads.py), checked before anything
    # is written; attach_uploads adds them to the new communication's attachmentSet.
    return ready_uploads(ctx, params.get("uploadIds") or [])


def _attach(ctx: Context, set_id: str | None, communication_seq: int) -> None:
    # open_attachment_set locked the set, so this cannot fail; checked all the same.
    if set_id is not None and not case_queries.consume_attachment_set(ctx.conn, set_id,
                                                                      communication_seq):
        raise ServiceError("AttachmentSetIdNotFound",
                           f"An attachment set with the id {set_id} was not found.")


def _cc_list(stored: str) -> list[str]:
    # Most cases copy no one: their stored list needs no parsing.
    return [] if stored == "[]" else orjson.loads(stored)


def communication_view(row, case_id: str, attachments: dict) -> dict:
    """A communication as the API shows it; ``attachments`` as ``case_queries.attachments_of``."""
    # As the model documents: ``attachments`` lists every attachment of the communication,
    # ``attachmentSet`` only those of at most 5 MB (the ones DescribeAttachment serves).
    found = attachments.get(row.seq)
    if found:
        listed = [details for details, _ in found]
        served = [details for details, size in found if size <= MAX_ATTACHMENT_BYTES]
    else:
        listed, served = [], []
    return {"caseId": case_id, "body": row.body, "submittedBy": row.submitted_by,
            "timeCreated": iso_ms(row.created_at), "attachments": listed,
            "attachmentSet": served}


@registry.operation("CreateCase", writes=True)
def create_case(ctx: Context, params: dict) -> dict:
    codes = check_case_options(ctx, params)
    check_case_creation(ctx)
    set_id = params.get("attachmentSetId")
    if set_id is not None:
        open_attachment_set(ctx, set_id)
    ready = _ready_uploads(ctx, params)
    year = datetime.fromtimestamp(ctx.now / 1000, UTC).year
    case_id = f"case-{ctx.account_id}-muen-{year}-{secrets.token_hex(8)}"
    cc = params.get("ccEmailAddresses") or []
    subject = redact(params["subject"])
    row = {
        "case_id": case_id,
        "account_id": ctx.account_id,
        "subject": subject,
        "status": "opened",
        **codes,
        "submitted_by": ctx.account_email,
        "cc_email_addresses": cc,
        "created_at": ctx.now,
    }
    body, written_by = redact(params["communicationBody"]), _submitted_by(ctx)
    if not _numbers_read_back(ctx, set_id, ready):
        # On PostgreSQL the case, its display id and its communication are one statement,
        # sent with the COMMIT.
        case_queries.insert_new_case(ctx.conn, row, DISPLAY_ID_BASE, {
            "body": body, "submitted_by": written_by, "cc": cc, "created_at": ctx.now})
        return {"caseId": case_id}
    display_id = str(DISPLAY_ID_BASE + case_queries.next_display_number(ctx.conn,
                                                                        ctx.account_id))
    case_seq = case_queries.insert_case(ctx.conn, {**row, "display_id": display_id})
    communication_seq = case_queries.insert_communication(
        ctx.conn, case_seq, body, written_by, cc, ctx.now)
    _attach(ctx, set_id, communication_seq)
    attach_uploads(ctx, ready, communication_seq)
    events.case_updated(ctx, case_id, display_id, "CreateCase")
    # E-mail to the CC line (when SMTP is configured), through the outbox in this transaction.
    mail.publish_communication(
        ctx, mail.CaseThread(case_seq, case_id, display_id, subject, ctx.account_id, tuple(cc)),
        seq=communication_seq, body=body, written_by=written_by, cc=[], first=True)
    return {"caseId": case_id}


def _numbers_read_back(ctx: Context, set_id: str | None, ready: list) -> bool:
    """Whether a new communication's number is needed after its INSERT: to attach an
    attachment set or uploads to it, or to name it in a case event or a mail."""
    return set_id is not None or bool(ready) or events.wanted(ctx) or mail.wanted(ctx)


def _submitted_by(ctx: Context) -> str:
    """A customer communication's ``submittedBy``: the caller's identity and the account's
    e-mail, as the model documents (``AdminRole (Role) <janedoe@example.com>``); the identity
    is the principal of the access key (``casework keys create --principal``)."""
    return submitted_by(ctx.key_principal, ctx.account_email)


@registry.operation("AddCommunicationToCase", writes=True)
def add_communication_to_case(ctx: Context, params: dict) -> dict:
    case_id = _required_case_id(params)
    body, written_by = redact(params["communicationBody"]), _submitted_by(ctx)
    cc = params.get("ccEmailAddresses") or []
    set_id = params.get("attachmentSetId")
    # Most replies change nothing but the thread: nothing attached, nobody to tell, a case
    # whose status stays. One statement checks the case and adds such a reply; any other (a
    # missing case included) takes the path below.
    if set_id is None and not params.get("uploadIds") and \
            not _numbers_read_back(ctx, None, []) and case_queries.reply_keeping_status(
                ctx.conn, ctx.account_id, case_id, body, written_by, cc, ctx.now,
                changing=list(REPLY_TRANSITIONS), api_plans=API_PLANS,
                default_plan=ctx.settings.default_plan):
        return {"result": True}
    case = _load_case(ctx, case_id)
    if case.status in REPLY_TRANSITIONS:
        # The reply changes the status, read here: under the case's row lock, so that a
        # concurrent change of status is waited for and seen. A reply that changes no status
        # takes no lock: it is then as if it came before any concurrent change (which reads
        # nothing the reply writes), and an open case's replies commit together instead of
        # one after the other, each waiting for the previous one's flush to disk.
        case = _load_case(ctx, case_id, lock=True)
    _check_reopenable(ctx, case)
    if set_id is not None:
        open_attachment_set(ctx, set_id)
    ready = _ready_uploads(ctx, params)
    if not _numbers_read_back(ctx, set_id, ready):
        # On PostgreSQL its INSERT travels with the next statement or the COMMIT.
        case_queries.insert_communication(ctx.conn, case.seq, body, written_by, cc, ctx.now,
                                          number=False)
    else:
        communication_seq = case_queries.insert_communication(
            ctx.conn, case.seq, body, written_by, cc, ctx.now)
        _attach(ctx, set_id, communication_seq)
        attach_uploads(ctx, ready, communication_seq)
        events.case_updated(ctx, case.case_id, case.display_id, "AddCommunicationToCase",
                            communication_seq=communication_seq, origin=events.CUSTOMER)
        mail.publish_communication(ctx, mail.CaseThread.of(case), seq=communication_seq,
                                   body=body, written_by=written_by, cc=cc)
    new_status = REPLY_TRANSITIONS.get(case.status)
    if new_status is not None:
        case_queries.set_case_status(ctx.conn, case.seq, new_status, None)
        events.status_moved(ctx, case.case_id, case.display_id, case.status, new_status)
    return {"result": True}


@registry.operation("ResolveCase", writes=True)
def resolve_case(ctx: Context, params: dict) -> dict:
    case = _load_case(ctx, _required_case_id(params), lock=True)
    if case.status != "resolved":
        case_queries.set_case_status(ctx.conn, case.seq, "resolved", ctx.now)
        events.status_moved(ctx, case.case_id, case.display_id, case.status, "resolved")
    return {"initialCaseStatus": case.status, "finalCaseStatus": "resolved"}


def _time_bounds(params: dict) -> tuple[int | None, int | None]:
    after, before = params.get("afterTime"), params.get("beforeTime")
    return (
        parse_time(after, "afterTime") if after else None,
        parse_time(before, "beforeTime") if before else None,
    )


@registry.operation("DescribeCases", writes=False)
def describe_cases(ctx: Context, params: dict) -> dict:
    case_ids = params.get("caseIdList") or None
    after, before = _time_bounds(params)
    token = params.get("nextToken")
    below = ctx.tokens.decode("support-cases", ctx.account_id, token) if token else None
    limit = params.get("maxResults") or DEFAULT_PAGE
    include_resolved = params.get("includeResolvedCases", False)
    language, display_id = params.get("language"), params.get("displayId")
    if case_ids:
        # At most 100 ids: read them in one query, then filter and order here.
        found = case_queries.cases_by_ids(ctx.conn, ctx.account_id, case_ids)
        known = {row.case_id for row in found}
        for case_id in case_ids:
            if case_id not in known:
                raise _case_not_found(case_id)
        rows = sorted((row for row in found if (
            (display_id is None or row.display_id == display_id)
            and (after is None or row.created_at >= after)
            and (before is None or row.created_at <= before)
            and (include_resolved or row.status != "resolved")
            and (language is None or row.language == language)
            and (below is None or row.seq < below))), key=lambda row: -row.seq)[:limit + 1]
    else:
        rows = case_queries.list_cases(
            ctx.conn, ctx.account_id, display_id=display_id, after=after, before=before,
            include_resolved=include_resolved, language=language, below_seq=below,
            limit=limit + 1)
    result: dict = {}
    if len(rows) > limit:
        rows = rows[:limit]
        result["nextToken"] = ctx.tokens.encode("support-cases", ctx.account_id, rows[-1].seq)
    recent: dict = {}
    attachments: dict = {}
    communications = params.get("includeCommunications", True)
    if communications:
        recent, attachments = case_queries.recent_communications(
            ctx.conn, [row.seq for row in rows])
    cases = []
    for row in rows:
        case = {
            "caseId": row.case_id,
            "displayId": row.display_id,
            "subject": row.subject,
            "status": row.status,
            "serviceCode": row.service_code,
            "categoryCode": row.category_code,
            "severityCode": row.severity_code,
            "submittedBy": row.submitted_by,
            "timeCreated": iso_ms(row.created_at),
            "ccEmailAddresses": _cc_list(row.cc_email_addresses),
            "language": row.language,
        }
        if communications:
            comms = recent.get(row.seq, [])
            shown = comms[: case_queries.RECENT_COMMUNICATIONS]
            case["recentCommunications"] = {
                "communications": [communication_view(c, row.case_id, attachments) for c in shown]
            }
            if len(comms) > len(shown):
                case["recentCommunications"]["nextToken"] = ctx.tokens.encode(
                    "support-communications", ctx.account_id, [row.seq, shown[-1].seq])
        cases.append(case)
    result["cases"] = cases
    return result


@registry.operation("DescribeCommunications", writes=False)
def describe_communications(ctx: Context, params: dict) -> dict:
    case = _load_case(ctx, params["caseId"])
    after, before = _time_bounds(params)
    below = None
    token = params.get("nextToken")
    if token:
        case_seq, below = ctx.tokens.decode("support-communications", ctx.account_id, token)
        if case_seq != case.seq:
            raise ServiceError("ValidationException", "Invalid nextToken: it belongs to another "
                               "case.", 400)
    limit = params.get("maxResults") or DEFAULT_PAGE
    rows, attachments = case_queries.list_communications(
        ctx.conn, case.seq, after=after, before=before, below_seq=below, limit=limit + 1)
    result: dict = {}
    if len(rows) > limit:
        rows = rows[:limit]
        result["nextToken"] = ctx.tokens.encode(
            "support-communications", ctx.account_id, [case.seq, rows[-1].seq])
    result["communications"] = [communication_view(r, case.case_id, attachments) for r in rows]
    return result
