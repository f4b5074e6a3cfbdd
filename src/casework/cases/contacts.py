"""ListCasesForContact: the cases linked to a contact through Contact related items.

Most recent link first (a case linked several times counts once, at its newest link); pages of
at most 10, the model's maximum, which is also the default. The listing reads one index range
of ``cases_contact_links`` so it costs O(log n) at any size.
"""

from __future__ import annotations

from ..handlers import Context
from . import registry
from .common import cursor, load_domain, next_token
from .queries import related_items

PAGE = 10


@registry.operation("ListCasesForContact", writes=False)
def list_cases_for_contact(ctx: Context, params: dict) -> dict:
    """The cases linked to ``contactArn``, most recent link first."""
    domain_id = load_domain(ctx, params["domainId"]).domain_id
    limit = params.get("maxResults") or PAGE
    rows = related_items.cases_for_contact(
        ctx.conn, domain_id, params["contactArn"],
        cursor(ctx, params, "cases-for-contact", None), limit + 1)
    page = rows[:limit]
    return {"cases": [{"caseId": r.case_id, "templateId": r.template_id} for r in page],
            "nextToken": next_token(ctx, "cases-for-contact", rows, limit,
                                    page[-1].link_seq if page else None)}
