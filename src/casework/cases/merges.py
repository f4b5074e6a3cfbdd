"""Case merges: StartMergeCases, GetMergeCasesStatus, and the worker that applies merges.

StartMergeCases checks everything the model documents (same case, closed cases, different
customers, fields that cannot be merged, 500 field values, the related-item quota, cases in a
running or earlier merge), records the merge as IN_PROGRESS and returns. A worker thread applies
it ``merge_duration`` seconds later in one transaction of its own: field values by the
configuration, the selected related-item types moved, the two cases linked by ConnectCase
related items, the secondary case closed, the merge marked COMPLETED. A crash before that
transaction commits leaves the merge IN_PROGRESS, and the next server start applies it; nothing
is ever half-applied. Several app processes on one PostgreSQL share the work (SKIP LOCKED).

Choices where AWS is silent: a merge that can no longer be applied when its time comes (a case
or the domain was deleted, the related-item quota would now be exceeded) is marked FAILED and
changes nothing; the model has no failed state, so GetMergeCasesStatus then answers 404 for both
cases, as for cases never merged, and both may be merged again. A field "the secondary case
doesn't have" is one it holds no value for. The primary keeps the newest of its Contact items
for a contact both cases have. A secondary's ConnectCase item that points at the primary is
dropped rather than moved (a case is never related to itself). Each case gets a ConnectCase
item pointing at the other unless it already has one; both are created by ``performedBy``.
Case rules are not re-applied to the primary's merged values: AWS merges values even into
fields the primary's template does not have. Audit history, every event with the merge's
``mergeMetadata``: a moved item is ``RelatedItem.Deleted`` on the secondary and
``RelatedItem.Created`` on the primary, a dropped one ``RelatedItem.Deleted``, each new link
``RelatedItem.Created``, and each case gets one ``Case.Merged`` event listing the values the
merge changed on it.
"""

from __future__ import annotations

import logging
import threading
import uuid

from ..handlers import Context
from ..store import Store
from ..store.engine import now_ms
from ..wire.errors import ServiceError
from . import audit, events, registry, slas
from .case_records import load_case
from .common import field_seqs, iso, load_domain, load_domain_case, related_item_arn
from .errors import CASE, conflict, invalid, not_found, quota
from .queries import case_records, definitions, domains, related_items, tags
from .queries import merges as merge_queries
from .queries.domains import WRITE

log = logging.getLogger(__name__)

MERGEABLE_SYSTEM = frozenset({"assigned_queue", "assigned_user", "summary", "case_reason"})
MAX_FIELD_VALUES = 500
MAX_ITEMS = 200  # related items per case, as CreateRelatedItem enforces
MOVABLE = {"comment": "Comment", "connectCase": "ConnectCase", "contact": "Contact",
           "custom": "Custom"}  # files and SLAs never move
CLOSED = {"stringValue": "closed"}
POLL_SECONDS = 1.0  # how often a worker looks for merges another process recorded
# The case events of the related-item changes a merge makes (cases/events.py).
EVENT_TYPES = {"RelatedItem.Created": "RELATED_ITEM.CREATED",
               "RelatedItem.Deleted": "RELATED_ITEM.DELETED"}
MAX_ATTEMPTS = 5  # unexpected errors (a bug, a lost database) before a merge is given up
RETRY_MS = 2000

# Set after a StartMergeCases commits, so that this process's worker runs it without waiting
# for its next poll; shared by every worker of the process (a spurious wake costs one query).
_wake = threading.Event()


class MergeImpossible(Exception):
    """The merge cannot be applied any more; it is marked FAILED."""


def _user_value(performed_by: dict | None) -> dict:
    user_arn = (performed_by or {}).get("userArn")
    return {"userArnValue": user_arn} if user_arn else {"emptyValue": {}}


def _is_mergeable(field: dict) -> bool:
    return field["namespace"] == "Custom" or field["id"] in MERGEABLE_SYSTEM


