"""``casework seed``: fill a store fast with realistic AWS Support and Connect Cases data.

The rows are the rows the API would have written, in bulk: the domain, its fields, options and
template come from the real handlers; each Connect case gets the values CreateCase stores
(service-maintained ones included), its search-term document, its ``Case.Created`` audit event,
and ``--related-items-per-case`` related items (contacts, with their contact links, and
comments) each with its ``RelatedItem.Created`` event. AWS Support cases get a display id from
the account's counter and ``--communications-per-case`` communications.

Values are drawn from a seeded random generator (``--random-seed``), so two runs with the same
arguments hold the same titles, customers and contacts (ids and times differ). Customer ids
and contact ARNs are each shared by a few cases, as they are in a contact centre.

Run it while no server writes to the store: sequence numbers are assigned here, in bulk. On
SQLite the Connect cases go in as an exclusive bulk load (``store/bulk.py``), which refuses a
store another process has open.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import random
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from queue import Full

import orjson
from sqlalchemy import Connection, event, func, insert, select, text, update

from .cases import registry as cases_registry
from .cases.audit import related_item_changes
from .cases.common import iso
from .cases.queries import search as search_queries
from .cases.tables import (
    audit_events,
    case_values,
    cases,
    contact_links,
    definitions,
    domains,
    related_items,
)
from .config import Settings
from .handlers import Context
from .keys import principal_arn
from .store import Store
from .store.bulk import (
    PostgresCopyLoad,
    SqliteBulkLoad,
    copy_rows,
    copy_statement,
    ensure_unused,
    interrupted,
    move_serials,
)
from .store.engine import now_ms
from .store.sql import concurrent_writers
from .store.tables import accounts, counters
from .support.cases import DISPLAY_ID_BASE
from .support.catalog import load_catalog
from .support.tables import cases as support_cases
from .support.tables import communications, display_ids
from .tokens import TokenSigner

DOMAIN_NAME = "seed"
REGION = "us-east-1"
BATCH = 25000  # AWS Support cases per transaction
QUEUED_BATCH = 10000  # Connect cases per transaction of a bulk load, made by a second process
# A SQLite bulk load drops and rebuilds the indexes when it adds at least 1/DROP_INDEXES_AT of
# the cases already stored (of every domain); otherwise its rows go into the indexes as made.
DROP_INDEXES_AT = 4
WORDS = [
    "account", "address", "adjust", "agent", "alarm", "alert", "amount", "annual", "answer",
    "app", "appointment", "approval", "backup", "balance", "bank", "battery", "bill", "billing",
    "blocked", "booking", "broken", "browser", "bundle", "button", "cable", "cancel", "card",
    "carrier", "cart", "charge", "chat", "checkout", "claim", "code", "complaint", "confirm",
    "contract", "copy", "coupon", "credit", "customer", "damaged", "data", "date", "deal",
    "debit", "declined", "default", "delay", "delivery", "deposit", "device", "discount",
    "dispute", "double", "download", "driver", "duplicate", "email", "error", "exchange",
    "expired", "export", "failed", "fee", "file", "firmware", "fraud", "freeze", "gift", "group",
    "hardware", "help", "history", "hold", "import", "install", "invoice", "issue", "item", "key",
    "label", "language", "late", "leak", "license", "limit", "link", "locked", "login", "loyalty",
    "manual", "meter", "missing", "mobile", "modem", "monthly", "move", "network", "notice",
    "offer", "order", "outage", "overcharge", "package", "parcel", "partial", "password",
    "payment", "pending", "phone", "photo", "plan", "points", "portal", "price", "printer",
    "profile", "promo", "purchase", "quote", "rate", "receipt", "refund", "region", "register",
    "reminder", "renewal", "repair", "replace", "report", "request", "reset", "return", "review",
    "reward", "roaming", "router", "schedule", "screen", "seat", "security", "service", "setup",
    "shipment", "shipping", "signal", "sim", "size", "slow", "software", "speed", "statement",
    "status", "storage", "subscription", "support", "switch", "sync", "tablet", "tax", "ticket",
    "tracking", "transfer", "trial", "update", "upgrade", "usage", "user", "voucher", "wallet",
    "warranty", "wifi", "wrong",
]
CHANNELS = ("VOICE", "CHAT", "TASK", "EMAIL")
CUSTOM_FIELDS = [("Product", "Text"), ("Order total", "Number"), ("Priority customer", "Boolean"),
                 ("Due", "DateTime"), ("Tier", "SingleSelect"), ("Order page", "Url"),
                 ("Owner", "User")]
TIERS = ("bronze", "silver", "gold", "platinum")
SUPPORT_STATUSES = ("opened", "pending-customer-action", "reopened", "resolved",
                    "work-in-progress", "customer-action-completed")


@dataclass
class Counts:
    support_cases: int = 0
    communications: int = 0
    connect_cases: int = 0
    related_items: int = 0


_IDS = random.Random(secrets.randbits(64))  # ids differ on every run, content does not


def _uuid(_rng: random.Random | None = None) -> str:
    """A random version-4 UUID in its text form (what ``str(uuid.uuid4())`` gives)."""
    h = f"{_IDS.getrandbits(122):031x}"
    return (f"{h[:8]}-{h[8:12]}-4{h[12:15]}-{'89ab'[int(h[15], 16) & 3]}{h[16:19]}-"
            f"{h[19:31]}")


def _ensure_account(conn: Connection, account_id: str) -> str:
    email = conn.scalar(select(accounts.c.email).where(accounts.c.account_id == account_id))
    if email is None:
        email = f"support+{account_id}@example.com"
        conn.execute(insert(accounts).values(account_id=account_id, email=email,
                                             created_at=now_ms()))
    return email


def _next_seq(conn: Connection, table) -> int:
    return (conn.scalar(select(func.max(table.c.seq))) or 0) + 1


def _columns(table) -> list[str]:
    return [c.name for c in table.columns]


def _insert_statement(table) -> str:
    """SQLite's INSERT of positional rows holding every column of ``table``, in order."""
    names = _columns(table)
    return (f"INSERT INTO {table.name} ({', '.join(names)}) "
            f"VALUES ({', '.join('?' * len(names))})")


