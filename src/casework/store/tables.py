"""Tables shared by every service: accounts, access keys and server secrets.

Each service package defines its own tables on the same :data:`metadata`, so Alembic sees
one schema.
"""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

accounts = Table(
    "accounts",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("email", String(320), nullable=False),
    Column("created_at", BigInteger, nullable=False),  # epoch milliseconds
)

access_keys = Table(
    "access_keys",
    metadata,
    Column("access_key_id", String(128), primary_key=True),
    # Plaintext only until a process holding the master key seals it (see casework.keys).
    Column("secret_access_key", String(128), nullable=True),
    Column("account_id", String(12), ForeignKey("accounts.account_id"), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("secret_sealed", String(512), nullable=True),  # AES-GCM under the master key
    Column("principal", String(200), nullable=True),  # "role/AdminRole", "user/jane"; None: root
    Column("allowed_actions", Text, nullable=True),  # comma-separated patterns; None: all
)

# Per-account counters (display ids, ...): one row per (account, name), bumped in the
# request's transaction so that numbers are unique without a read-then-write race.
counters = Table(
    "counters",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
)

server_secrets = Table(
    "server_secrets",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(128), nullable=False),
)

# Request limits shared by every server process on the database (``casework.limits``): one
# row per (account, limit), e.g. the token bucket of one operation, updated by one upsert.
limit_counters = Table(
    "limit_counters",
    metadata,
    Column("account_id", String(12), primary_key=True),
    Column("name", String(128), primary_key=True),
    Column("level", Float, nullable=False),  # tokens left in a bucket; calls in a window
    Column("at", BigInteger, nullable=False),  # epoch ms: last refill; start of the window
    Column("admitted", Boolean, nullable=False),  # whether the last call got through
)
