"""The Support API's limits, as AWS has them, each off by default and set by an operator.

* ``CaseCreationLimitExceeded``: CreateCase past ``max_open_cases`` open (unresolved) cases.
* ``AttachmentLimitExceeded``: more than ``attachment_set_limit`` new attachment sets in
  ``limit_window`` seconds; counted from the stored sets.
* ``DescribeAttachmentLimitExceeded`` and ``ThrottlingException`` are counted before the
  operation runs, by :mod:`casework.limits` (the Amazon Connect Cases throttle is the same).

AWS publishes no numbers for any of these. Every count lives in the database, so that several
server processes on one database share each account's allowance. The two count-based checks
here lock the account's row first (PostgreSQL; SQLite writers run one at a time), so that two
concurrent requests cannot both take the last place.
"""

from __future__ import annotations

from ..handlers import Context
from ..wire.errors import ServiceError
from .queries import cases as case_queries

DOWNLOAD_LIMIT_ERROR = (
    "DescribeAttachmentLimitExceeded",
    "The limit for the number of DescribeAttachment requests in a short period of time has "
    "been exceeded.")


def check_case_creation(ctx: Context) -> None:
    """CreateCase: the account may not hold more than ``max_open_cases`` open cases."""
    ceiling = ctx.settings.max_open_cases
    if not ceiling:
        return
    case_queries.lock_account(ctx.conn, ctx.account_id)  # one CreateCase of the account at a time
    if case_queries.count_open_cases(ctx.conn, ctx.account_id) >= ceiling:
        raise ServiceError(
            "CaseCreationLimitExceeded",
            f"You have reached the limit of {ceiling} open cases for this account. "
            "Resolve a case before you create another one.")


def check_attachment_set_creation(ctx: Context) -> None:
    """AddAttachmentsToSet without a set id: too many new sets in a short period?"""
    limit = ctx.settings.attachment_set_limit
    if not limit:
        return
    case_queries.lock_account(ctx.conn, ctx.account_id)  # one new set of the account at a time
    since = ctx.now - int(ctx.settings.limit_window * 1000)
    if case_queries.count_attachment_sets_since(ctx.conn, ctx.account_id, since) >= limit:
        raise ServiceError(
            "AttachmentLimitExceeded",
            "The limit for the number of attachment sets created in a short period of time "
            "has been exceeded.")
