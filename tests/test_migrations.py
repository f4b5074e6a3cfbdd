"""The migration chain: what Alembic needs to run it on every database."""

from __future__ import annotations

from alembic.config import Config
from alembic.script import ScriptDirectory

from casework.store.engine import MIGRATIONS


def _scripts() -> ScriptDirectory:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


def test_revision_ids_fit_alembic_version_column():
    # alembic_version.version_num is VARCHAR(32): PostgreSQL refuses a longer id.
    too_long = [r.revision for r in _scripts().walk_revisions() if len(r.revision) > 32]
    assert too_long == []


def test_each_branch_has_one_head():
    # Five chains grow from the initial revision (support, uploads, connectcases, limits,
    # console), and the outbox has a base of its own; a migration chained onto the middle of
    # one would add another head.
    assert sorted(_scripts().get_heads()) == [
        "console_0002", "limits_0001", "outbox_0002", "pgw_0002", "search_0009",
        "uploads_0001"]
