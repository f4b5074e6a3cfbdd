"""AWS Support (botocore ``support``): handlers, tables and queries."""

from ..handlers import Registry

registry = Registry("support")

from . import attachments, cases  # noqa: E402  (registers the handlers)

__all__ = ["attachments", "cases", "registry"]
