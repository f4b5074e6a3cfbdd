"""Access keys: secrets sealed at rest, the principal a key speaks for, and what it may call.

**Sealing.** Secret access keys are kept encrypted (AES-256-GCM, the access key id as
associated data, so a sealed secret cannot be moved to another key's row) with a master key
that is never in the database: ``CASEWORK_MASTER_KEY`` (32 bytes, base64) when set, else the
file ``master.key`` in the data directory, created 0600 on first use. The database keeps a
fingerprint of the master key (an HMAC, which reveals nothing of it), so a process started with
another master key refuses to start instead of failing every signature. Secrets written in
plaintext (databases from before sealing, the default ``test`` key of a fresh database) are
sealed at the next start.

**Principals.** A key speaks for the account's root user or for an IAM-style principal,
``role/<name>`` or ``user/<name>``; AWS Support signs customer communications with it
(``AdminRole (Role) <email>``).

**Allowances.** A key may carry IAM-style action patterns (``connectcases:Get*``,
``support:Describe*``, ``*``; ``cases:`` is accepted for Connect Cases, its IAM prefix); a call
no pattern matches is refused before anything else happens.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from .store.tables import access_keys, accounts, server_secrets
from .wire.errors import ServiceError

log = logging.getLogger("casework.keys")

KEY_FILE = "master.key"
MASTER_KEY_ENV = "CASEWORK_MASTER_KEY"
_CHECK_NAME = "master-key-fingerprint"
_SEALED_PREFIX = "v1:"
DEFAULT_KEY_ID = DEFAULT_SECRET = "test"
DEFAULT_ACCOUNT = "000000000000"


class MasterKeyError(Exception):
    """The master key is missing, malformed or not the one this database was sealed with."""


# --- the master key and sealing ------------------------------------------------------------


class MasterKey:
    """The key that seals secret access keys."""

    def __init__(self, raw: bytes, source: str):
        if len(raw) != 32:
            raise MasterKeyError(f"{source}: the master key must be 32 bytes")
        self._aead = AESGCM(raw)
        self.source = source
        self.fingerprint = hmac.new(raw, b"casework master key fingerprint",
                                    hashlib.sha256).hexdigest()

    def __repr__(self) -> str:  # never the key itself
        return f"MasterKey(source={self.source!r})"

    def seal(self, access_key_id: str, secret: str) -> str:
        nonce = secrets.token_bytes(12)
        sealed = self._aead.encrypt(nonce, secret.encode(), _aad(access_key_id))
        return _SEALED_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()

    def open(self, access_key_id: str, sealed: str) -> str:
        if not sealed.startswith(_SEALED_PREFIX):
            raise MasterKeyError(f"access key {access_key_id}: unknown sealing format")
        blob = base64.urlsafe_b64decode(sealed[len(_SEALED_PREFIX):])
        return self._aead.decrypt(blob[:12], blob[12:], _aad(access_key_id)).decode()


def _aad(access_key_id: str) -> bytes:
    return b"casework access key\0" + access_key_id.encode()


def _decode_key(text: str, source: str) -> bytes:
    text = text.strip()
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=False)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 32:
        raise MasterKeyError(f"{source} must be 32 random bytes in base64 "
                             "(for example the output of `openssl rand -base64 32`)")
    return raw


def load_master_key(data_dir: Path, env_value: str | None) -> MasterKey:
    """The master key: ``CASEWORK_MASTER_KEY`` if given, else ``<data dir>/master.key``,
    created (0600, never readable by anyone else) if it does not exist yet."""
    if env_value:
        return MasterKey(_decode_key(env_value, MASTER_KEY_ENV), MASTER_KEY_ENV)
    path = Path(data_dir) / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        os.chmod(path, 0o600)
        return MasterKey(_decode_key(path.read_text(), str(path)), str(path))
    with os.fdopen(fd, "w") as out:
        out.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        out.flush()
        os.fsync(out.fileno())
    return MasterKey(_decode_key(path.read_text(), str(path)), str(path))


def claim_database(conn: Connection, master: MasterKey) -> None:
    """Record the master key's fingerprint in a new database; refuse a different key."""
    query = select(server_secrets.c.value).where(server_secrets.c.name == _CHECK_NAME)
    known = conn.scalar(query)
    if known is None:
        try:
            with conn.begin_nested():
                conn.execute(insert(server_secrets).values(name=_CHECK_NAME,
                                                           value=master.fingerprint))
            return
        except IntegrityError:  # another process claimed it first: compare with theirs
            known = conn.scalar(query)
    if not hmac.compare_digest(known, master.fingerprint):
        raise MasterKeyError(
            f"the master key from {master.source} is not the one this database's secrets were "
            f"sealed with; give every process the same {MASTER_KEY_ENV} (or the same "
            f"{KEY_FILE} in a shared data directory)")