def _plan_items(primary_id: str, secondary_id: str, primary_items: list[dict],
                secondary_items: list[dict], moving: set[str]) -> dict:
    """What happens to each related item: which secondary items move to the primary, which
    are dropped (and whose tags go where), and which case needs a new link to the other."""
    links = {i["content"]["caseId"] for i in primary_items if i["type"] == "ConnectCase"}
    contacts: dict[str, dict] = {}
    for item in primary_items:  # newest first: the first one seen is the one kept
        if item["type"] == "Contact":
            contacts.setdefault(item["content"]["contactArn"], item)
    moves, drops, tag_merges = [], [], []
    for item in secondary_items:
        if item["type"] not in moving:
            continue
        if item["type"] == "ConnectCase":
            target = item["content"]["caseId"]
            if target in links or target == primary_id:
                drops.append(item)
                continue
            links.add(target)
        elif item["type"] == "Contact":
            kept = contacts.get(item["content"]["contactArn"])
            if kept is not None:
                drops.append(item)
                tag_merges.append((item, kept))
                continue
        moves.append(item)
    gone = {item["seq"] for item in moves + drops}
    secondary_links = {i["content"]["caseId"] for i in secondary_items
                       if i["type"] == "ConnectCase" and i["seq"] not in gone}
    return {"moves": moves, "drops": drops, "tag_merges": tag_merges,
            "link_primary": secondary_id not in links,
            "link_secondary": primary_id not in secondary_links,
            "primary_count": len(primary_items) + len(moves) + (secondary_id not in links),
            "secondary_count": (len(secondary_items) - len(gone)
                                + (primary_id not in secondary_links))}


def _check_quota(plan: dict, primary_id: str, secondary_id: str) -> None:
    for case_id, count in ((primary_id, plan["primary_count"]),
                           (secondary_id, plan["secondary_count"])):
        if count > MAX_ITEMS:
            raise quota(f"After the merge case {case_id} would have {count} related items; "
                        f"a case can have at most {MAX_ITEMS}")


def _moving_types(config: dict | None) -> set[str]:
    return {kind for member, kind in MOVABLE.items() if (config or {}).get(member)}


def _selected_fields(ctx: Context, domain_id: str, params: dict, secondary_id: str,
                     secondary_values: dict) -> list[str]:
    """The checked field ids of ``fieldsConfiguration``."""
    configs = params.get("fieldsConfiguration") or []
    if len(configs) > 1:
        raise invalid("fieldsConfiguration takes at most one entry, for the secondary case")
    if not configs:
        return []
    config = configs[0]
    if config["sourceCaseId"] != secondary_id:
        raise invalid(f"fieldsConfiguration sourceCaseId must be the secondary case "
                      f"{secondary_id}, not {config['sourceCaseId']}")
    ids = [item["id"] for item in config["fieldIds"]]
    if len(set(ids)) != len(ids):
        raise invalid("fieldsConfiguration lists a field more than once")
    found = definitions.find_many(ctx.conn, domain_id, "field", ids)
    for field_id in ids:
        field = found.get(field_id)
        if field is None or field["deleted"]:
            raise invalid(f"Field {field_id} does not exist in domain {domain_id}")
        if not _is_mergeable(field):
            raise invalid(f"Field {field_id} cannot be merged: only custom fields and "
                          f"{', '.join(sorted(MERGEABLE_SYSTEM))} can")
        if field_id not in secondary_values:
            raise invalid(f"The secondary case {secondary_id} has no value for field {field_id}")
    return ids


def _field_changes(ctx: Context, domain_id: str, selected: list[str], primary_values: dict,
                   secondary_values: dict) -> dict[str, dict]:
    """The primary's new values: selected fields from the secondary (emptied if it has none),
    other mergeable fields from the secondary where the primary holds no value."""
    candidates = set(selected) | set(secondary_values)
    fields = definitions.find_many(ctx.conn, domain_id, "field", candidates)
    changes = {f: secondary_values.get(f, {"emptyValue": {}}) for f in selected}
    for field_id in candidates - set(selected):
        field = fields.get(field_id)
        if (field is not None and not field["deleted"] and _is_mergeable(field)
                and field_id not in primary_values):
            changes[field_id] = secondary_values[field_id]
    return {f: v for f, v in changes.items()
            if primary_values.get(f, {"emptyValue": {}}) != v}


