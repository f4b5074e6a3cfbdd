"""The whole schema: importing this module registers every service's tables on one metadata."""

from .cases import tables as _cases_tables  # noqa: F401
from .console import tables as _console_tables  # noqa: F401
from .outbox import tables as _outbox_tables  # noqa: F401
from .store.tables import metadata
from .support import tables as _support_tables  # noqa: F401  (registers the tables)

__all__ = ["metadata"]
