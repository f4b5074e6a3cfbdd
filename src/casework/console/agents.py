"""The work of ``casework agents``: people who sign in to the console, and what they see."""

from __future__ import annotations

import re

import orjson

from ..store import Store
from ..store.engine import now_ms
from . import queries
from .passwords import hash_password

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
ACCOUNT = re.compile(r"^[0-9]{12}$")


class AgentError(ValueError):
    """The command cannot be done; the message says why."""


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.match(email):
        raise AgentError(f"{email!r} is not an e-mail address")
    return email


def parse_accounts(text: str | None) -> list[str]:
    ids = [part.strip() for part in (text or "").split(",") if part.strip()]
    bad = [part for part in ids if not ACCOUNT.match(part)]
    if bad:
        raise AgentError(f"{bad[0]!r} is not a 12-digit account id")
    return sorted(set(ids))


def create(store: Store, email: str, account_ids: list[str], all_accounts: bool,
           password: str) -> None:
    email = normalize_email(email)
    hashed = hash_password(password)
    with store.transaction() as conn:
        if queries.find_agent_by_email(conn, email) is not None:
            raise AgentError(f"an agent {email} already exists")
        queries.insert_agent(conn, email, hashed, all_accounts, account_ids, now_ms())


def listing(store: Store) -> list[dict]:
    with store.transaction(write=False) as conn:
        rows = queries.list_agents(conn)
    now = now_ms()
    return [{"email": row.email,
             "accounts": "*" if row.all_accounts else ",".join(orjson.loads(row.accounts)),
             "locked": row.locked_until is not None and row.locked_until > now}
            for row in rows]


def delete(store: Store, email: str) -> None:
    email = normalize_email(email)
    with store.transaction() as conn:
        if not queries.delete_agent(conn, email):
            raise AgentError(f"no agent {email}")


def reset_password(store: Store, email: str, password: str) -> None:
    email = normalize_email(email)
    hashed = hash_password(password)
    with store.transaction() as conn:
        if not queries.set_password(conn, email, hashed):
            raise AgentError(f"no agent {email}")