@registry.operation("StartMergeCases", writes=True)
def start_merge_cases(ctx: Context, params: dict) -> dict:
    """Check and record a merge of the secondary case into the primary; applied later."""
    domain_id = load_domain(ctx, params["domainId"], WRITE).domain_id
    primary = load_case(ctx, domain_id, params["caseId"])
    secondary_ids = params["secondaryCaseIds"]
    if len(secondary_ids) != 1:
        raise invalid("secondaryCaseIds takes exactly one case id")
    secondary = load_case(ctx, domain_id, secondary_ids[0])
    primary_id, secondary_id = primary.case_id, secondary.case_id
    if primary.seq == secondary.seq:
        raise invalid("A case cannot be merged into itself")
    merge_queries.lock_cases(ctx.conn, [primary.seq, secondary.seq])
    for merge in merge_queries.involving(ctx.conn, domain_id, [primary_id, secondary_id]):
        if merge["status"] == merge_queries.IN_PROGRESS:
            raise conflict(f"Case {merge['primary']} is already merging case "
                           f"{merge['secondary']}; wait for that merge to finish")
        raise conflict(f"Case {merge['secondary']} was merged into case {merge['primary']} "
                       f"and cannot be merged again")
    primary_values = case_records.values(ctx.conn, primary.seq)
    secondary_values = case_records.values(ctx.conn, secondary.seq)
    for case_id, held in ((primary_id, primary_values), (secondary_id, secondary_values)):
        if held.get("status") == CLOSED:
            raise invalid(f"Case {case_id} is closed; only open cases can be merged")
    customers = {held["customer_id"]["stringValue"]
                 for held in (primary_values, secondary_values) if "customer_id" in held}
    if len(customers) > 1:
        raise invalid("The two cases have different customers")
    selected = _selected_fields(ctx, domain_id, params, secondary_id, secondary_values)
    changes = _field_changes(ctx, domain_id, selected, primary_values, secondary_values)
    total = len({f for f in {**primary_values, **changes}
                 if "emptyValue" not in changes.get(f, primary_values.get(f, {}))})
    if total > MAX_FIELD_VALUES:
        raise invalid(f"After the merge case {primary_id} would hold {total} field values; "
                      f"a case can hold at most {MAX_FIELD_VALUES}")
    plan = _plan_items(primary_id, secondary_id,
                       related_items.for_case(ctx.conn, primary.seq),
                       related_items.for_case(ctx.conn, secondary.seq),
                       _moving_types(params.get("relatedItemsConfiguration")))
    _check_quota(plan, primary_id, secondary_id)
    merge_queries.insert_merge(ctx.conn, {
        "merge_id": str(uuid.uuid4()), "domain_id": domain_id, "account_id": ctx.account_id,
        "primary_case_id": primary_id, "secondary_case_id": secondary_id,
        "request": {"fieldIds": selected,
                    "relatedItems": params.get("relatedItemsConfiguration") or {},
                    "performedBy": params.get("performedBy")},
        "started_at": ctx.now,
        "run_after": ctx.now + int(ctx.settings.merge_duration * 1000)})
    ctx.after_commit.append(_wake.set)
    return {}


@registry.operation("GetMergeCasesStatus", writes=False)
def get_merge_cases_status(ctx: Context, params: dict) -> dict:
    """IN_PROGRESS for both cases of a running merge, COMPLETED for a merged secondary."""
    domain_id = params["domainId"]
    case = load_domain_case(ctx, domain_id, params["caseId"])
    merge = merge_queries.status_of(ctx.conn, domain_id, case.case_id)
    if merge is None:
        raise not_found(CASE, case.case_id, f"Case {case.case_id} is not part of a merge")
    return {"status": merge["status"], "primaryCaseId": merge["primary"],
            "secondaryCaseIds": [merge["secondary"]]}


def _relink_contacts(ctx: Context, domain_id: str, case_seq: int, contact_arns: set[str]):
    """Point each contact's ListCasesForContact link at the case's newest item for it."""
    items = related_items.for_case(ctx.conn, case_seq)
    for contact_arn in contact_arns:
        newest = max((i["seq"] for i in items if i["type"] == "Contact"
                      and i["content"]["contactArn"] == contact_arn), default=None)
        related_items.unlink_contact(ctx.conn, domain_id, contact_arn, case_seq, newest)


