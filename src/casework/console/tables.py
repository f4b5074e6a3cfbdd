"""The agent console's tables: agents (people who answer cases), their sign-in sessions, and the
sign-in failures of e-mails no agent has."""

from sqlalchemy import BigInteger, Boolean, Column, ForeignKey, Index, Integer, String, Table, Text

from ..store.tables import metadata

agents = Table(
    "console_agents",
    metadata,
    Column("agent_id", Integer, primary_key=True, autoincrement=True),
    Column("email", String(320), nullable=False, unique=True),  # stored lower-cased
    Column("password_hash", Text, nullable=False),  # scrypt$N$r$p$salt$hash (passwords.py)
    Column("all_accounts", Boolean, nullable=False),
    Column("accounts", Text, nullable=False),  # JSON list of granted account ids
    Column("created_at", BigInteger, nullable=False),
    # Sign-in failures in a row; at LOCKOUT_FAILURES the agent is locked until locked_until.
    Column("failed_signins", Integer, nullable=False),
    Column("locked_until", BigInteger),
)

sessions = Table(
    "console_sessions",
    metadata,
    # SHA-256 of the cookie's value: a copy of the table signs nobody in.
    Column("token_hash", String(64), primary_key=True),
    Column("agent_id", Integer, ForeignKey("console_agents.agent_id", ondelete="CASCADE"),
           nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=False),
    Index("ix_console_sessions_agent", "agent_id"),
)

# Sign-in failures with e-mails no agent has, counted as an agent's are (failed_signins,
# locked_until), in 2**20 buckets of the e-mail's keyed digest (queries.unknown_attempts): an
# unknown e-mail is locked after as many failures as an agent, so the answers tell nobody which
# agents exist, and sign-ins with made-up e-mails cannot grow the table past them.
unknown_signins = Table(
    "console_unknown_signins",
    metadata,
    Column("bucket", Integer, primary_key=True, autoincrement=False),
    Column("failed_signins", Integer, nullable=False),
    Column("locked_until", BigInteger),
)
