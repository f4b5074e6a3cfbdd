"""Amazon Connect Cases (botocore ``connectcases``): handlers, tables and queries."""

from ..handlers import Registry

registry = Registry("connectcases")

from . import (  # noqa: E402  (registers the handlers)
    audit,
    batch,
    case_records,
    contacts,
    domains,
    event_configuration,
    fields,
    layouts,
    merges,
    related_items,
    rules,
    search,
    tags,
    templates,
)

__all__ = ["audit", "batch", "case_records", "contacts", "domains", "event_configuration", "fields",
           "layouts", "merges", "registry", "related_items", "rules", "search", "tags", "templates"]
