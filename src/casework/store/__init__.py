"""Persistence: the SQLAlchemy engine, transactions and migrations (SQLite or PostgreSQL)."""

from .engine import Store

__all__ = ["Store"]
