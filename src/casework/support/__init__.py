"""AWS Support (botocore ``support``): handlers, tables and queries."""

from ..handlers import Registry

registry = Registry("support")

from . import plans  # noqa: E402, I001  (registers the guards and handlers)
from . import advisor, attachments, cases, catalog, limits, uploads  # noqa: E402

__all__ = ["advisor", "attachments", "cases", "catalog", "limits", "plans", "registry", "uploads"]
