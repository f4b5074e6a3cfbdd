"""Case event configuration: PutCaseEventConfiguration, GetCaseEventConfiguration.

The configuration is stored exactly as put (a Put replaces the whole of it) and answered back;
``cases/events.py`` reads it to decide what each case change publishes (nothing while
``enabled`` is false), when the server has an event sink (``--event-webhook``,
``--eventbridge-endpoint``).

Choices where AWS is silent: before any Put a domain answers ``{"enabled": false}`` and nothing
else (event streams are off until someone turns them on); ``caseData.fields`` must name fields
of the domain that exist and are not deleted, each once (a ValidationException naming the
others, as CreateCase does for its fields), since an event could never carry the value of a
field the domain does not have; a field deleted after the Put stays stored but is left out of
Get, as the model's DeleteField documentation says.
"""

from __future__ import annotations

from ..handlers import Context
from . import registry
from .common import load_domain
from .errors import invalid
from .fields import require_live_fields
from .queries import definitions, event_configuration
from .queries.domains import DEFINE

DEFAULT = {"enabled": False}


@registry.operation("PutCaseEventConfiguration", writes=True)
def put_case_event_configuration(ctx: Context, params: dict) -> dict:
    """Replace the domain's event-publishing configuration."""
    domain_id = load_domain(ctx, params["domainId"], DEFINE).domain_id
    configuration = params["eventBridge"]
    case_data = (configuration.get("includedData") or {}).get("caseData")
    if case_data is not None:
        ids = [item["id"] for item in case_data["fields"]]
        if len(set(ids)) != len(ids):
            raise invalid("includedData.caseData.fields lists a field more than once")
        require_live_fields(ctx, domain_id, ids, "includedData.caseData.fields")
    event_configuration.save(ctx.conn, domain_id, configuration, ctx.now)
    return {}


@registry.operation("GetCaseEventConfiguration", writes=False)
def get_case_event_configuration(ctx: Context, params: dict) -> dict:
    """The configuration last put, without fields deleted since; ``enabled: false`` before."""
    domain_id = load_domain(ctx, params["domainId"]).domain_id
    configuration = event_configuration.find(ctx.conn, domain_id) or dict(DEFAULT)
    case_data = (configuration.get("includedData") or {}).get("caseData")
    if case_data and case_data["fields"]:
        ids = [item["id"] for item in case_data["fields"]]
        found = definitions.find_many(ctx.conn, domain_id, "field", ids)
        case_data["fields"] = [{"id": f} for f in ids if f in found and not found[f]["deleted"]]
    return {"eventBridge": configuration}