def seal_plaintext_secrets(conn: Connection, master: MasterKey) -> int:
    """Seal every secret still stored in plaintext; returns how many were."""
    rows = conn.execute(select(access_keys.c.access_key_id, access_keys.c.secret_access_key)
                        .where(access_keys.c.secret_sealed.is_(None))).all()
    for row in rows:
        conn.execute(update(access_keys)
                     .where(access_keys.c.access_key_id == row.access_key_id)
                     .values(secret_sealed=master.seal(row.access_key_id,
                                                       row.secret_access_key),
                             secret_access_key=None))
    return len(rows)


def remove_default_key(conn: Connection, master: MasterKey) -> bool:
    """Delete the out-of-the-box ``test``/``test`` key (``--no-default-key``); a key an
    operator made with the id ``test`` and another secret stays."""
    row = conn.execute(select(access_keys).where(access_keys.c.access_key_id == DEFAULT_KEY_ID)
                       ).first()
    if row is None or row.account_id != DEFAULT_ACCOUNT:
        return False
    secret = (master.open(DEFAULT_KEY_ID, row.secret_sealed) if row.secret_sealed is not None
              else row.secret_access_key)
    if secret != DEFAULT_SECRET:
        return False
    conn.execute(access_keys.delete().where(access_keys.c.access_key_id == DEFAULT_KEY_ID))
    return True


# --- key records ---------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRecord:
    """What the server needs to know about one access key."""

    secret: str = ""
    account_id: str = ""
    principal: str | None = None  # "role/AdminRole", "user/jane"; None: the root user
    allowed: tuple[str, ...] | None = None  # action patterns; None: every action
    email: str = ""  # the account's e-mail, fixed when the account is made

    def __repr__(self) -> str:  # never the secret
        return f"KeyRecord(account_id={self.account_id!r}, principal={self.principal!r})"


def find_key(conn: Connection, master: MasterKey, access_key_id: str) -> KeyRecord | None:
    """The key's record with its secret unsealed, or None if there is no such key."""
    row = conn.execute(select(access_keys, accounts.c.email)
                       .join(accounts, accounts.c.account_id == access_keys.c.account_id)
                       .where(access_keys.c.access_key_id == access_key_id)).first()
    if row is None:
        return None
    try:
        secret = (master.open(access_key_id, row.secret_sealed)
                  if row.secret_sealed is not None else row.secret_access_key)
    except (InvalidTag, MasterKeyError, ValueError):
        # A sealed secret that does not open (edited in the database, or moved to another
        # key's row): the key cannot sign anything, as if it did not exist.
        log.error("the sealed secret of access key %s does not open; refusing the key",
                  access_key_id)
        return None
    return KeyRecord(secret, row.account_id, row.principal, parse_allowed(row.allowed_actions),
                     row.email)


# --- principals ----------------------------------------------------------------------------

PRINCIPAL = re.compile(r"^(role|user)/([\w+=,.@-]{1,64})$")
_KINDS = {"role": "Role", "user": "User"}


def check_principal(text: str) -> str:
    """``role/NAME`` or ``user/NAME`` with IAM's name characters; raises ValueError."""
    if not PRINCIPAL.match(text):
        raise ValueError("must be role/NAME or user/NAME (IAM names: letters, digits and "
                         "+=,.@_-, at most 64)")
    return text


def principal_arn(account_id: str, principal: str | None) -> str:
    """The IAM ARN of a key's principal (the root user's without one)."""
    return f"arn:aws:iam::{account_id}:{principal or 'root'}"


def submitted_by(principal: str | None, email: str) -> str:
    """How AWS Support signs a customer communication: ``AdminRole (Role) <email>``.

    AWS documents the role and user forms; a key without a principal is the account's root
    user, written ``root (Root) <email>`` in the same form.
    """
    if principal is None:
        return f"root (Root) <{email}>"
    kind, _, name = principal.partition("/")
    return f"{name} ({_KINDS[kind]}) <{email}>"