def _insert(conn: Connection, table, rows: list[tuple]) -> None:
    """Bulk insert of positional rows (every column of ``table``, in order): one
    ``executemany`` on SQLite, one ``COPY`` on PostgreSQL."""
    if not rows:
        return
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_insert_statement(table), rows)
        return
    copy_rows(conn, copy_statement(table.name, _columns(table)), rows)


# -- Connect Cases -------------------------------------------------------------------------------

class ConnectSeeder:
    """Creates (or reuses) the ``seed`` domain of an account and adds cases to it."""

    def __init__(self, store: Store, account_id: str, rng: random.Random):
        self.store, self.account_id, self.rng = store, account_id, rng
        self.instance = f"arn:aws:connect:{REGION}:{account_id}:instance/{_uuid(rng)}"
        self.agents = [f"{self.instance}/agent/{_uuid(rng)}" for _ in range(50)]
        self.principal = principal_arn(account_id, None)  # the account's root user
        # Words of values many cases share (agents, customers), and each agent's JSON.
        self._known_words: dict[str, list[str]] = {}
        self._performed: dict[str, tuple[str, str]] = {}

    def _ctx(self, conn: Connection) -> Context:
        return Context(conn=conn, account_id=self.account_id, access_key_id="seed",
                       region=REGION, settings=Settings(), tokens=TokenSigner("seed"),
                       now=now_ms())

    def _call(self, conn: Connection, operation: str, **params) -> dict:
        return cases_registry.handlers[operation].handler(self._ctx(conn), params)

    def prepare(self) -> None:
        """The domain, its custom fields, the Tier options and an Active template."""
        with self.store.transaction() as conn:
            _ensure_account(conn, self.account_id)
            found = conn.execute(select(domains.c.domain_id, domains.c.region).where(
                domains.c.account_id == self.account_id,
                domains.c.name == DOMAIN_NAME)).first()
            if found is None:
                self.domain_id = self._call(conn, "CreateDomain", name=DOMAIN_NAME)["domainId"]
                self.region = REGION
                fields = {name: self._call(conn, "CreateField", domainId=self.domain_id,
                                           name=name, type=kind)["fieldId"]
                          for name, kind in CUSTOM_FIELDS}
                self._call(conn, "BatchPutFieldOptions", domainId=self.domain_id,
                           fieldId=fields["Tier"], options=[
                               {"name": t.title(), "value": t, "active": True} for t in TIERS])
                self.template_id = self._call(conn, "CreateTemplate", domainId=self.domain_id,
                                              name="Seeded cases",
                                              status="Active")["templateId"]
            else:
                self.domain_id, self.region = found
                listed = self._call(conn, "ListFields", domainId=self.domain_id,
                                    maxResults=100)["fields"]
                fields = {f["name"]: f["fieldId"] for f in listed}
                self.template_id = next(
                    t["templateId"] for t in self._call(conn, "ListTemplates",
                                                        domainId=self.domain_id,
                                                        maxResults=100)["templates"]
                    if t["name"] == "Seeded cases")
            # Every field's definition seq: the substring index keys values by it.
            self.field_seqs = dict(conn.execute(select(definitions.c.item_id, definitions.c.seq)
                                                .where(definitions.c.domain_id == self.domain_id,
                                                       definitions.c.kind == "field")).all())
        self.fields = fields
        self.case_arn_prefix = (f"arn:aws:cases:{self.region}:{self.account_id}:domain/"
                                f"{self.domain_id}/case/")

    def values(self, case_id: str, created: int, updated: int, customer: str) -> dict:
        rng, f = self.rng, self.fields
        title = " ".join(rng.sample(WORDS, rng.randint(2, 5))).capitalize()
        agent = rng.choice(self.agents)
        status = "closed" if rng.random() < 0.3 else "open"
        found = {
            "title": {"stringValue": title},
            "customer_id": {"stringValue": customer},
            "status": {"stringValue": status},
            f["Product"]: {"stringValue": f"{rng.choice(WORDS)} {rng.randint(100, 999)}"},
            f["Order total"]: {"doubleValue": round(rng.uniform(5, 2000), 2)},
            f["Priority customer"]: {"booleanValue": rng.random() < 0.2},
            f["Due"]: {"stringValue": iso(updated + rng.randint(1, 30) * 86_400_000)},
            f["Tier"]: {"stringValue": rng.choice(TIERS)},
            f["Order page"]: {"stringValue":
                              f"https://shop.example.com/orders/{rng.randint(10**6, 10**7)}"},
            f["Owner"]: {"userArnValue": agent},
            "case_id": {"stringValue": case_id},
            "reference_number": {"stringValue": f"{rng.randrange(10**8):08d}"},
            "created_datetime": {"stringValue": iso(created)},
            "last_updated_datetime": {"stringValue": iso(updated)},
            "last_updated_user": {"userArnValue": agent},
        }
        if status == "closed":
            found["last_closed_datetime"] = {"stringValue": iso(updated)}
        return found

    def add(self, number: int, items_per_case: int, progress: Callable[[int], None]) -> int:
        """Add ``number`` cases with ``items_per_case`` related items each; returns items made.

        A second process (forked, so its generator continues this one's: the same content as
        one process would make) makes the rows while this one writes them. SQLite: through one
        exclusive connection (:class:`SqliteBulkLoad`) with the secondary indexes of the
        tables written dropped for the load and built once at the end. PostgreSQL: one
        transaction of ``COPY`` statements per batch (:class:`PostgresCopyLoad`).
        """
        rng = self.rng
        customers = max(1, number // 4)
        profile = f"arn:aws:profile:{REGION}:{self.account_id}:domains/seed/profiles/"
        customer_ids = [profile + uuid.UUID(int=rng.getrandbits(128)).hex
                        for _ in range(min(customers, 100_000))]
        plan = _Plan(customer_ids=customer_ids,
                     contact_pool=max(1, number * max(items_per_case, 1) // 3),
                     contact_prefix=f"{self.instance}/contact/", items_per_case=items_per_case)
        end = now_ms()
        # Cases were created over the last year, in order; each was last updated a little later.
        span = 365 * 86_400_000
        plan.step = max(1, span // max(number, 1))
        plan.start = end - span
        with self.store.transaction(write=False) as conn:
            first = (_next_seq(conn, cases), _next_seq(conn, related_items),
                     _next_seq(conn, audit_events))
        self.store.engine.dispose()  # the forked producer must not share a connection
        fork = multiprocessing.get_context("fork")
        queue = fork.Queue(maxsize=2)
        producer = fork.Process(target=self._produce, args=(queue, first, number, plan),
                                daemon=True)
        producer.start()
        made, done = 0, 0
        try:
            with self._load(number, first[0] - 1) as (load, statements):
                while done < number:
                    rows = queue.get()
                    if isinstance(rows, str):
                        raise RuntimeError(f"making the seed's rows failed: {rows}")
                    load.write(list(zip(statements, rows, strict=True)))
                    made += len(rows[3])
                    done += len(rows[0])
                    progress(len(rows[0]))
                load.finish()
        finally:
            if producer.is_alive():
                producer.kill()
            producer.join()
        return made

    @contextlib.contextmanager
    def _load(self, number: int, stored: int):
        """The bulk load of the store's kind, and its statement for each of ``_TABLES``."""
        if self.store.is_sqlite:
            # Rebuilding an index sorts all of its entries, old and new: worth it unless few
            # cases are added to many.
            with bulk_load(self.store, drop_indexes=number * DROP_INDEXES_AT >= stored) as load:
                yield load, [_SQLITE_SEARCH.get(table) or _insert_statement(table)
                             for table in _TABLES]
            return
        yield (PostgresCopyLoad(self.store, [cases.name, related_items.name, audit_events.name]),
               [_POSTGRES_SEARCH.get(table) or copy_statement(table.name, _columns(table))
                for table in _TABLES])

    def _produce(self, queue, first: tuple[int, int, int], number: int, plan: _Plan) -> None:
        """The producer process: every batch's rows, search documents as index text (and, for
        SQLite, keyed by last update, with the vocabulary's words and the substring index's
        documents)."""
        parent = os.getppid()
        sqlite = self.store.is_sqlite
        document_key, listed = search_queries.document_key, search_queries.listed
        try:
            mark = search_queries.scope(self.domain_id)
            case_seq, item_seq, event_seq = first
            done = 0
            while done < number:
                size = min(QUEUED_BATCH, number - done)
                rows = self._rows((case_seq, item_seq, event_seq), done, size, plan)
                documents, vocabulary, substrings = [], set(), []
                for seq, updated, words, values in rows[2]:
                    documents.append((document_key(seq, updated // 1000) if sqlite else seq,
                                      " ".join([mark + word for word in words])))
                    if sqlite:
                        vocabulary.update(listed(words))
                        substrings.extend(values)
                words = [(mark + word,) for word in sorted(vocabulary)]
                substrings.sort()  # in key order: each field's documents go to the end of its range
                _put(queue, (*rows[:2], documents, *rows[3:], words, substrings), parent)
                case_seq += size
                item_seq += len(rows[3])
                event_seq += len(rows[5])
                done += size
        except BaseException as error:  # reported by the writing process
            with contextlib.suppress(BaseException):
                _put(queue, f"{type(error).__name__}: {error}", parent)
        finally:
            queue.close()
            queue.join_thread()
            os._exit(0)  # no finalizers of the parent's objects in this copy

    def _rows(self, first: tuple[int, int, int], offset: int, size: int, plan: _Plan) -> tuple:
        """The rows of ``size`` cases (the ``offset``-th on of this run), positional, in
        ``_TABLES`` order; the search documents as ``(case seq, last updated (epoch ms),
        sorted words, substring documents as (key, text))``; the vocabulary and the substring
        documents, last in that order, are the producer's."""
        rng, domain_id = self.rng, self.domain_id
        case_seq, item_seq, event_seq = first
        case_rows, value_rows, documents, event_rows = [], [], [], []
        item_rows, link_rows = [], []
        owner = self.fields["Owner"]
        words_of = search_queries.words_of
        substring_key, indexed_substring, field_seqs = (
            search_queries.substring_key, search_queries.indexed_substring, self.field_seqs)
        known_words = self._known_words
        performed_by = self._performed
        customer_ids, contact_prefix = plan.customer_ids, plan.contact_prefix
        contact_pool, start, step = plan.contact_pool, plan.start, plan.step
        template_id = self.template_id
        add_value, add_event = value_rows.append, event_rows.append
        dumps = orjson.dumps
        for n in range(size):
            seq = case_seq + n
            case_id = _uuid(rng)
            created = start + (offset + n) * step
            updated = created + rng.randint(0, step)
            held = self.values(case_id, created, updated, rng.choice(customer_ids))
            agent = held[owner]["userArnValue"]
            case_rows.append((seq, domain_id, case_id, template_id, None, None, created,
                              plan.items_per_case))
            words: set[str] = set()
            for field_id, union in held.items():
                kind, value = next(iter(union.items()))
                if kind == "doubleValue":
                    add_value((seq, field_id, domain_id, kind, None, value, None))
                elif kind == "booleanValue":
                    add_value((seq, field_id, domain_id, kind, None, None, value))
                else:
                    add_value((seq, field_id, domain_id, kind, value, None, None))
                    found = known_words.get(value)
                    if found is None:
                        found = words_of(value)
                        if kind == "userArnValue" or field_id == "customer_id":
                            known_words[value] = found  # shared by many cases
                    words.update(found)
            documents.append((seq, updated, sorted(words), [
                (substring_key(field_seqs[field_id], seq), text)
                for field_id, union in held.items()
                if (text := indexed_substring(field_id, union)) is not None]))
            user, performed = performed_by.get(agent) or self._performer(agent)
            add_event((event_seq, domain_id, seq, _uuid(rng), "Case.Created", None, created,
                       performed, dumps([{"eventFieldId": f, "newValue": v}
                                         for f, v in held.items()]).decode(), None))
            event_seq += 1
            linked = set()
            for j in range(plan.items_per_case):
                item_id = _uuid(rng)
                at = created + j * 60_000
                if j % 2 == 0:
                    arn = contact_prefix + f"{rng.randrange(contact_pool):012d}"
                    if arn in linked:
                        arn = contact_prefix + _uuid(rng)
                    linked.add(arn)
                    item_type, content = "Contact", {"contactArn": arn,
                                                     "channel": rng.choice(CHANNELS),
                                                     "connectedToSystemTime": at}
                    link_rows.append((domain_id, arn, seq, item_seq))
                else:
                    item_type, content = "Comment", {
                        "body": " ".join(rng.sample(WORDS, 8)).capitalize() + ".",
                        "contentType": "Text/Plain"}
                item_rows.append((item_seq, domain_id, seq, item_id, item_type,
                                  dumps(content).decode(), user, None, at,
                                  search_queries.search_key(item_type, content)))
                add_event((event_seq, domain_id, seq, _uuid(rng), "RelatedItem.Created",
                           item_type, at, performed, dumps(related_item_changes(
                               item_id, item_type, None, content)).decode(), None))
                item_seq += 1
                event_seq += 1
        return case_rows, value_rows, documents, item_rows, link_rows, event_rows

    def _performer(self, agent: str) -> tuple[str, str]:
        """The ``created_by`` of an item and the ``performed_by`` of an event by ``agent``."""
        user = _USER.format(orjson.dumps(agent).decode())
        self._performed[agent] = found = (
            user, _PERFORMED.format(orjson.dumps(self.principal).decode(), user))
        return found


def _put(queue, item, parent: int) -> None:
    """Queue ``item`` for the writing process; end this one if that process is gone."""
    while True:
        try:
            queue.put(item, timeout=1)
            return
        except Full:
            if os.getppid() != parent:
                os._exit(1)


@dataclass
class _Plan:
    """What every batch of one ``add`` draws from."""

    customer_ids: list[str]
    contact_pool: int
    contact_prefix: str
    items_per_case: int
    start: int = 0
    step: int = 1


# The tables ``ConnectSeeder._rows`` fills, in the order of its answer, with the search-term
# documents and (SQLite) their vocabulary and the substring index's documents, written by the
# statements of each store's kind.
_DOCUMENTS, _WORDS, _SUBSTRINGS = "search documents", "search words", "substring documents"
_TABLES = (cases, case_values, _DOCUMENTS, related_items, contact_links, audit_events, _WORDS,
           _SUBSTRINGS)
_SQLITE_SEARCH = {_DOCUMENTS: search_queries.SQLITE_INSERT_DOCUMENT,
                  _WORDS: search_queries.SQLITE_ADD_WORDS,
                  _SUBSTRINGS: search_queries.SQLITE_INSERT_SUBSTRINGS}
_POSTGRES_SEARCH = {_DOCUMENTS: search_queries.POSTGRES_COPY_DOCUMENTS,
                    _WORDS: "(no vocabulary: its rows are always empty)",
                    _SUBSTRINGS: "(no substring index: its rows are always empty)"}


_USER = '{{"userArn":{}}}'
_PERFORMED = '{{"iamPrincipalArn":{},"user":{}}}'


def bulk_load(store: Store, drop_indexes: bool = True) -> SqliteBulkLoad:
    """The bulk load of Connect cases into a SQLite store (``store/bulk.py``); the store's own
    connections are closed first, so that the load has the database to itself."""
    store.engine.dispose()
    return SqliteBulkLoad(store.url.database, [t.name for t in _TABLES if not isinstance(t, str)],
                          drop_indexes, full_text=["cases_search_terms", "cases_search_substrings"])


def start(store: Store) -> bool:
    """Before seeding a SQLite store: refuse one that another connection has open (a server;
    ``StoreInUse``), and build the indexes of a bulk load that was cut short. Whether there
    was one."""
    if not store.is_sqlite:
        return False
    with store.engine.connect() as conn:
        pending = interrupted(conn.connection.driver_connection)
    store.engine.dispose()
    ensure_unused(store.url.database)
    if pending:
        with bulk_load(store) as load:
            load.finish()
    return pending


def bulk_mode(store: Store) -> None:
    """SQLite: a large page cache (the value indexes grow at random places) and no fsync per
    batch (a seed cut short by a crash is simply run again) on every new connection."""
    if not store.is_sqlite:
        return

    def pragmas(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA cache_size=-1000000")
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.close()

    store.engine.dispose()
    event.listen(store.engine, "connect", pragmas)


# -- AWS Support ---------------------------------------------------------------------------------

def seed_support(store: Store, account_id: str, number: int, per_case: int, rng: random.Random,
                 progress: Callable[[int], None]) -> int:
    """Add ``number`` AWS Support cases with ``per_case`` communications each."""
    catalog = [(code, category) for code, service in load_catalog(None).services.items()
               for category in service["categories"]]
    severities = ("low", "normal", "high", "urgent", "critical")
    end = now_ms()
    step = max(1, 365 * 86_400_000 // max(number, 1))
    start = end - 365 * 86_400_000
    made, done = 0, 0
    while done < number:
        size = min(BATCH, number - done)
        with store.transaction() as conn:
            email = _ensure_account(conn, account_id)
            numbers = _reserve_display_ids(conn, account_id, size)
            case_seq = _next_seq(conn, support_cases)
            comm_seq = _next_seq(conn, communications)
            case_rows, comm_rows = [], []
            for n in range(size):
                created = start + (done + n) * step
                year = datetime.fromtimestamp(created / 1000, UTC).year
                service, category = rng.choice(catalog)
                status = rng.choice(SUPPORT_STATUSES)
                case_rows.append((
                    case_seq + n, f"case-{account_id}-muen-{year}-{secrets.token_hex(8)}",
                    account_id, str(DISPLAY_ID_BASE + numbers[n]),
                    " ".join(rng.sample(WORDS, rng.randint(3, 6))).capitalize(), status,
                    service, category, rng.choice(severities), "en", "technical", email, "[]",
                    created, created + step if status == "resolved" else None))
                for k in range(per_case):
                    who = email if k % 2 == 0 else "Amazon Web Services"
                    comm_rows.append((comm_seq, case_seq + n,
                                      " ".join(rng.sample(WORDS, 12)).capitalize() + ".",
                                      who, "[]", created + k * 3_600_000))
                    comm_seq += 1
            _insert(conn, support_cases, case_rows)
            _insert(conn, communications, comm_rows)
            if not store.is_sqlite:
                move_serials(conn, (support_cases.name, communications.name))
        made += len(comm_rows)
        done += size
        progress(size)
    return made


def _reserve_display_ids(conn: Connection, account_id: str, number: int) -> list[int]:
    """``number`` new display-id numbers of the account, in increasing order: from its
    counter (SQLite), or from the sequence all accounts share (PostgreSQL; see
    ``support.queries.cases.next_display_number``)."""
    if concurrent_writers(conn):
        return list(conn.scalars(select(display_ids.next_value()).select_from(
            func.generate_series(1, number)).order_by(text("1"))))
    current = conn.scalar(select(counters.c.value).where(
        counters.c.account_id == account_id, counters.c.name == "display_id"))
    if current is None:
        conn.execute(insert(counters).values(account_id=account_id, name="display_id",
                                             value=number))
        current = 0
    else:
        conn.execute(update(counters).where(counters.c.account_id == account_id,
                                            counters.c.name == "display_id")
                     .values(value=current + number))
    return list(range(current + 1, current + number + 1))
