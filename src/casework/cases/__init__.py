"""Amazon Connect Cases (botocore ``connectcases``): handlers, tables and queries."""

from ..handlers import Registry

registry = Registry("connectcases")

from . import domains, fields  # noqa: E402  (registers the handlers)

__all__ = ["domains", "fields", "registry"]
