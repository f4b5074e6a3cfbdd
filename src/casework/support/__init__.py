"""AWS Support (botocore ``support``): handlers, tables and queries."""

from ..handlers import Registry

registry = Registry("support")

# Guards run in the order they register: regions first (an endpoint that does not serve an
# operation refuses it before anything else), then plans (the subscription check).
from . import regions  # noqa: E402, I001  (registers the guards and handlers)
from . import plans  # noqa: E402
from . import advisor, attachments, cases, catalog, limits, uploads  # noqa: E402

__all__ = ["advisor", "attachments", "cases", "catalog", "limits", "plans", "regions", "registry",
           "uploads"]
