"""Tables of the batch operations (remembered client tokens) and of case merges.

Both hang off the domain with ``ON DELETE CASCADE``, so DeleteDomain's final delete of the
domain row takes them along without the domain code knowing they exist. Case ids (not case
sequence numbers) are stored: a merge stays on record after either case is deleted, as the
rule "a secondary case is never merged twice" needs.
"""

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text

from ..store.tables import metadata
from .tables import ID

# One row per clientToken of BatchUpdateCase / BatchCreateRelatedItem: the hash of the request
# and the answer given, so that a retry gets the same answer and a reuse a ConflictException.
batch_requests = Table(
    "cases_batch_requests",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("domain_id", String(ID),
           ForeignKey("cases_domains.domain_id", ondelete="CASCADE"), nullable=False),
    Column("operation", String(32), nullable=False),
    Column("client_token", String(64), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("response", Text),  # JSON output, written in the same transaction as the work
    Column("created_at", BigInteger, nullable=False),
    # Unique: of two concurrent first tries, the second waits for the first and then reads it.
    Index("ix_cases_batch_requests_token", "domain_id", "operation", "client_token",
          unique=True),
    Index("ix_cases_batch_requests_age", "created_at"),
)

# One row per StartMergeCases. ``status`` is IN_PROGRESS until the merge worker has applied
# the merge (COMPLETED) or found that it no longer can (FAILED, e.g. a case was deleted).
merges = Table(
    "cases_merges",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("merge_id", String(ID), nullable=False),
    Column("domain_id", String(ID),
           ForeignKey("cases_domains.domain_id", ondelete="CASCADE"), nullable=False),
    Column("account_id", String(12), nullable=False),
    Column("primary_case_id", String(ID), nullable=False),
    Column("secondary_case_id", String(ID), nullable=False),
    Column("status", String(16), nullable=False),
    Column("request", Text, nullable=False),  # JSON: fieldIds, relatedItems, performedBy
    Column("started_at", BigInteger, nullable=False),
    Column("run_after", BigInteger, nullable=False),  # when the worker may apply it
    Column("attempts", Integer, nullable=False),
    Column("finished_at", BigInteger),
    Column("failure", Text),
    Index("ix_cases_merges_merge", "merge_id", unique=True),
    Index("ix_cases_merges_primary", "domain_id", "primary_case_id", "status"),
    Index("ix_cases_merges_secondary", "domain_id", "secondary_case_id", "status"),
    Index("ix_cases_merges_due", "status", "run_after"),
)