def apply_merge(ctx: Context, merge: dict) -> None:
    """Apply a recorded merge in the caller's transaction (raises MergeImpossible)."""
    domain_id, request = merge["domain_id"], merge["request"]
    domain = domains.find(ctx.conn, merge["account_id"], domain_id)
    if domain is None:
        raise MergeImpossible(f"Domain {domain_id} was deleted")
    ctx.region = domain.region  # the worker's context has no request: act in the domain's region
    primary = case_records.find(ctx.conn, domain_id, merge["primary"])
    secondary = case_records.find(ctx.conn, domain_id, merge["secondary"])
    for case_id, row in ((merge["primary"], primary), (merge["secondary"], secondary)):
        if row is None:
            raise MergeImpossible(f"Case {case_id} was deleted before the merge ran")
    merge_queries.lock_cases(ctx.conn, [primary.seq, secondary.seq])
    primary_id, secondary_id = primary.case_id, secondary.case_id

    primary_items = related_items.for_case(ctx.conn, primary.seq)
    secondary_items = related_items.for_case(ctx.conn, secondary.seq)
    plan = _plan_items(primary_id, secondary_id, primary_items, secondary_items,
                       _moving_types(request["relatedItems"]))
    try:
        _check_quota(plan, primary_id, secondary_id)
    except ServiceError as error:
        raise MergeImpossible(error.message) from None

    def arn(case_id: str, item: dict) -> str:
        return related_item_arn(ctx, domain_id, case_id, item["id"])

    performed_by = request.get("performedBy")
    metadata = {"mergeEventId": merge["merge_id"], "primaryCaseId": primary_id,
                "secondaryCaseId": secondary_id}

    def history(case, event_type: str, item: dict, before, after) -> None:
        changed = audit.related_item_changes(item["id"], item["type"], before, after)
        audit.record(ctx, domain_id, case.seq, event_type, changed, user=performed_by,
                     related_item_type=item["type"], merge=metadata)
        events.related_item_changed(
            ctx, domain_id, case.case_id, EVENT_TYPES[event_type],
            {**item, "content": after if after is not None else before}, changed,
            performed_by)

    for item in plan["moves"]:
        merge_queries.move_item(ctx.conn, item["seq"], secondary.seq, primary.seq,
                                arn(secondary_id, item), arn(primary_id, item))
        history(secondary, "RelatedItem.Deleted", item, item["content"], None)
        history(primary, "RelatedItem.Created", item, None, item["content"])
    for dropped, kept in plan["tag_merges"]:
        extra = tags.of(ctx.conn, arn(secondary_id, dropped))
        extra_keys = extra.keys() - tags.of(ctx.conn, arn(primary_id, kept)).keys()
        tags.put(ctx.conn, domain_id, arn(primary_id, kept), {k: extra[k] for k in extra_keys})
    for item in plan["drops"]:
        related_items.delete_item(ctx.conn, item["seq"], secondary.seq)
        tags.remove_all(ctx.conn, arn(secondary_id, item))
        history(secondary, "RelatedItem.Deleted", item, item["content"], None)
    for needed, case, other_id in ((plan["link_primary"], primary, secondary_id),
                                   (plan["link_secondary"], secondary, primary_id)):
        if needed:
            link = {"id": str(uuid.uuid4()), "type": "ConnectCase",
                    "content": {"caseId": other_id}, "association_time": ctx.now}
            related_items.insert_item(ctx.conn, {
                "domain_id": domain_id, "case_seq": case.seq, "related_item_id": link["id"],
                "type": "ConnectCase", "content": link["content"], "created_by": performed_by,
                "association_time": ctx.now})
            history(case, "RelatedItem.Created", link, None, link["content"])
    contact_arns = {item["content"]["contactArn"] for item in plan["moves"] + plan["drops"]
                    if item["type"] == "Contact"}
    for case in (primary, secondary):
        _relink_contacts(ctx, domain_id, case.seq, contact_arns)

    # Values are read now, not when the merge was started, as AWS documents.
    primary_values = case_records.values(ctx.conn, primary.seq)
    secondary_values = case_records.values(ctx.conn, secondary.seq)
    changes = _field_changes(ctx, domain_id, request["fieldIds"], primary_values,
                             secondary_values)
    now, user = {"stringValue": iso(ctx.now)}, _user_value(performed_by)
    merged = {**changes, "last_updated_datetime": now, "last_updated_user": user}
    case_records.write_values(ctx.conn, domain_id, primary.seq, merged,
                              field_seqs(ctx, domain_id, merged), before=primary_values)
    slas.record_progress(ctx, primary.seq, changes)
    closing = {"status": CLOSED, "last_updated_datetime": now, "last_updated_user": user}
    if secondary_values.get("status") != CLOSED:
        closing["last_closed_datetime"] = now
    case_records.write_values(ctx.conn, domain_id, secondary.seq, closing,
                              field_seqs(ctx, domain_id, closing), before=secondary_values)
    slas.record_progress(ctx, secondary.seq, {"status": CLOSED})
    for case, before, writes in ((primary, primary_values, merged),
                                 (secondary, secondary_values, closing)):
        changed = audit.case_changes(before, writes)
        audit.record(ctx, domain_id, case.seq, "Case.Merged", changed, user=performed_by,
                     merge=metadata)
        events.case_changed(ctx, domain_id, case, "CASE.UPDATED", changed, performed_by,
                            {**before, **writes})


