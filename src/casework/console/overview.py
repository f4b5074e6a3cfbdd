"""The overview: open AWS Support cases by status and severity, the customers waiting
longest for an answer, and Connect Cases SLAs at risk, as small inline SVG charts."""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..cases import slas
from ..store.engine import now_ms
from ..support.agent import AGENT
from ..support.catalog import load_catalog
from . import queries
from .web import Pages

WAITING_SHOWN = 10
SLA_SCAN = 2000  # newest SLA items looked at
AT_RISK_MS = 3600 * 1000  # an active SLA whose target is within the hour is at risk
BAR_COLORS = ("#0b5cad", "#6b3a00", "#4a1772", "#14532d", "#7f1d1d", "#0b3d75", "#555f6b")


def bar_chart(pairs: list[tuple[str, int]], label: str) -> dict:
    """Bars of a horizontal chart (label, count, width in %, colour) for the template."""
    top = max((count for _, count in pairs), default=0) or 1
    return {"label": label, "total": sum(c for _, c in pairs), "bars": [
        {"name": name, "count": count, "width": round(100 * count / top, 1),
         "color": BAR_COLORS[i % len(BAR_COLORS)]} for i, (name, count) in enumerate(pairs)]}


class OverviewPages:
    def __init__(self, pages: Pages):
        self.pages = pages
        # Most severe first, as the catalog orders them from least to most.
        levels = list(load_catalog(pages.settings.catalog).severity_levels)
        self.severity_order = {code: -i for i, code in enumerate(levels)}

    def routes(self) -> list[Route]:
        return [Route("/console/overview", self.pages.page(self.overview), methods=["GET"])]

    async def overview(self, request: Request, agent) -> Response:
        now = now_ms()

        def read(conn):
            return (queries.open_case_counts(conn, agent.accounts),
                    queries.oldest_unanswered(conn, agent.accounts, AGENT, WAITING_SHOWN),
                    queries.sla_items(conn, agent.accounts, SLA_SCAN))

        counts, waiting, sla_rows = await self.pages.runner.read(read)
        by_status: dict[str, int] = {}
        by_severity: dict[str, int] = {}
        for status, severity, count in counts:
            by_status[status] = by_status.get(status, 0) + count
            by_severity[severity] = by_severity.get(severity, 0) + count
        at_risk = []
        for row in sla_rows:
            content = orjson.loads(row.content)
            state = slas.status(content, now)
            if state == "Overdue" or (state == "Active" and content["targetTime"] - now
                                      <= AT_RISK_MS):
                at_risk.append({"name": content["name"], "status": state,
                                "target": content["targetTime"], "case_id": row.case_id,
                                "domain_id": row.domain_id, "account_id": row.account_id})
        at_risk.sort(key=lambda item: item["target"])
        return self.pages.render(
            request, "overview.html",
            by_status=bar_chart(sorted(by_status.items(), key=lambda kv: -kv[1]),
                                "Open cases by status"),
            by_severity=bar_chart([(code, by_severity[code]) for code in sorted(
                by_severity, key=lambda code: (self.severity_order.get(code, 99), code))],
                "Open cases by severity"),
            waiting=waiting, now=now, at_risk=at_risk[:20],
            risk_chart=bar_chart([(s, sum(1 for i in at_risk if i["status"] == s))
                                  for s in ("Overdue", "Active")], "SLAs at risk"))
