"""Amazon Connect Cases (botocore ``connectcases``): handlers, tables and queries."""

from ..handlers import Registry

registry = Registry("connectcases")

from . import (  # noqa: E402  (registers the handlers)
    audit,
    case_records,
    contacts,
    domains,
    event_configuration,
    fields,
    layouts,
    related_items,
    rules,
    search,
    tags,
    templates,
)

__all__ = ["audit", "case_records", "contacts", "domains", "event_configuration", "fields",
           "layouts", "registry", "related_items", "rules", "search", "tags", "templates"]