# --- allowances ----------------------------------------------------------------------------

# IAM's action prefixes: Connect Cases is "cases" in IAM; "connectcases" (botocore's name) is
# accepted as well.
_PREFIXES = {"support": "support", "connectcases": "connectcases", "cases": "connectcases"}
_IAM_PREFIX = {"support": "support", "connectcases": "cases"}
_PATTERN = re.compile(r"^(\*|([a-z]+):([A-Za-z0-9*?]+))$")


def parse_allowed(text: str | None) -> tuple[str, ...] | None:
    """Stored comma-separated patterns as a tuple (None: everything allowed)."""
    if text is None:
        return None
    return tuple(part for part in text.split(",") if part)


def normalize_allowed(text: str, operations: dict[str, list[str]]) -> str:
    """Check ``--allow`` patterns against the models' operations; the text to store.

    ``operations`` maps a botocore service name to its operation names. A pattern that names
    no known service, or matches no operation, is refused: it would be a typo.
    """
    patterns = [part.strip() for part in text.split(",") if part.strip()]
    if not patterns:
        raise ValueError("give at least one pattern, e.g. 'connectcases:Get*' (or '*')")
    for pattern in patterns:
        match = _PATTERN.match(pattern)
        if match is None:
            raise ValueError(f"{pattern!r} is not SERVICE:ACTION (wildcards * and ?) or *")
        if pattern == "*":
            continue
        service = _PREFIXES.get(match[2].lower())
        if service is None:
            raise ValueError(f"{pattern!r}: unknown service {match[2]!r} (support, connectcases "
                             "or cases)")
        if not any(allowed((pattern,), service, name) for name in operations[service]):
            raise ValueError(f"{pattern!r} matches no {service} operation")
    return ",".join(patterns)


def allowed(patterns: tuple[str, ...] | None, service: str, operation: str) -> bool:
    """Whether an allowance admits ``operation`` of ``service`` (botocore service name).

    IAM matches actions without regard to case; ``*`` and ``?`` are its wildcards.
    """
    if patterns is None:
        return True
    wanted = operation.lower()
    for pattern in patterns:
        if pattern == "*":
            return True
        prefix, _, action = pattern.partition(":")
        if _PREFIXES.get(prefix.lower()) == service and fnmatchcase(wanted, action.lower()):
            return True
    return False


def check_allowed(record: KeyRecord | None, service: str, operation: str) -> None:
    """Raise AWS's AccessDeniedException unless the key's allowance admits the call.

    AWS Support (JSON 1.1) answers 400, Connect Cases (behind API Gateway) 403; both name the
    caller and the action, as IAM's denials do.
    """
    if record is None or allowed(record.allowed, service, operation):
        return
    arn = principal_arn(record.account_id, record.principal)
    action = f"{_IAM_PREFIX[service]}:{operation}"
    status = 400 if service == "support" else 403
    raise ServiceError("AccessDeniedException",
                       f"User: {arn} is not authorized to perform: {action}", status)


def open_keys(store, data_dir: Path, env_value: str | None, default_key: bool = True
              ) -> MasterKey:
    """At every start: load the master key, check it against the database, seal plaintext
    secrets and, with ``default_key`` false, remove the ``test`` key."""
    master = load_master_key(data_dir, env_value)
    with store.transaction() as conn:
        claim_database(conn, master)
        if not default_key:
            remove_default_key(conn, master)
        plaintext = conn.scalar(select(access_keys.c.access_key_id)
                                .where(access_keys.c.secret_sealed.is_(None)).limit(1))
    if plaintext is not None:
        _seal_and_scrub(store, master)
    return master


def _seal_and_scrub(store, master: MasterKey) -> None:
    """Seal plaintext secrets; on SQLite, zero the space they held and checkpoint the WAL so
    that no copy is left in the files (PostgreSQL keeps dead row versions until VACUUM)."""
    with store.engine.connect() as conn:
        raw = conn.connection.driver_connection if store.is_sqlite else None
        if raw is not None:  # outside any transaction: pysqlite runs in autocommit here
            raw.execute("PRAGMA secure_delete=ON")
        with conn.begin():
            seal_plaintext_secrets(conn, master)
        if raw is not None:
            raw.execute("PRAGMA secure_delete=OFF")
            raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