class MergeWorker:
    """Applies due merges in a daemon thread: at start (merges a crash left running), when
    woken by a StartMergeCases of this process, and every POLL_SECONDS."""

    def __init__(self, store: Store, settings) -> None:
        self.store = store
        self.settings = settings
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run_forever, name="case-merges",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread after the merge it is applying, if any."""
        self._stop.set()
        _wake.set()

    def _run_forever(self) -> None:
        while not self._stop.is_set():
            _wake.clear()  # before looking, so a wake during the run is not lost
            try:
                wait = self.run_due()
            except Exception:  # the database may be briefly away: look again later
                log.exception("looking for due case merges failed")
                wait = POLL_SECONDS
            _wake.wait(wait)

    def run_due(self) -> float:
        """Apply every due merge; returns seconds until the next check."""
        with self.store.transaction(write=False) as conn:
            due = merge_queries.due(conn, now_ms(), 50)
        for merge_id in due:
            if self._stop.is_set():
                return 0.0
            self.run_one(merge_id)
        with self.store.transaction(write=False) as conn:
            next_at = merge_queries.next_due(conn)
        if next_at is None:
            return POLL_SECONDS
        return min(POLL_SECONDS, max(0.0, (next_at - now_ms()) / 1000))

    def run_one(self, merge_id: str) -> None:
        """Apply one merge in its own transaction; mark it COMPLETED or FAILED."""
        try:
            with self.store.transaction() as conn:
                merge = merge_queries.take(conn, merge_id)
                if merge is None:
                    return  # done meanwhile, or another process is applying it
                # No request here: ARNs inside the domain name the domain's own region anyway.
                ctx = Context(conn=conn, account_id=merge["account_id"], access_key_id="",
                              region="", settings=self.settings, tokens=None, now=now_ms())
                try:
                    with conn.begin_nested():
                        apply_merge(ctx, merge)
                except (MergeImpossible, ServiceError) as error:
                    log.warning("case merge %s failed: %s", merge_id, error)
                    merge_queries.finish(conn, merge["seq"], merge_queries.FAILED, ctx.now,
                                         str(error))
                else:
                    merge_queries.finish(conn, merge["seq"], merge_queries.COMPLETED, ctx.now)
            for callback in ctx.after_commit:  # committed: e.g. wake the outbox for its events
                callback()
        except Exception as error:
            log.exception("case merge %s failed unexpectedly", merge_id)
            with self.store.transaction() as conn:
                attempts = merge_queries.retry_later(conn, merge_id, now_ms() + RETRY_MS,
                                                     repr(error))
                if attempts >= MAX_ATTEMPTS:
                    merge = merge_queries.take(conn, merge_id)
                    if merge is not None:
                        merge_queries.finish(conn, merge["seq"], merge_queries.FAILED,
                                             now_ms(), repr(error))


@registry.worker
def start_merge_worker(store: Store, settings) -> MergeWorker:
    """The app's merge worker, started with the app."""
    return MergeWorker(store, settings)
