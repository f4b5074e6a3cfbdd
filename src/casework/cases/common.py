"""What every Connect Cases handler module shares: the domain check, times, pages, tags."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime

import orjson

from ..clock import iso_ms
from ..handlers import Context
from ..store.prepared import Later
from . import arns
from .errors import CASE, DOMAIN, not_found, quota
from .queries import case_records, definitions, domains
from .queries.search import SERVICE_MAINTAINED

# AWS documents that up to 100 layouts or templates can be deleted per domain; fields too here.
MAX_DELETED = 100


def at(ms: int | None) -> datetime | None:
    """Epoch milliseconds as the aware datetime the protocol layer formats."""
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


# Epoch milliseconds as the ISO 8601 string DateTime field values hold.
iso = iso_ms


def new_id() -> str:
    """A random (version 4) UUID as text, as ``str(uuid.uuid4())`` makes it, without the
    ``UUID`` object."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def load_domain(ctx: Context, domain_id: str, lock: str | None = None):
    """The caller's domain in the request's region, or 404: every domain-scoped operation
    starts here. A domain of another region is as unknown as on AWS, where each region's
    endpoint knows only its own domains.

    Operations that write pass ``lock``: ``domains.WRITE`` for changes inside the domain
    (cases, related items), ``domains.DEFINE`` for changes to its definitions and quotas,
    ``domains.DELETE`` to remove it (see ``queries.domains``).
    """
    return _checked_domain(ctx, domain_id, lock,
                           domains.find(ctx.conn, ctx.account_id, domain_id, lock))


def load_domain_later(ctx: Context, domain_id: str, lock: str | None = None) -> Later:
    """:func:`load_domain`, read with the request's next statement (one round trip less on
    PostgreSQL); its 404 is raised when it arrives, before that statement returns."""
    return domains.find_later(ctx.conn, ctx.account_id, domain_id, lock,
                              lambda found: _checked_domain(ctx, domain_id, lock, found))


def _checked_domain(ctx: Context, domain_id: str, lock: str | None, found):
    if found is None or found.region != ctx.region:
        raise _domain_not_found(domain_id)
    _note_domain(ctx, domain_id, found.region, found.definitions_version, lock)
    return found


def load_domain_case(ctx: Context, domain_id: str, case_id: str, *, lock: bool = False):
    """:func:`load_domain`, then the domain's case or 404, in one statement: what a request
    about one case starts with. Returns the case row (its domain is ``domain_id``).

    ``lock`` (every change to a case): the domain is held as ``domains.WRITE`` holds it, and
    the case until the transaction ends, so that changes to one case run one at a time."""
    found = case_records.find_with_domain(ctx.conn, ctx.account_id, domain_id, case_id,
                                          lock=lock)
    return _domain_case(ctx, domain_id, case_id, lock, found)


def load_domain_case_later(ctx: Context, domain_id: str, case_id: str, *,
                           lock: bool = False) -> Later:
    """:func:`load_domain_case`, read with the request's next statement (one round trip
    less on PostgreSQL); its 404s are raised when it arrives, before that statement
    returns."""
    return case_records.find_with_domain_later(
        ctx.conn, ctx.account_id, domain_id, case_id,
        lambda found: _domain_case(ctx, domain_id, case_id, lock, found), lock=lock)


def _domain_case(ctx: Context, domain_id: str, case_id: str, lock: bool, found):
    if found is None and lock:
        load_domain(ctx, domain_id, domains.WRITE)  # which one is missing: the domain...
        raise case_not_found(case_id)  # ... or the case
    if found is None or found.domain_region != ctx.region:
        raise _domain_not_found(domain_id)
    _note_domain(ctx, domain_id, found.domain_region, found.domain_definitions_version,
                 domains.WRITE if lock else None)
    if found.seq is None:
        raise case_not_found(case_id)
    return found


def case_not_found(case_id: str):
    """The 404 of a case the domain does not hold."""
    return not_found(CASE, case_id, f"Case {case_id} not found")


def _domain_not_found(domain_id: str):
    return not_found(DOMAIN, domain_id, f"Domain {domain_id} not found")


def _note_domain(ctx: Context, domain_id: str, region: str, version: int,
                 lock: str | None) -> None:
    ctx.memo[f"domain-region:{domain_id}"] = region
    if lock is None or lock == domains.WRITE:
        # Requests that change no definitions may reuse the ones this process has read
        # under the same version (queries/definitions.py).
        ctx.memo[f"definitions-version:{domain_id}"] = version


def find_definition(ctx: Context, domain_id: str, kind: str, item_id: str) -> dict | None:
    """``queries.definitions.find``, answered from what this process has read under the
    domain's definitions version when ``load_domain`` noted one (a request that changes no
    definitions), else from the database."""
    return definitions.find(ctx.conn, domain_id, kind, item_id,
                            version=ctx.memo.get(f"definitions-version:{domain_id}"))


def find_definitions(ctx: Context, domain_id: str, kind: str, item_ids) -> dict[str, dict]:
    """``queries.definitions.find_many``, kept as :func:`find_definition` says."""
    return definitions.find_many(ctx.conn, domain_id, kind, item_ids,
                                 version=ctx.memo.get(f"definitions-version:{domain_id}"))


def field_seqs(ctx: Context, domain_id: str, field_ids) -> dict[str, int]:
    """The definition seq of each of ``field_ids`` (or of a dict's keys) whose values the
    substring index holds: what it keys their documents by."""
    ids = [field_id for field_id in field_ids if field_id not in SERVICE_MAINTAINED]
    return {field_id: definition["seq"]
            for field_id, definition in find_definitions(ctx, domain_id, "field", ids).items()}


def region_of(ctx: Context, domain_id: str) -> str:
    """The region of one of the caller's domains (known once ``load_domain`` has run)."""
    region = ctx.memo.get(f"domain-region:{domain_id}")
    return region if region is not None else load_domain(ctx, domain_id).region


def arn_of(ctx: Context, domain_id: str, kind: str, item_id: str) -> str:
    """The ARN of a field, layout, template, case rule or case of the caller's domain."""
    return arns.item_arn(region_of(ctx, domain_id), ctx.account_id, domain_id, kind, item_id)


def related_item_arn(ctx: Context, domain_id: str, case_id: str, item_id: str) -> str:
    """The ARN of a related item of a case in the caller's domain."""
    return arns.related_item_arn(region_of(ctx, domain_id), ctx.account_id, domain_id, case_id,
                                 item_id)


_UNBOUND = ("nextToken", "maxResults")


def _bound_kind(kind: str, params: dict) -> str:
    """``kind`` bound to the request's domain, ids and filters (every member but the page
    ones), so that a token from another domain or another listing is refused, as SearchCases'
    tokens are bound to their search."""
    scope = {name: value for name, value in params.items() if name not in _UNBOUND}
    digest = hashlib.sha256(orjson.dumps(scope, option=orjson.OPT_SORT_KEYS, default=str))
    return f"{kind}/{digest.hexdigest()[:32]}"


def cursor(ctx: Context, params: dict, kind: str, default=0):
    """The keyset cursor inside ``nextToken``, or ``default`` on the first page.

    Also notes the token kind bound to this request's scope for :func:`next_token`.
    """
    bound = ctx.memo[("token-kind", kind)] = _bound_kind(kind, params)
    token = params.get("nextToken")
    if not token:
        return default
    return ctx.tokens.decode(bound, ctx.account_id, token)


def next_token(ctx: Context, kind: str, rows: list, limit: int, last_cursor) -> str | None:
    """A token for the page after ``rows`` when the page is full (None on the last page).

    Callers fetch ``limit + 1`` rows, so a full page only gets a token when more exist.
    """
    if len(rows) <= limit:
        return None
    return ctx.tokens.encode(ctx.memo[("token-kind", kind)], ctx.account_id, last_cursor)


def soft_delete(ctx: Context, domain_id: str, kind: str, item: dict) -> None:
    """Mark a field, layout or template deleted, within the per-domain deletion quota."""
    # The caller holds the domain with domains.DEFINE, so the count cannot change under it.
    if definitions.count(ctx.conn, domain_id, kind, deleted=True) >= MAX_DELETED:
        raise quota(f"At most {MAX_DELETED} {kind}s can be deleted per domain")
    definitions.mark_deleted(ctx.conn, item["seq"], ctx.now)
